import fs from 'node:fs'
import path from 'node:path'
import { AppError } from '../../common/errors'
import { storeIoError } from './store'

export interface LockInfo {
  pid: number
  host: 'electron' | 'browser'
  url?: string
  startedAt: string
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
  const mine: LockInfo = { pid: process.pid, startedAt: new Date().toISOString(), ...info }
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
      const live = other && (other.pid === process.pid ? held.has(file) : alive(other.pid))
      if (other && live) {
        const where = other.url ? ` at ${other.url}` : ''
        throw new AppError(
          'STORE_LOCKED',
          `Another GC Studio (${other.host}, pid ${other.pid}${where}, started ${other.startedAt}) is already using the data folder ${dataDir}. Use that one, or pass a different --data-dir.`,
          other,
        )
      }
      fs.rmSync(file, { force: true })
    }
  }
  throw new AppError('STORE_LOCKED', `Could not take the lock ${file}.`)
}
