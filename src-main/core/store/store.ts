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
}

export const storeFileName = 'gcstudio.db'

/**
 * Maps a filesystem or SQLite failure to an error that names the folder and what to do.
 * Read-only folders and full disks are common on shared lab machines.
 */
export function storeIoError(err: unknown, where: string): AppError {
  const e = err as NodeJS.ErrnoException & { code?: string }
  const code = e?.code ?? ''
  const detail = e instanceof Error ? e.message : String(err)
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
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new AppError(
      'STORE_LOCKED',
      `The store in ${where} is busy: another process holds a write lock (${detail}).`,
    )
  }
  return new AppError('IO_ERROR', `${where}: ${detail}`)
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
    db.transaction(() => {
      db.exec(m.sql)
      db.pragma(`user_version = ${m.version}`)
    }).immediate()
  }
  return db.pragma('user_version', { simple: true }) as number
}

/** Opens (creating if needed) the store in `dataDir`: WAL, foreign keys, migrations applied. */
export function openStore(dataDir: string, options: OpenStoreOptions = {}): Db {
  try {
    fs.mkdirSync(dataDir, { recursive: true })
    fs.accessSync(dataDir, fs.constants.W_OK)
  } catch (err) {
    throw storeIoError(err, dataDir)
  }
  const file = path.join(dataDir, storeFileName)
  let db: Db
  try {
    db = new Database(file, options.nativeBinding ? { nativeBinding: options.nativeBinding } : {})
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    // Readers never wait in WAL; a writer waits this long for another writer (CLI + app).
    db.pragma('busy_timeout = 5000')
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
