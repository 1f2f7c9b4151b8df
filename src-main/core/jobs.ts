import { Worker } from 'node:worker_threads'
import type { Job } from '../common/api'
import type { ErrorShape } from '../common/errors'
import { AppError } from '../common/errors'
import type { ParsedImportRequest } from './datasets/importer'
import { describeImport } from './datasets/importer'
import type { ImportOutcome, ImportProgress } from './datasets/importTypes'
import type { DatasetTaskOutcome } from './datasets/maintenance'
import { deleteDataset } from './datasets/datasetWriter'
import type { EventBus } from './events'
import { builtWorkerPath } from './paths'
import { rateTracker } from '../common/rate'
import type { Db } from './store/store'

export type ImportWorkerMessage =
  | { type: 'progress'; progress: ImportProgress }
  | { type: 'dataset'; datasetId: number }
  | { type: 'done'; outcome: ImportOutcome }
  | { type: 'error'; error: ErrorShape }

export type ImportWorkerCommand = { type: 'cancel' }

/** Long dataset work the maintenance worker runs (core/datasets/maintenance.ts). */
export type DatasetTaskRequest =
  | { kind: 'delete'; datasetId: number }
  | { kind: 'check-files'; datasetId: number; imagesRoot: string }

export type TaskWorkerMessage =
  | { type: 'progress'; progress: ImportProgress }
  | { type: 'task-done'; outcome: DatasetTaskOutcome }
  | { type: 'error'; error: ErrorShape }

interface RunningJob {
  job: Job
  worker: Worker | null
  rate: ReturnType<typeof rateTracker>
  settled: Promise<Job>
  /** The dataset row an import created, known before it is done (to cancel it on delete). */
  datasetId: number | null
  /** What a dataset task returned (missing files found). */
  outcome?: DatasetTaskOutcome
  /** Why it was cancelled, when not by the user's Cancel. */
  cancelReason?: string
}

/** Long-running work of this session (imports now, more later) with progress, rate, ETA, cancel. */
export class JobManager {
  #jobs = new Map<string, RunningJob>()
  #seq = 0

  constructor(
    private readonly opts: { db: Db; dataDir: string; bus: EventBus; nativeBinding?: string },
  ) {}

  list(): Job[] {
    return [...this.#jobs.values()]
      .map((r) => r.job)
      .sort(
        (a, b) =>
          Number(b.state === 'running') - Number(a.state === 'running') ||
          b.startedAt.localeCompare(a.startedAt),
      )
  }

  get(id: string): Job | undefined {
    return this.#jobs.get(id)?.job
  }

  /** Resolves when the job ends, whatever its state. */
  settled(id: string): Promise<Job> {
    const r = this.#jobs.get(id)
    if (!r) throw new AppError('NOT_FOUND', `No job ${id}.`)
    return r.settled
  }

  startImport(request: ParsedImportRequest, isDemo = false): Job {
    const id = `import-${++this.#seq}-${Date.now().toString(36)}`
    const job: Job = {
      id,
      kind: 'import',
      title: `Import ${describeImport(request)}`,
      state: 'running',
      phase: 'Starting',
      done: 0,
      total: null,
      rate: null,
      etaSeconds: null,
      unit: '',
      detail: '',
      error: null,
      warnings: [],
      datasetId: null,
      startedAt: new Date().toISOString(),
    }
    const worker = new Worker(builtWorkerPath('importWorker'), {
      workerData: {
        dataDir: this.opts.dataDir,
        request,
        isDemo,
        nativeBinding: this.opts.nativeBinding,
      },
    })
    let createdDataset: number | null = null
    let finished = false
    const running: RunningJob = {
      job,
      worker,
      rate: rateTracker(),
      settled: Promise.resolve(job),
      datasetId: null,
    }
    running.settled = new Promise<Job>((resolve) => {
      const end = (state: Job['state'], patch: Partial<Job>) => {
        if (finished) return
        finished = true
        Object.assign(job, patch, { state, rate: null, etaSeconds: state === 'done' ? 0 : null })
        running.worker = null
        // Its work is committed (or rolled back) by now; an idle worker would keep the
        // process alive after the studio closes.
        void worker.terminate()
        this.opts.bus.emit('job:progress', { ...job })
        if (state === 'done') this.opts.bus.emit('datasets:changed', { datasetId: job.datasetId })
        resolve(job)
      }
      worker.on('message', (m: ImportWorkerMessage) => {
        switch (m.type) {
          case 'progress':
            this.#progress(running, m.progress)
            break
          case 'dataset':
            createdDataset = m.datasetId
            running.datasetId = m.datasetId
            break
          case 'done':
            end('done', {
              datasetId: m.outcome.datasetId,
              warnings: m.outcome.warnings,
              phase: 'Done',
              detail: `${m.outcome.images.toLocaleString('en-US')} images, ${m.outcome.annotations.toLocaleString('en-US')} annotations`,
            })
            break
          case 'error':
            end(m.error.code === 'CANCELLED' ? 'cancelled' : 'failed', {
              error:
                m.error.code === 'CANCELLED'
                  ? null
                  : { code: m.error.code, message: m.error.message },
              phase:
                m.error.code === 'CANCELLED' ? (running.cancelReason ?? 'Cancelled') : 'Failed',
            })
            break
        }
      })
      const crashed = (message: string) => {
        // The worker died without cleaning up: remove what it wrote.
        if (createdDataset !== null) {
          try {
            deleteDataset(this.opts.db, createdDataset)
          } catch {
            // Swept at next start-up instead.
          }
        }
        end('failed', { error: { code: 'INTERNAL', message }, phase: 'Failed' })
      }
      worker.on('error', (err) => crashed(`The import stopped unexpectedly: ${err.message}`))
      worker.on('exit', (code) => {
        if (!finished) crashed(`The import process exited with code ${code}.`)
      })
    })
    this.#jobs.set(id, running)
    this.opts.bus.emit('job:progress', { ...job })
    return job
  }

  cancel(id: string, reason?: string): boolean {
    const r = this.#jobs.get(id)
    if (!r || r.job.state !== 'running' || !r.worker) return false
    r.worker.postMessage({ type: 'cancel' } satisfies ImportWorkerCommand)
    r.job.phase = 'Cancelling'
    if (reason) r.cancelReason = reason
    this.opts.bus.emit('job:progress', { ...r.job })
    return true
  }

  /** The running import of this session writing `datasetId`, if any. */
  importWriting(datasetId: number): Job | undefined {
    for (const r of this.#jobs.values())
      if (r.job.kind === 'import' && r.job.state === 'running' && r.datasetId === datasetId)
        return r.job
    return undefined
  }

  /** The running dataset task of this kind on `datasetId`, if any (one at a time). */
  taskOn(kind: DatasetTaskRequest['kind'], datasetId: number): Job | undefined {
    for (const r of this.#jobs.values())
      if (r.job.kind === kind && r.job.state === 'running' && r.job.datasetId === datasetId)
        return r.job
    return undefined
  }

  /** What a finished dataset task returned. */
  outcome(id: string): DatasetTaskOutcome | undefined {
    return this.#jobs.get(id)?.outcome
  }

  /**
   * Runs a dataset task (delete, look for files) in the maintenance worker on its own
   * connection: the event loop keeps serving while it works in short transactions.
   */
  startDatasetTask(task: DatasetTaskRequest, title: string): Job {
    const id = `${task.kind}-${++this.#seq}-${Date.now().toString(36)}`
    const job: Job = {
      id,
      kind: task.kind,
      title,
      state: 'running',
      phase: 'Starting',
      done: 0,
      total: null,
      rate: null,
      etaSeconds: null,
      unit: 'images',
      detail: '',
      error: null,
      warnings: [],
      datasetId: task.datasetId,
      startedAt: new Date().toISOString(),
    }
    const worker = new Worker(builtWorkerPath('datasetTaskWorker'), {
      workerData: { dataDir: this.opts.dataDir, task, nativeBinding: this.opts.nativeBinding },
    })
    const running: RunningJob = {
      job,
      worker,
      rate: rateTracker(),
      settled: Promise.resolve(job),
      datasetId: task.datasetId,
    }
    running.settled = new Promise<Job>((resolve) => {
      let finished = false
      const end = (state: Job['state'], patch: Partial<Job>) => {
        if (finished) return
        finished = true
        Object.assign(job, patch, { state, rate: null, etaSeconds: state === 'done' ? 0 : null })
        running.worker = null
        void worker.terminate()
        this.opts.bus.emit('job:progress', { ...job })
        this.opts.bus.emit('datasets:changed', { datasetId: task.datasetId })
        resolve(job)
      }
      worker.on('message', (m: TaskWorkerMessage) => {
        if (m.type === 'progress') this.#progress(running, m.progress)
        else if (m.type === 'task-done') {
          running.outcome = m.outcome
          end('done', { phase: 'Done', detail: m.outcome.detail })
        } else {
          const cancelled = m.error.code === 'CANCELLED'
          end(cancelled ? 'cancelled' : 'failed', {
            error: cancelled ? null : { code: m.error.code, message: m.error.message },
            phase: cancelled ? 'Cancelled' : 'Failed',
          })
        }
      })
      worker.on('error', (err) =>
        end('failed', {
          error: { code: 'INTERNAL', message: `The task stopped unexpectedly: ${err.message}` },
          phase: 'Failed',
        }),
      )
      worker.on('exit', (code) =>
        end('failed', {
          error: { code: 'INTERNAL', message: `The task exited with code ${code}.` },
          phase: 'Failed',
        }),
      )
    })
    this.#jobs.set(id, running)
    this.opts.bus.emit('job:progress', { ...job })
    return job
  }

  async shutdown(): Promise<void> {
    const running = [...this.#jobs.values()].filter((r) => r.worker)
    for (const r of running) this.cancel(r.job.id)
    await Promise.race([
      Promise.all(running.map((r) => r.settled)),
      new Promise((res) => setTimeout(res, 5000).unref()),
    ])
    for (const r of running) await r.worker?.terminate()
  }

  #progress(r: RunningJob, p: ImportProgress): void {
    Object.assign(
      r.job,
      { phase: p.phase, done: p.done, total: p.total, unit: p.unit, detail: p.detail },
      r.rate(p),
    )
    this.opts.bus.emit('job:progress', { ...r.job })
  }
}
