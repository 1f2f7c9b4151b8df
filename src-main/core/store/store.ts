import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { AppError } from '../../common/errors'
import { latestSchemaVersion, migrations, type Migration } from './migrations'

export type Db = Database.Database

export interface OpenStoreOptions {
  /**
   * Path of a better_sqlite3.node built for the running runtime. The Electron host passes its
   * Electron-ABI build here; Node (CLI, browser host, tests) uses the package's own.
   */
  nativeBinding?: string
  /** Apply migrations up to this version only (migration tests). */
  targetVersion?: number
  /** How long a write waits for another process's write lock before STORE_LOCKED. */
  busyTimeoutMs?: number
}

/**
 * How long every connection (the app's, the import and maintenance workers', the CLI's) waits
 * for another writer. Writers keep their transactions to one batch (well under a second), so
 * waiting this long means something holds the store far longer than the studio ever does.
 */
export const BUSY_TIMEOUT_MS = 10_000

export const storeFileName = 'gcstudio.db'

/**
 * Maps a filesystem or SQLite failure to an error that names the folder and what to do.
 * Read-only folders and full disks are common on shared lab machines.
 */
export function storeIoError(err: unknown, where: string): AppError {
  const e = err as NodeJS.ErrnoException & { code?: string }
  const code = typeof e?.code === 'string' ? e.code : ''
  const detail = e instanceof Error ? e.message : String(err)
  if (
    code.startsWith('SQLITE_IOERR') ||
    ((code === 'ENOENT' || code === 'ENOTDIR' || code === 'EEXIST') && e.syscall === 'mkdir')
  ) {
    // A missing or read-only parent, a dangling link, a failing disk: in every case the store
    // cannot be written there, and the message says so in those words.
    return new AppError(
      'STORE_READONLY',
      `The data folder ${where} cannot be written: ${detail}. Choose a writable folder with --data-dir or GCSTUDIO_DATA_DIR.`,
    )
  }
  if (
    code === 'EACCES' ||
    code === 'EPERM' ||
    code === 'EROFS' ||
    code === 'SQLITE_READONLY' ||
    code.startsWith('SQLITE_READONLY') ||
    code === 'SQLITE_CANTOPEN'
  ) {
    return new AppError(
      'STORE_READONLY',
      `The data folder ${where} cannot be written (${code || detail}). Choose a writable folder with --data-dir or GCSTUDIO_DATA_DIR.`,
    )
  }
  if (code === 'ENOSPC' || code === 'SQLITE_FULL' || code === 'EDQUOT') {
    return new AppError(
      'DISK_FULL',
      `The disk holding ${where} is full (${code}). Free some space; nothing was half-written.`,
    )
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new AppError(
      'STORE_LOCKED',
      `The store in ${where} is busy: another process (a CLI import or inference beside the app?) held its write lock for longer than ${BUSY_TIMEOUT_MS / 1000} s. Nothing was changed; try again in a moment.`,
      { retryable: true },
    )
  }
  return new AppError('IO_ERROR', `${where}: ${detail}`)
}

/** SQLite's lock, I/O, full-disk and read-only failures, which deserve words rather than INTERNAL. */
export function isStoreFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return (
    typeof code === 'string' &&
    /^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CANTOPEN)/.test(code) &&
    !(err instanceof AppError)
  )
}

export function applyMigrations(db: Db, upTo = latestSchemaVersion): number {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > latestSchemaVersion) {
    throw new AppError(
      'CONFLICT',
      `The store was written by a newer GC Studio (schema ${current}, this one knows ${latestSchemaVersion}). Update GC Studio or use another data folder.`,
    )
  }
  const pending = migrations.filter((m: Migration) => m.version > current && m.version <= upTo)
  for (const m of pending) {
    const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number
    // Only settable outside a transaction; a rebuild drops tables that others reference.
    if (m.rebuild) db.pragma('foreign_keys = OFF')
    try {
      db.transaction(() => {
        db.exec(m.sql)
        if (m.rebuild) {
          m.rebuild(db)
          const broken = db.pragma('foreign_key_check') as unknown[]
          if (broken.length > 0)
            throw new Error(`Migration ${m.version} broke ${broken.length} foreign key(s).`)
        }
        db.pragma(`user_version = ${m.version}`)
      }).immediate()
    } finally {
      if (m.rebuild) db.pragma(`foreign_keys = ${foreignKeys}`)
    }
  }
  return db.pragma('user_version', { simple: true }) as number
}

/** Creates the data folder if needed and checks it can be written, before anything is created in it. */
export function ensureDataDir(dataDir: string): void {
  try {
    fs.mkdirSync(dataDir, { recursive: true })
    fs.accessSync(dataDir, fs.constants.W_OK)
  } catch (err) {
    throw storeIoError(err, dataDir)
  }
}

/**
 * Where a worker thread opens its own connection to the studio's store: the data folder, and the
 * native binding the host uses (Electron's ABI build), which a worker of that host needs too.
 */
export interface StoreLocation {
  dataDir: string
  nativeBinding?: string
}

/** Opens the store at `at` (see `openStore`). */
export function openStoreAt(at: StoreLocation): Db {
  return openStore(at.dataDir, at.nativeBinding ? { nativeBinding: at.nativeBinding } : {})
}

/** Opens the store at `at`, reads what `read` reads and closes it, whatever happens. */
export function readStoreAt<T>(at: StoreLocation, read: (db: Db) => T): T {
  const db = openStoreAt(at)
  try {
    return read(db)
  } finally {
    db.close()
  }
}

/** Opens (creating if needed) the store in `dataDir`: WAL, foreign keys, migrations applied. */
export function openStore(dataDir: string, options: OpenStoreOptions = {}): Db {
  ensureDataDir(dataDir)
  const file = path.join(dataDir, storeFileName)
  let db: Db
  try {
    db = new Database(file, options.nativeBinding ? { nativeBinding: options.nativeBinding } : {})
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    // Readers never wait in WAL; a writer waits this long for another writer (CLI + app).
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? BUSY_TIMEOUT_MS}`)
    db.pragma('cache_size = -65536')
    db.pragma('temp_store = MEMORY')
  } catch (err) {
    throw storeIoError(err, dataDir)
  }
  try {
    applyMigrations(db, options.targetVersion)
  } catch (err) {
    db.close()
    throw err instanceof AppError ? err : storeIoError(err, dataDir)
  }
  return db
}

/**
 * Gives back SQLite's page cache (up to 64 MB per connection, filled by a burst of grid pages);
 * the next query reads the pages back from the OS cache.
 */
export function releaseCache(db: Db): void {
  db.pragma('shrink_memory')
}

export function getSetting(db: Db, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
    { value: string } | undefined
  return row?.value
}

export function setSetting(db: Db, key: string, value: string): void {
  db.prepare(
    'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
  ).run(key, value)
}
