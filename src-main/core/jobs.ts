import { Worker } from 'node:worker_threads'
import type { Job, JobKind } from '../common/api'
import type { ErrorShape } from '../common/errors'
import { AppError, toErrorShape } from '../common/errors'
import type { ParsedImportRequest } from './datasets/importer'
import { describeImport } from './datasets/importer'
import type { ImportOutcome, ImportProgress } from './datasets/importTypes'
import type { EventBus } from './events'
import { builtWorkerPath } from './paths'
import { rateTracker } from '../common/rate'
import type { Db } from './store/store'
import { datasetStore } from './store/datasets'
import { JobStore } from './store/jobs'
import { nowIso } from './store/sql'

export type ImportWorkerMessage =
  | { type: 'progress'; progress: ImportProgress }
  | { type: 'dataset'; datasetId: number }
  | { type: 'done'; outcome: ImportOutcome }
  | { type: 'error'; error: ErrorShape }

export type ImportWorkerCommand = { type: 'cancel' }

/** What a job's work sees: its cancel signal and a way to report progress and warnings. */
export interface JobContext {
  readonly signal: AbortSignal
  progress(p: {
    done: number
    total: number | null
    phase?: string
    unit?: string
    detail?: string
  }): void
  warn(message: string): void
  /** Links shown with the job once known (the dataset an import made, the run evaluated). */
  link(links: { datasetId?: number; runId?: number }): void
}

/** How a job ended when its work returned normally. */
export interface JobOutcome {
  detail?: string
  warnings?: string[]
}

export interface JobSpec {
  kind: JobKind
  title: string
  datasetId?: number
  runId?: number
  /** The work. Throwing `AppError('CANCELLED')` (or any error once cancelled) ends it cancelled. */
  run(ctx: JobContext): Promise<JobOutcome | void>
}

/**
 * A job whose work lives elsewhere (an inference run in its own process): the owner reports
 * progress and the end; cancel is forwarded to it.
 */
export interface AttachedJob {
  readonly job: Job
  progress(p: Partial<Pick<Job, 'phase' | 'done' | 'total' | 'unit' | 'detail'>>): void
  end(state: 'done' | 'cancelled' | 'failed', patch?: Partial<Job>): void
}

interface Entry {
  job: Job
  rate: ReturnType<typeof rateTracker>
  cancel: () => void
  terminate?: () => void
  settled: Promise<Job>
  resolve: (job: Job) => void
  lastPhase: string
}

/**
 * The studio's one job system. Every long task is a job: queued or running with progress
 * (done/total, rate, ETA), cancellable, ending with a result or an error, persisted in the
 * store's `jobs` table so a restart shows what happened, and published as `job:progress`
 * events to the renderers (and the CLI's progress bar). Work runs where it belongs (worker
 * threads, the inference process); the manager only keeps its state.
 */
export class JobManager {
  #jobs = new Map<string, Entry>()
  #seq = 0
  /** The dataset each running import writes (known before it is done) and why it was cancelled. */
  #importing = new Map<string, { datasetId: number; cancelReason?: string }>()
  #store: JobStore

  constructor(
    private readonly opts: { db: Db; dataDir: string; bus: EventBus; nativeBinding?: string },
  ) {
    this.#store = new JobStore(opts.db)
    this.#store.closeInterrupted()
  }

  /** This session's jobs and the last ones of earlier sessions, running ones first. */
  list(): Job[] {
    const live = [...this.#jobs.values()].map((r) => r.job)
    const ids = new Set(live.map((j) => j.id))
    const past = this.#store.recent(50).filter((j) => !ids.has(j.id))
    return [...live, ...past].sort(
      (a, b) =>
        Number(b.state === 'running') - Number(a.state === 'running') ||
        b.startedAt.localeCompare(a.startedAt),
    )
  }

  get(id: string): Job | undefined {
    return this.#jobs.get(id)?.job ?? this.#store.get(id)
  }

  /** Resolves when the job ends, whatever its state. */
  settled(id: string): Promise<Job> {
    const r = this.#jobs.get(id)
    if (r) return r.settled
    const past = this.#store.get(id)
    if (past && past.state !== 'running' && past.state !== 'queued') return Promise.resolve(past)
    throw new AppError('NOT_FOUND', `No job ${id}.`)
  }

  /** Starts a job whose work is a function of this process. Returns at once. */
  start(spec: JobSpec): Job {
    const controller = new AbortController()
    const handle = this.attach({
      kind: spec.kind,
      title: spec.title,
      ...(spec.datasetId !== undefined ? { datasetId: spec.datasetId } : {}),
      ...(spec.runId !== undefined ? { runId: spec.runId } : {}),
      cancel: () => controller.abort(),
    })
    const job = handle.job
    const ctx: JobContext = {
      signal: controller.signal,
      progress: (p) => handle.progress({ ...p, phase: p.phase ?? job.phase }),
      warn: (message) => {
        if (!job.warnings.includes(message)) job.warnings = [...job.warnings, message]
      },
      link: (links) => {
        if (links.datasetId !== undefined) job.datasetId = links.datasetId
        if (links.runId !== undefined) job.runId = links.runId
      },
    }
    // Deferred so the caller holds the job before its first event or its end.
    setImmediate(() => {
      spec.run(ctx).then(
        (outcome) =>
          controller.signal.aborted
            ? handle.end('cancelled', { phase: 'Cancelled' })
            : handle.end('done', {
                phase: 'Done',
                ...(outcome?.detail !== undefined ? { detail: outcome.detail } : {}),
                warnings: [...job.warnings, ...(outcome?.warnings ?? [])],
              }),
        (err: unknown) => {
          const shape = toErrorShape(err)
          if (controller.signal.aborted || shape.code === 'CANCELLED')
            handle.end('cancelled', { phase: 'Cancelled' })
          else
            handle.end('failed', {
              phase: 'Failed',
              error: { code: shape.code, message: shape.message },
            })
        },
      )
    })
    return job
  }

  /**
   * A method that is a job: starts it (progress in the tray, cancel through `jobs:cancel`, a row
   * in the history) and answers with what its work returns when it ends, or with its error.
   * `detail` says in words what it made, for the tray.
   */
  run<T>(
    spec: Omit<JobSpec, 'run'>,
    work: (ctx: JobContext) => Promise<T>,
    detail?: (result: T) => string,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.start({
        ...spec,
        run: async (ctx) => {
          try {
            const result = await work(ctx)
            resolve(result)
            return detail ? { detail: detail(result) } : undefined
          } catch (err) {
            reject(err)
            throw err
          }
        },
      })
    })
  }

  /** Registers a job whose work runs elsewhere; the caller reports progress and the end. */
  attach(spec: {
    kind: JobKind
    title: string
    datasetId?: number
    runId?: number
    id?: string
    cancel: () => void
    /** Stops the work for good when it ignored cancel (shutdown). */
    terminate?: () => void
  }): AttachedJob {
    const id = spec.id ?? `${spec.kind}-${++this.#seq}-${Date.now().toString(36)}`
    const job: Job = {
      id,
      kind: spec.kind,
      title: spec.title,
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
      datasetId: spec.datasetId ?? null,
      runId: spec.runId ?? null,
      startedAt: nowIso(),
      finishedAt: null,
    }
    let resolve!: (job: Job) => void
    const settled = new Promise<Job>((r) => (resolve = r))
    const entry: Entry = {
      job,
      rate: rateTracker(),
      cancel: spec.cancel,
      ...(spec.terminate ? { terminate: spec.terminate } : {}),
      settled,
      resolve,
      lastPhase: job.phase,
    }
    this.#jobs.set(id, entry)
    this.#store.save(job)
    this.#emit(job)
    return {
      job,
      progress: (p) => {
        if (job.state !== 'running') return
        Object.assign(job, p)
        Object.assign(job, entry.rate({ phase: job.phase, done: job.done, total: job.total }))
        if (job.phase !== entry.lastPhase) {
          entry.lastPhase = job.phase
          this.#store.save(job)
        }
        this.#emit(job)
      },
      end: (state, patch = {}) => {
        if (job.state !== 'running') return
        Object.assign(job, patch, {
          state,
          rate: null,
          etaSeconds: state === 'done' ? 0 : null,
          finishedAt: nowIso(),
        })
        if (state === 'done' && job.total !== null) job.done = job.total
        try {
          this.#store.save(job)
        } catch {
          // A store that cannot be written (full disk) must not lose the job's end in memory.
        }
        this.#emit(job)
        resolve(job)
      },
    }
  }

  /** The running import of this session writing `datasetId`, if any. */
  importWriting(datasetId: number): Job | undefined {
    for (const [id, w] of this.#importing) {
      const job = this.#jobs.get(id)?.job
      if (w.datasetId === datasetId && job?.state === 'running') return job
    }
    return undefined
  }

  /** `reason` replaces "Cancelled" as the phase an import ends with (its dataset was deleted). */
  cancel(id: string, reason?: string): boolean {
    const r = this.#jobs.get(id)
    if (!r || r.job.state !== 'running') return false
    const writing = this.#importing.get(id)
    if (writing && reason) writing.cancelReason = reason
    r.job.phase = 'Cancelling'
    this.#emit(r.job)
    r.cancel()
    return true
  }

  /** Cancels what runs and waits (a few seconds at most) for it to end. */
  async shutdown(): Promise<void> {
    const running = [...this.#jobs.values()].filter((r) => r.job.state === 'running')
    for (const r of running) this.cancel(r.job.id)
    await Promise.race([
      Promise.all(running.map((r) => r.settled)),
      new Promise((res) => setTimeout(res, 5000).unref()),
    ])
    for (const r of running) if (r.job.state === 'running') r.terminate?.()
  }

  #emit(job: Job): void {
    this.opts.bus.emit('job:progress', { ...job })
  }

  /** An import: parsing runs in a worker thread with its own store connection. */
  startImport(request: ParsedImportRequest, isDemo = false): Job {
    let worker: Worker | null = null
    let createdDataset: number | null = null
    const handle = this.attach({
      kind: 'import',
      title: `Import ${describeImport(request)}`,
      cancel: () => worker?.postMessage({ type: 'cancel' } satisfies ImportWorkerCommand),
      terminate: () => void worker?.terminate(),
    })
    worker = new Worker(builtWorkerPath('importWorker'), {
      workerData: {
        dataDir: this.opts.dataDir,
        request,
        isDemo,
        nativeBinding: this.opts.nativeBinding,
      },
    })
    const w = worker
    const end: AttachedJob['end'] = (state, patch) => {
      if (handle.job.state !== 'running') return
      // Its work is committed (or rolled back) by now; an idle worker would keep the process
      // alive after the studio closes.
      void w.terminate()
      const reason = this.#importing.get(handle.job.id)?.cancelReason
      this.#importing.delete(handle.job.id)
      handle.end(state, state === 'cancelled' && reason ? { ...patch, phase: reason } : patch)
      if (state === 'done')
        this.opts.bus.emit('dataset:changed', { datasetId: handle.job.datasetId })
    }
    w.on('message', (m: ImportWorkerMessage) => {
      switch (m.type) {
        case 'progress':
          handle.progress(m.progress)
          break
        case 'dataset':
          createdDataset = m.datasetId
          this.#importing.set(handle.job.id, { datasetId: m.datasetId })
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
            phase: m.error.code === 'CANCELLED' ? 'Cancelled' : 'Failed',
          })
          break
      }
    })
    const crashed = (message: string) => {
      // The worker died without cleaning up: remove what it wrote.
      if (createdDataset !== null) {
        try {
          datasetStore(this.opts.db).removeImportRows(createdDataset)
        } catch {
          // Swept at next start-up instead.
        }
      }
      end('failed', { error: { code: 'INTERNAL', message }, phase: 'Failed' })
    }
    w.on('error', (err) => crashed(`The import stopped unexpectedly: ${err.message}`))
    w.on('exit', (code) => {
      if (handle.job.state === 'running') crashed(`The import process exited with code ${code}.`)
    })
    return handle.job
  }
}
