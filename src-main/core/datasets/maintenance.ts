import fs from 'node:fs'
import path from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { AppError } from '../../common/errors'
import type { GtExportResult } from '../labels/exportGt'
import { isInside } from '../paths'
import { datasetStore } from '../store/datasets'
import { imageStore } from '../store/images'
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
  /** What a ground-truth export wrote. */
  exported?: GtExportResult
}

/** What the maintenance worker is asked to run. */
export type DatasetTaskRequest =
  | { kind: 'delete'; datasetId: number }
  | { kind: 'check-files'; datasetId: number; imagesRoot: string }
  | {
      kind: 'export-gt'
      datasetId: number
      version?: number
      format: 'coco' | 'cityscapes'
      out: string
    }

/** The maintenance worker's messages to the job running it. */
export type TaskWorkerMessage =
  | { type: 'progress'; done: number; total: number | null; phase: string }
  | { type: 'task-done'; outcome: DatasetTaskOutcome }
  | { type: 'error'; error: { code: string; message: string } }

/** Images per write transaction: a few tens of milliseconds of SQLite's single write lock. */
const DELETE_CHUNK = 250

/**
 * Removes a dataset that is already hidden (status 'deleting'): its images and everything
 * hanging from them in chunks of short transactions, then the dataset row and what remains.
 * Cancelling leaves it hidden; the next start of the studio finishes the deletion.
 */
export function deleteDatasetTask(db: Db, datasetId: number): DatasetTask {
  return async (ctx) => {
    const datasets = datasetStore(db)
    const state = datasets.state(datasetId)
    if (!state) return { detail: 'Already removed.' }
    if (state.status !== 'deleting')
      throw new AppError('CONFLICT', `Dataset ${datasetId} is not marked for deletion.`)
    const ids = imageStore(db).ids(datasetId)
    const restoreForeignKeys = datasets.pauseForeignKeys()
    try {
      for (let k = 0; k < ids.length; k += DELETE_CHUNK) {
        if (ctx.signal.aborted) throw new AppError('CANCELLED', 'Cancelled.')
        datasets.removeImages(datasetId, ids[k]!, ids[Math.min(k + DELETE_CHUNK, ids.length) - 1]!)
        ctx.progress(Math.min(k + DELETE_CHUNK, ids.length), ids.length, 'Removing images')
        // Lets the cancel message in between chunks.
        await nextTurn()
      }
      datasets.removeRest(datasetId)
    } finally {
      restoreForeignKeys()
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
    const images = imageStore(db)
    const rows = images.onDisk(datasetId)
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
          const real = fs.realpathSync(path.join(root, r.fileName))
          fs.accessSync(real, fs.constants.R_OK)
          return !isInside(realRoot, real)
        } catch {
          return true
        }
      })
      const changed = slice.filter((r, i) => r.missing !== gone[i])
      if (changed.length > 0)
        db.transaction(() => {
          for (const r of changed) images.setMissing(r.id, !r.missing)
        }).immediate()
      slice.forEach((r, i) => {
        if (gone[i]) {
          missing++
          if (examples.length < 5) examples.push(r.fileName)
        }
      })
      ctx.progress(Math.min(start + step, rows.length), rows.length, 'Looking for image files')
      await nextTurn()
    }
    datasetStore(db).setMissingCount(datasetId, missing)
    return {
      detail: `${missing.toLocaleString('en-US')} of ${rows.length.toLocaleString('en-US')} image files missing`,
      missing,
      examples,
    }
  }
}
