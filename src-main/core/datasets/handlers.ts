import fs from 'node:fs'
import { AppError } from '../../common/errors'
import type { Handlers } from '../dispatcher'
import type { Studio } from '../studio'
import { processAlive } from './datasetWriter'
import { getDataset, locateImage } from './queries'

interface DatasetRowState {
  id: number
  name: string
  status: 'importing' | 'ready' | 'deleting'
  import_pid: number | null
}

/**
 * Deleting a dataset and looking for its files again: both are long at train2017 scale, so
 * both run as jobs in the maintenance worker. A deleted dataset is hidden at once (status
 * 'deleting', which every query skips like an unfinished import) and removed in the background.
 */
export function datasetTaskHandlers(
  studio: Studio,
): Pick<Handlers, 'datasets:delete' | 'datasets:recheckFiles' | 'images:locate'> {
  const { db, jobs, bus } = studio
  return {
    'images:locate': (q) => locateImage(db, q, studio.browseCache),
    'datasets:delete': ({ id }) => {
      const row = db
        .prepare('SELECT id, name, status, import_pid FROM datasets WHERE id = ?')
        .get(id) as DatasetRowState | undefined
      if (!row) return { deleted: false, jobId: null, message: `Dataset ${id} does not exist.` }
      if (row.status === 'importing') {
        const importJob = jobs.importWriting(id)
        if (importJob) {
          // The import's own clean-up removes what it wrote; deleting under it would fail it
          // with a foreign-key error instead.
          jobs.cancel(importJob.id, 'Cancelled: the dataset was deleted while importing')
          return {
            deleted: true,
            jobId: importJob.id,
            message: `"${row.name}" was still importing: the import was cancelled and nothing of it is kept.`,
          }
        }
        if (
          row.import_pid !== null &&
          row.import_pid !== process.pid &&
          processAlive(row.import_pid)
        )
          throw new AppError(
            'CONFLICT',
            `"${row.name}" is being imported by another process (pid ${row.import_pid}, a \`gcstudio import\`?). Stop that import (Ctrl-C there); it removes what it wrote.`,
          )
      }
      const running = jobs.taskOn('delete', id)
      if (running) return { deleted: true, jobId: running.id, message: 'Already being removed.' }
      db.prepare(`UPDATE datasets SET status = 'deleting', import_pid = ? WHERE id = ?`).run(
        process.pid,
        id,
      )
      for (const run of studio.runs.list({ datasetId: id })) {
        if (run.status === 'running' || run.status === 'queued') studio.runs.cancel(run.id)
      }
      bus.emit('datasets:changed', { datasetId: id })
      const job = startDeletion(studio, id, row.name)
      return { deleted: true, jobId: job.id, message: `"${row.name}" is being removed.` }
    },
    'datasets:recheckFiles': async ({ id }) => {
      const d = getDataset(db, id)
      const job =
        jobs.taskOn('check-files', id) ??
        jobs.startDatasetTask(
          { kind: 'check-files', datasetId: id, imagesRoot: d.imagesRoot },
          `Look for the image files of ${d.name}`,
        )
      const end = await jobs.settled(job.id)
      const outcome = jobs.outcome(job.id)
      if (end.state !== 'done' || !outcome) {
        throw new AppError(
          end.state === 'cancelled' ? 'CANCELLED' : 'IO_ERROR',
          end.error?.message ?? `Looking for the files of ${d.name} was ${end.state}.`,
        )
      }
      return { missing: outcome.missing ?? 0, examples: outcome.examples ?? [], jobId: job.id }
    },
  }
}

/** Starts (or, at start-up, resumes) removing a dataset already marked 'deleting'. */
export function startDeletion(studio: Studio, datasetId: number, name: string) {
  const job = studio.jobs.startDatasetTask({ kind: 'delete', datasetId }, `Remove dataset ${name}`)
  void studio.jobs.settled(job.id).then((end) => {
    if (end.state === 'done')
      fs.promises
        .rm(studio.media.cacheDir(datasetId), { recursive: true, force: true })
        .catch(() => {})
  })
  return job
}

/** Deletions a closed or crashed studio left half done are finished in the background. */
export function resumeDeletions(studio: Studio): number {
  const rows = studio.db
    .prepare(`SELECT id, name, status, import_pid FROM datasets WHERE status = 'deleting'`)
    .all() as DatasetRowState[]
  let resumed = 0
  for (const r of rows) {
    if (r.import_pid !== null && r.import_pid !== process.pid && processAlive(r.import_pid))
      continue
    studio.db.prepare('UPDATE datasets SET import_pid = ? WHERE id = ?').run(process.pid, r.id)
    startDeletion(studio, r.id, r.name)
    resumed++
  }
  return resumed
}
