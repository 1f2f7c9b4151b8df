import fs from 'node:fs'
import path from 'node:path'
import { AppError } from '../../common/errors'
import { storeIoError } from './store'

export interface LockInfo {
  pid: number
  host: 'electron' | 'browser'
  url?: string
  startedAt: string
  /**
   * The holder's start time as the kernel records it (Linux /proc/<pid>/stat field 22), so a
   * pid reused by an unrelated process after a crash is not mistaken for a running studio.
   */
  processStart?: string
}

/** A process's start time on Linux (clock ticks since boot), or undefined elsewhere. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19]
  } catch {
    return undefined
  }
}

const lockName = 'studio.lock'
/** Lock files this process holds (two studios in one process are refused too). */
const held = new Set<string>()

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Whether the lock's holder still runs: its pid is alive and, where the kernel tells start
 * times, it is the same process that wrote the lock (pids are reused after a crash or reboot).
 */
function holderAlive(other: LockInfo): boolean {
  if (!alive(other.pid)) return false
  if (other.processStart === undefined) return true
  const now = processStartTime(other.pid)
  return now === undefined || now === other.processStart
}

/**
 * One studio (desktop window or browser host) per data folder: two would both run imports,
 * inference and demo set-up against the same store and confuse each other's jobs. The CLI
 * does not take this lock; it shares the store safely through SQLite's own locking.
 * A lock left by a process that died is taken over.
 */
export function acquireInstanceLock(dataDir: string, info: Omit<LockInfo, 'pid' | 'startedAt'>) {
  try {
    fs.mkdirSync(dataDir, { recursive: true })
  } catch (err) {
    throw storeIoError(err, dataDir)
  }
  const file = path.join(dataDir, lockName)
  const start = processStartTime(process.pid)
  const mine: LockInfo = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    ...(start ? { processStart: start } : {}),
    ...info,
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(mine), { flag: 'wx' })
      held.add(file)
      return {
        update(extra: Partial<LockInfo>) {
          Object.assign(mine, extra)
          fs.writeFileSync(file, JSON.stringify(mine))
        },
        release() {
          try {
            const current = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo
            if (current.pid === process.pid) fs.unlinkSync(file)
          } catch {
            // Already gone: nothing to release.
          }
          held.delete(file)
        },
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw storeIoError(err, dataDir)
      let other: LockInfo | undefined
      try {
        other = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo
      } catch {
        other = undefined
      }
      const live = other && (other.pid === process.pid ? held.has(file) : holderAlive(other))
      if (other && live) {
        const where = other.url ? ` at ${other.url}` : ''
        throw new AppError(
          'STORE_LOCKED',
          `Another GC Studio (${other.host}, pid ${other.pid}${where}, started ${other.startedAt}) is already using the data folder ${dataDir}. Use that one, or pass a different --data-dir. If no GC Studio is running (pid ${other.pid} is another program now), delete ${file} and start again.`,
          other,
        )
      }
      fs.rmSync(file, { force: true })
    }
  }
  throw new AppError('STORE_LOCKED', `Could not take the lock ${file}.`)
}
