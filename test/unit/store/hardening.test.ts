/**
 * Issue 14, the store: another process holding the write lock (item 4), a stale studio.lock
 * whose pid now belongs to another program (item 18), data folders that cannot be written
 * (item 19).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { Studio } from '../../../src-main/core/studio'
import { createDispatcher } from '../../../src-main/core/dispatcher'
import type { Handlers } from '../../../src-main/core/dispatcher'
import { acquireInstanceLock, processStartTime } from '../../../src-main/core/store/instanceLock'
import { BUSY_TIMEOUT_MS, openStore, storeFileName } from '../../../src-main/core/store/store'
import { tempDir } from '../../helpers/fixtures'

const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})

/** Another process (a CLI import, say) that takes the store's write lock for `ms`. */
async function holdWriteLock(dataDir: string, ms: number): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const D = require('better-sqlite3'); const db = new D(process.argv[1]);
       db.exec('BEGIN IMMEDIATE'); db.prepare("INSERT INTO settings (key, value) VALUES ('held', 'x') ON CONFLICT(key) DO UPDATE SET value = 'y'").run();
       process.stdout.write('locked\\n');
       setTimeout(() => { db.exec('COMMIT'); db.close(); }, Number(process.argv[2]));`,
      path.join(dataDir, storeFileName),
      String(ms),
    ],
    { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
  )
  children.push(child)
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()))
}

describe('two processes writing the same store (item 4)', () => {
  it('waits for a short lock, and answers a lock held past the timeout with a retryable STORE_LOCKED', async () => {
    const dataDir = tempDir()
    const studio = Studio.open({ dataDir, host: 'browser', busyTimeoutMs: 400 })
    try {
      studio.db
        .prepare(
          `INSERT INTO datasets (name, kind, images_root, source, status) VALUES ('d', 'coco', '/i', '/s', 'ready')`,
        )
        .run()
      await holdWriteLock(dataDir, 150)
      const waited = await studio.dispatch('datasets:rename', { id: 1, name: 'after a wait' })
      expect(waited).toMatchObject({ ok: true, value: { name: 'after a wait' } })

      await holdWriteLock(dataDir, 3000)
      const locked = await studio.dispatch('datasets:rename', { id: 1, name: 'x' })
      expect(locked).toMatchObject({
        ok: false,
        error: {
          code: 'STORE_LOCKED',
          message: expect.stringMatching(
            /another process .* held its write lock .* Nothing was changed; try again in a moment\./,
          ),
          details: { retryable: true },
        },
      })
    } finally {
      await studio.close()
    }
  })

  it('sets the busy timeout on every connection the studio opens', () => {
    const db = openStore(tempDir())
    expect(db.pragma('busy_timeout', { simple: true })).toBe(BUSY_TIMEOUT_MS)
    db.close()
  })
})

describe('a stale studio.lock (item 18)', () => {
  it('takes over a lock whose pid now belongs to an unrelated process (start time differs)', async () => {
    const dataDir = tempDir()
    const other = spawn('sleep', ['30'])
    children.push(other)
    await new Promise((r) => other.once('spawn', r))
    expect(processStartTime(other.pid!)).toMatch(/^\d+$/)
    fs.writeFileSync(
      path.join(dataDir, 'studio.lock'),
      JSON.stringify({
        pid: other.pid,
        host: 'browser',
        startedAt: '2026-01-01T00:00:00.000Z',
        processStart: '1', // the crashed studio started at another time
      }),
    )
    const lock = acquireInstanceLock(dataDir, { host: 'browser' })
    const now = JSON.parse(fs.readFileSync(path.join(dataDir, 'studio.lock'), 'utf8')) as {
      pid: number
      processStart: string
    }
    expect(now.pid).toBe(process.pid)
    expect(now.processStart).toBe(processStartTime(process.pid))
    lock.release()
  })

  it('says how to proceed when it cannot tell (a lock written without a start time)', async () => {
    const dataDir = tempDir()
    const other = spawn('sleep', ['30'])
    children.push(other)
    await new Promise((r) => other.once('spawn', r))
    const file = path.join(dataDir, 'studio.lock')
    fs.writeFileSync(
      file,
      JSON.stringify({ pid: other.pid, host: 'browser', startedAt: '2026-01-01T00:00:00.000Z' }),
    )
    expect(() => acquireInstanceLock(dataDir, { host: 'browser' })).toThrow(
      `If no GC Studio is running (pid ${other.pid} is another program now), delete ${file} and start again.`,
    )
  })
})

describe('a data folder that cannot be written (item 19)', () => {
  it('says so in words when the folder cannot be created (a dangling link in its path)', () => {
    const dir = tempDir()
    fs.symlinkSync('/nonexistent/place', path.join(dir, 'link'))
    const target = path.join(dir, 'link', 'data')
    expect(() => openStore(target)).toThrow(
      `The data folder ${target} cannot be written: ENOENT: no such file or directory, mkdir '${target}'.`,
    )
  })

  it('turns SQLite disk I/O errors into the same sentence, through the dispatcher', async () => {
    const dispatch = createDispatcher(
      {
        'datasets:list': () => {
          throw new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE')
        },
      } as unknown as Handlers,
      () => {},
      '/data/here',
    )
    expect(await dispatch('datasets:list', {})).toEqual({
      ok: false,
      error: {
        code: 'STORE_READONLY',
        message:
          'The data folder /data/here cannot be written: disk I/O error. Choose a writable folder with --data-dir or GCSTUDIO_DATA_DIR.',
      },
    })
  })
})
