import fs from 'node:fs'
import path from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { AppError } from '../../common/errors'
import { isInside } from '../paths'
import type { Db } from '../store/store'

/**
 * Long dataset work written as plain functions of a context, so any job system can run them:
 * the maintenance worker (`workers/datasetTaskWorker.ts`) runs them on its own connection,
 * off the event loop that serves the grid.
 */
export interface TaskContext {
  signal: AbortSignal
  progress(done: number, total: number | null, phase?: string): void
}

export type DatasetTask = (ctx: TaskContext) => Promise<DatasetTaskOutcome>

export interface DatasetTaskOutcome {
  detail: string
  missing?: number
  examples?: string[]
}

/** What the maintenance worker is asked to run. */
export type DatasetTaskRequest =
  | { kind: 'delete'; datasetId: number }
  | { kind: 'check-files'; datasetId: number; imagesRoot: string }

/** The maintenance worker's messages to the job running it. */
export type TaskWorkerMessage =
  | { type: 'progress'; done: number; total: number | null; phase: string }
  | { type: 'task-done'; outcome: DatasetTaskOutcome }
  | { type: 'error'; error: { code: string; message: string } }

/** Images per write transaction: a few tens of milliseconds of SQLite's single write lock. */
const DELETE_CHUNK = 250

interface ChildRef {
  table: string
  from: string
  to: string
}

/**
 * Every table that references `parent` by a foreign key, read from the schema itself so that
 * tables later migrations add (labels, comparisons, analytics) are removed with their parents.
 */
function childrenOf(db: Db, parent: string): ChildRef[] {
  return db
    .prepare(
      `SELECT m.name AS "table", f."from" AS "from", coalesce(f."to", 'id') AS "to"
       FROM sqlite_master m, pragma_foreign_key_list(m.name) f
       WHERE m.type = 'table' AND f."table" = ?`,
    )
    .all(parent) as ChildRef[]
}

/**
 * Deletes the rows of `table` matching `where` and, first, everything that references them,
 * depth first. Run with foreign keys off on this connection: SQLite would otherwise look up
 * every child table (most have no index on the parent column) once per deleted row, which is
 * what made a dataset with a run on it take 52 s.
 */
function deleteTree(
  db: Db,
  table: string,
  where: string,
  params: Record<string, number>,
  seen: string[] = [],
): void {
  if (seen.includes(table)) return
  for (const c of childrenOf(db, table)) {
    deleteTree(
      db,
      c.table,
      `"${c.from}" IN (SELECT "${c.to}" FROM "${table}" WHERE ${where})`,
      params,
      [...seen, table],
    )
  }
  db.prepare(`DELETE FROM "${table}" WHERE ${where}`).run(params)
}

/**
 * Removes a dataset that is already hidden (status 'deleting'): its images and everything
 * hanging from them in chunks of short transactions, then the dataset row and what remains.
 * Cancelling leaves it hidden; the next start of the studio finishes the deletion.
 */
export function deleteDatasetTask(db: Db, datasetId: number): DatasetTask {
  return async (ctx) => {
    const status = db.prepare('SELECT status FROM datasets WHERE id = ?').get(datasetId) as
      { status: string } | undefined
    if (!status) return { detail: 'Already removed.' }
    if (status.status !== 'deleting')
      throw new AppError('CONFLICT', `Dataset ${datasetId} is not marked for deletion.`)
    const ids = db
      .prepare('SELECT id FROM images WHERE dataset_id = ? ORDER BY id')
      .pluck()
      .all(datasetId) as number[]
    const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number
    db.pragma('foreign_keys = OFF')
    try {
      for (let k = 0; k < ids.length; k += DELETE_CHUNK) {
        if (ctx.signal.aborted) throw new AppError('CANCELLED', 'Cancelled.')
        const params = {
          d: datasetId,
          lo: ids[k]!,
          hi: ids[Math.min(k + DELETE_CHUNK, ids.length) - 1]!,
        }
        db.transaction(() =>
          deleteTree(db, 'images', 'dataset_id = @d AND id BETWEEN @lo AND @hi', params),
        ).immediate()
        ctx.progress(Math.min(k + DELETE_CHUNK, ids.length), ids.length, 'Removing images')
        // Lets the cancel message in between chunks.
        await nextTurn()
      }
      db.transaction(() => deleteTree(db, 'datasets', 'id = @d', { d: datasetId })).immediate()
    } finally {
      db.pragma(`foreign_keys = ${foreignKeys}`)
    }
    return { detail: `${ids.length.toLocaleString('en-US')} images removed` }
  }
}

/**
 * Sets every image's `missing` flag from the disk, both ways (files copied in after the import
 * are found), and the dataset's count. Meant for a worker thread: the checks are synchronous
 * there, so they neither block the event loop nor crowd libuv's shared thread pool, which
 * thumbnails and file reads of the main thread need.
 */
export function checkFilesTask(db: Db, datasetId: number, root: string): DatasetTask {
  return async (ctx) => {
    const rows = db
      .prepare(`SELECT id, file_name, missing FROM images WHERE dataset_id = ? ORDER BY id`)
      .all(datasetId) as { id: number; file_name: string; missing: number }[]
    const setMissing = db.prepare('UPDATE images SET missing = ? WHERE id = ?')
    const examples: string[] = []
    let missing = 0
    const step = 2000
    let realRoot = root
    try {
      realRoot = fs.realpathSync(root)
    } catch {
      // No images folder: every file is missing.
    }
    for (let start = 0; start < rows.length; start += step) {
      if (ctx.signal.aborted) throw new AppError('CANCELLED', 'Cancelled.')
      const slice = rows.slice(start, start + step)
      const gone = slice.map((r) => {
        // A link resolving outside the folder counts as not there, as at import.
        try {
          const real = fs.realpathSync(path.join(root, r.file_name))
          fs.accessSync(real, fs.constants.R_OK)
          return isInside(realRoot, real) ? 0 : 1
        } catch {
          return 1
        }
      })
      const changed = slice.filter((r, i) => r.missing !== gone[i])
      if (changed.length > 0)
        db.transaction(() => {
          for (const r of changed) setMissing.run(r.missing ? 0 : 1, r.id)
        }).immediate()
      slice.forEach((r, i) => {
        if (gone[i]) {
          missing++
          if (examples.length < 5) examples.push(r.file_name)
        }
      })
      ctx.progress(Math.min(start + step, rows.length), rows.length, 'Looking for image files')
      await nextTurn()
    }
    db.prepare('UPDATE datasets SET missing_image_count = ? WHERE id = ?').run(missing, datasetId)
    return {
      detail: `${missing.toLocaleString('en-US')} of ${rows.length.toLocaleString('en-US')} image files missing`,
      missing,
      examples,
    }
  }
}
