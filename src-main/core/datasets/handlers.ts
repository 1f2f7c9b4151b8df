import fs from 'node:fs'
import { Worker } from 'node:worker_threads'
import type { Job } from '../../common/api'
import { AppError } from '../../common/errors'
import type { Handlers } from '../dispatcher'
import type { JobContext } from '../jobs'
import { builtWorkerPath } from '../paths'
import { datasetStore } from '../store/datasets'
import type { Studio } from '../studio'
import type { DatasetTaskOutcome, DatasetTaskRequest, TaskWorkerMessage } from './maintenance'
import { processAlive } from './datasetWriter'
import { getDataset, locateImage } from './queries'

/**
 * Deleting a dataset and looking for its files again: both are long at train2017 scale, so
 * both run as jobs in the maintenance worker. A deleted dataset is hidden at once (status
 * 'deleting', which every query skips like an unfinished import) and removed in the background.
 */
/**
 * Runs a dataset task in the maintenance worker (its own store connection) as the work of a
 * job: progress forwarded, the job's cancel posted to the worker, the worker ended after.
 */
export function runDatasetTaskInWorker(
  studio: Studio,
  task: DatasetTaskRequest,
  ctx: JobContext,
): Promise<DatasetTaskOutcome> {
  const { dataDir, nativeBinding } = studio.options
  const worker = new Worker(builtWorkerPath('datasetTaskWorker'), {
    workerData: { dataDir, task, nativeBinding },
  })
  const onAbort = () => worker.postMessage({ type: 'cancel' })
  ctx.signal.addEventListener('abort', onAbort, { once: true })
  return new Promise<DatasetTaskOutcome>((resolve, reject) => {
    worker.on('message', (m: TaskWorkerMessage) => {
      if (m.type === 'progress')
        ctx.progress({
          done: m.done,
          total: m.total,
          phase: m.phase,
          unit: task.kind === 'export-gt' && task.format === 'coco' ? 'annotations' : 'images',
        })
      else if (m.type === 'task-done') resolve(m.outcome)
      else reject(new AppError(m.error.code as never, m.error.message))
    })
    worker.on('error', (err) =>
      reject(new AppError('INTERNAL', `The task stopped unexpectedly: ${err.message}`)),
    )
    worker.on('exit', (code) =>
      reject(new AppError('INTERNAL', `The task exited with code ${code}.`)),
    )
  }).finally(() => {
    ctx.signal.removeEventListener('abort', onAbort)
    void worker.terminate()
  })
}

/** Running dataset tasks, one of each kind per dataset. */
const running = new WeakMap<Studio, Map<string, { job: Job; outcome?: DatasetTaskOutcome }>>()

function startTask(studio: Studio, task: DatasetTaskRequest, title: string) {
  let tasks = running.get(studio)
  if (!tasks) running.set(studio, (tasks = new Map()))
  const key = `${task.kind}:${task.datasetId}`
  const existing = tasks.get(key)
  if (existing && existing.job.state === 'running') return existing
  const entry: { job: Job; outcome?: DatasetTaskOutcome } = {
    job: studio.jobs.start({
      kind: 'maintenance',
      title,
      datasetId: task.datasetId,
      run: async (ctx) => {
        const outcome = await runDatasetTaskInWorker(studio, task, ctx)
        entry.outcome = outcome
        return { detail: outcome.detail }
      },
    }),
  }
  tasks.set(key, entry)
  return entry
}

export function datasetTaskHandlers(
  studio: Studio,
): Pick<Handlers, 'datasets:delete' | 'datasets:recheckFiles' | 'images:locate'> {
  const { db, jobs, bus } = studio
  return {
    'images:locate': (q) => locateImage(db, q, studio.browseCache),
    'datasets:delete': async ({ id }) => {
      const row = datasetStore(db).state(id)
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
        if (row.importPid !== null && row.importPid !== process.pid && processAlive(row.importPid))
          throw new AppError(
            'CONFLICT',
            `"${row.name}" is being imported by another process (pid ${row.importPid}, a \`gcstudio import\`?). Stop that import (Ctrl-C there); it removes what it wrote.`,
          )
      }
      if (row.status === 'deleting') {
        const job = startDeletion(studio, id, row.name)
        return { deleted: true, jobId: job.id, message: `"${row.name}" is being removed.` }
      }
      datasetStore(db).markDeleting(id, process.pid)
      bus.emit('dataset:changed', { datasetId: id })
      // Hidden already; a run on it is stopped before its images go.
      await studio.runs.stop({ datasetId: id })
      const job = startDeletion(studio, id, row.name)
      return { deleted: true, jobId: job.id, message: `"${row.name}" is being removed.` }
    },
    'datasets:recheckFiles': async ({ id }) => {
      const d = getDataset(db, id)
      const task = startTask(
        studio,
        { kind: 'check-files', datasetId: id, imagesRoot: d.imagesRoot },
        `Look for the image files of ${d.name}`,
      )
      const job = task.job
      const end = await jobs.settled(job.id)
      const outcome = task.outcome
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
export function startDeletion(studio: Studio, datasetId: number, name: string): Job {
  const { job } = startTask(studio, { kind: 'delete', datasetId }, `Remove dataset ${name}`)
  void studio.jobs.settled(job.id).then((end) => {
    studio.bus.emit('dataset:changed', { datasetId })
    if (end.state === 'done')
      fs.promises
        .rm(studio.media.cacheDir(datasetId), { recursive: true, force: true })
        .catch(() => {})
  })
  return job
}

/** Deletions a closed or crashed studio left half done are finished in the background. */
export function resumeDeletions(studio: Studio): number {
  const datasets = datasetStore(studio.db)
  let resumed = 0
  for (const r of datasets.inStatus('deleting')) {
    if (r.importPid !== null && r.importPid !== process.pid && processAlive(r.importPid)) continue
    datasets.claim(r.id, process.pid)
    startDeletion(studio, r.id, r.name)
    resumed++
  }
  return resumed
}
