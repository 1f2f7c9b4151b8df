import fs from 'node:fs'
import path from 'node:path'
import type { AppInfo, Evaluation, Job, Run } from '../common/api'
import { AppError } from '../common/errors'
import { createDispatcher, type Dispatch, type Handlers } from './dispatcher'
import { EventBus } from './events'
import { JobManager, type AttachedJob } from './jobs'
import { MediaService } from './media'
import { getSetting, openStore, releaseCache, setSetting, type Db } from './store/store'
import { latestSchemaVersion } from './store/migrations'
import { sweepUnfinishedImports } from './datasets/datasetWriter'
import {
  getCategories,
  getDataset,
  getImage,
  listDatasets,
  queryImages,
  renameDataset,
} from './datasets/queries'
import { datasetTaskHandlers, resumeDeletions } from './datasets/handlers'
import { BrowseCache } from './datasets/browseCache'
import { discoverDemoDatasets, discoverDemoModels } from './demo'
import { packageRoot, resourcesDir } from './paths'
import { RunManager } from './inference/runs'
import { InteractiveInference } from './inference/interactive'
import type { ProcessLauncher } from './inference/engine'
import { storedInference } from './inference/results'
import { EvaluationManager } from './evaluations'
import { ComparisonService, compareHandlers } from './comparisons'
import { evaluationViewHandlers } from './evaluationViews'
import { addModel, getModel, listModels, removeModel } from './models/registry'
import { addModelInWorker } from './models/workerClient'
import { modelHandlers } from './models/handlers'
import { labelsHandlers } from './labels/handlers'
import { AttentionAnalytics } from './attentionAnalytics'
import { attentionHandlers } from './attentionHandlers'
import { ReportService, reportHandlers, type PdfPrinter } from './reports/service'

export interface StudioOptions {
  dataDir: string
  host: AppInfo['host']
  nativeBinding?: string
  /** Host-specific methods (native pickers in Electron). */
  overrides?: Partial<Handlers>
  /** How the inference process starts: a Node child process, or an Electron utility process. */
  launcher?: ProcessLauncher
  log?: (line: string) => void
  /** How reports print to PDF (the desktop app's webContents); default: a Chromium found here. */
  printPdf?: PdfPrinter
  /** How long a write waits for another process's lock (default BUSY_TIMEOUT_MS). */
  busyTimeoutMs?: number
}

/**
 * The core of one running studio: the store, jobs, media and the dispatcher over them. Both hosts
 * create exactly this and differ only in transport.
 */
export class Studio {
  readonly db: Db
  readonly bus = new EventBus()
  readonly jobs: JobManager
  readonly media: MediaService
  readonly runs: RunManager
  readonly interactive: InteractiveInference
  readonly evaluations: EvaluationManager
  readonly comparisons: ComparisonService
  readonly attention: AttentionAnalytics
  readonly reports: ReportService
  readonly dispatch: Dispatch
  readonly version: string
  readonly browseCache = new BrowseCache()

  private constructor(readonly options: StudioOptions) {
    this.db = openStore(options.dataDir, {
      ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
      ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
    })
    const swept = sweepUnfinishedImports(this.db)
    if (swept > 0)
      options.log?.(`Removed ${swept} dataset(s) left half-imported by an earlier crash.`)
    this.version = (
      JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {
        version: string
      }
    ).version
    this.jobs = new JobManager({
      db: this.db,
      dataDir: options.dataDir,
      bus: this.bus,
      ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
    })
    this.media = new MediaService(this.db, options.dataDir)
    const launcher = options.launcher ? { launcher: options.launcher } : {}
    this.runs = new RunManager({
      db: this.db,
      dataDir: options.dataDir,
      bus: this.bus,
      ...launcher,
    })
    this.evaluations = new EvaluationManager({
      db: this.db,
      bus: this.bus,
      dataDir: options.dataDir,
      ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
    })
    this.comparisons = new ComparisonService({
      db: this.db,
      bus: this.bus,
      evaluations: this.evaluations,
      dataDir: options.dataDir,
      ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
    })
    this.attention = new AttentionAnalytics({
      db: this.db,
      dataDir: options.dataDir,
      ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
      ...launcher,
    })
    this.interactive = new InteractiveInference({
      db: this.db,
      dataDir: options.dataDir,
      media: this.media,
      ...launcher,
    })
    this.reports = new ReportService(this, options.printPdf)
    this.bus.subscribe((e) => {
      if (e.name === 'dataset:changed')
        this.browseCache.invalidate((e.payload as { datasetId: number | null }).datasetId)
    })
    this.#mirrorRunsAsJobs()
    const resumed = resumeDeletions(this)
    if (resumed > 0) options.log?.(`Finishing the removal of ${resumed} dataset(s).`)
    this.dispatch = createDispatcher(
      { ...this.#handlers(), ...options.overrides },
      options.log,
      options.dataDir,
    )
  }

  static open(options: StudioOptions): Studio {
    return new Studio(options)
  }

  #handlers(): Handlers {
    const db = this.db
    return {
      'app:info': () => ({
        version: this.version,
        host: this.options.host,
        dataDir: this.options.dataDir,
        schemaVersion: latestSchemaVersion,
        nativePickers: this.options.host === 'electron',
      }),
      'datasets:list': () => listDatasets(db),
      'datasets:get': ({ id }) => ({
        dataset: getDataset(db, id),
        categories: getCategories(db, id),
      }),
      'datasets:import': (request) => ({ jobId: this.jobs.startImport(request).id }),
      'datasets:rename': ({ id, name }) => {
        const d = renameDataset(db, id, name)
        this.bus.emit('dataset:changed', { datasetId: id })
        return d
      },
      ...datasetTaskHandlers(this),
      'jobs:list': () => this.jobs.list(),
      'jobs:cancel': ({ jobId }) => ({ cancelled: this.jobs.cancel(jobId) }),
      'images:query': (q) => queryImages(db, q, this.browseCache),
      'images:get': ({ id }) => getImage(db, id),
      ...modelHandlers(this),
      'models:add': async ({ path, name, labelMapping }) => {
        const out = await addModelInWorker(db, path, {
          ...(name ? { name } : {}),
          ...(labelMapping ? { labelMapping } : {}),
        })
        if (!out.existed) this.bus.emit('model:changed', { modelId: out.model.id })
        return out
      },
      'models:list': () => listModels(db),
      'models:get': ({ id }) => getModel(db, id),
      'models:remove': async ({ id }) => {
        await this.runs.stop({ modelId: id })
        this.interactive.pool.forget(id)
        const removed = removeModel(db, id)
        if (removed) this.bus.emit('model:changed', { modelId: id })
        return { removed }
      },
      'runs:start': (settings) => this.runs.start(settings),
      'runs:list': (filter) => this.runs.list(filter),
      'runs:get': ({ id }) => this.runs.get(id),
      'runs:cancel': ({ id }) => this.runs.cancel(id),
      'runs:resume': ({ id }) => this.runs.resume(id),
      'runs:delete': async ({ id }) => ({ deleted: await this.runs.delete(id) }),
      'runs:imageResult': ({ runId, imageId }) => {
        const run = this.runs.get(runId)
        return storedInference(
          db,
          runId,
          imageId,
          getModel(db, run.modelId).card.gcBlocks,
          run.executionProvider,
        )
      },
      'evaluations:start': ({ runId }) => ({ jobId: this.startEvaluation(runId).job.id }),
      'evaluations:run': ({ runId }) => this.startEvaluation(runId).evaluations,
      'evaluations:list': ({ runId }) => this.evaluations.list(runId),
      'evaluations:get': ({ id }) => this.evaluations.get(id),
      'evaluations:images': ({ id, order, direction, offset, limit }) =>
        this.evaluations.images(id, order, direction, offset, limit),
      ...evaluationViewHandlers(this),
      'inference:image': ({ modelId, imageId, taps }) =>
        this.interactive.image(modelId, imageId, taps),
      ...compareHandlers(this.comparisons, this.jobs),
      ...labelsHandlers(this),
      ...attentionHandlers(this),
      ...reportHandlers(this.reports),
      'dialog:pick': () => {
        throw new AppError(
          'UNSUPPORTED',
          'Native pickers exist only in the desktop app; type the path instead.',
        )
      },
    }
  }

  /**
   * Evaluates a run as a job: progress from the evaluation worker, cancel through
   * `jobs:cancel`, the evaluations stored only once complete. `result` holds them once done.
   */
  startEvaluation(runId: number): { job: Job; evaluations: Promise<Evaluation[]> } {
    const run = this.runs.get(runId)
    let settle!: { resolve: (e: Evaluation[]) => void; reject: (err: unknown) => void }
    const evaluations = new Promise<Evaluation[]>((resolve, reject) => {
      settle = { resolve, reject }
    })
    // Callers that only follow the job's events need not handle its rejection.
    evaluations.catch(() => {})
    const job = this.jobs.start({
      kind: 'evaluation',
      title: `Evaluate run ${runId} (${run.modelName} on ${run.datasetName})`,
      datasetId: run.datasetId,
      runId,
      run: async (ctx) => {
        ctx.progress({ done: 0, total: null, phase: 'Evaluating', unit: 'steps' })
        let out: Evaluation[]
        try {
          out = await this.evaluations.evaluate(runId, {
            signal: ctx.signal,
            onProgress: (done, total) => ctx.progress({ done, total }),
          })
        } catch (err) {
          settle.reject(err)
          throw err
        }
        settle.resolve(out)
        const failed = out.filter((e) => e.status === 'failed')
        if (failed.length > 0)
          throw new AppError('EVAL_FAILED', failed.map((e) => `${e.kind}: ${e.error}`).join('; '))
        return {
          detail: out
            .map((e) => `${e.kind} ${((e.primaryMetric ?? 0) * 100).toFixed(1)}`)
            .join(', '),
        }
      },
    })
    return { job, evaluations }
  }

  /**
   * Inference runs live in the run manager (their own process, their own table); each active
   * run is also a job, so the jobs tray, `jobs:cancel` and the job history see every long task.
   */
  #mirrorRunsAsJobs(): void {
    const attached = new Map<number, AttachedJob>()
    this.bus.subscribe((e) => {
      if (e.name !== 'run:progress') return
      const run = e.payload as Run
      let handle = attached.get(run.id)
      const active = run.status === 'running' || run.status === 'queued'
      if (!handle) {
        if (!active) return
        handle = this.jobs.attach({
          kind: 'run',
          title: `Run ${run.modelName} on ${run.datasetName}`,
          datasetId: run.datasetId,
          runId: run.id,
          cancel: () => {
            try {
              this.runs.cancel(run.id)
            } catch {
              // Deleted meanwhile: the run's own end closes the job.
            }
          },
        })
        attached.set(run.id, handle)
      }
      handle.progress({
        phase: run.status === 'queued' ? 'Queued' : 'Running',
        done: run.imagesDone + run.imagesFailed,
        total: run.imagesTotal,
        unit: 'images',
        detail: run.imagesFailed > 0 ? `${run.imagesFailed} failed` : '',
      })
      if (!active) {
        attached.delete(run.id)
        if (run.status === 'done') handle.end('done', { phase: 'Done' })
        else if (run.status === 'failed')
          handle.end('failed', {
            phase: 'Failed',
            error: { code: 'INFERENCE_FAILED', message: run.error ?? 'The run failed.' },
          })
        else handle.end('cancelled', { phase: run.status === 'paused' ? 'Paused' : 'Cancelled' })
      }
    })
  }

  /**
   * Imports the bundled demo datasets the first time a data folder is used (and never again
   * once imported, even if the user deletes them). Returns when they are ready.
   */
  async ensureDemoDatasets(demoDir = path.join(resourcesDir(), 'demo')): Promise<number[]> {
    const imported: number[] = []
    for (const demo of discoverDemoDatasets(demoDir)) {
      const key = `demo:${demo.key}`
      if (getSetting(this.db, key)) continue
      const job = this.jobs.startImport(demo.request, true)
      const end = await this.jobs.settled(job.id)
      if (end.state === 'done' && end.datasetId !== null) {
        setSetting(this.db, key, String(end.datasetId))
        imported.push(end.datasetId)
      } else {
        this.options.log?.(
          `Demo dataset ${demo.key} was not imported: ${end.error?.message ?? end.state}`,
        )
      }
    }
    return imported
  }

  /**
   * Imports the bundled demo models the first time a data folder is used, so the demo datasets
   * can be run at once. A model that fails to import is reported and skipped.
   */
  ensureDemoModels(modelsDir = path.join(packageRoot(), 'models')): number[] {
    const added: number[] = []
    for (const source of discoverDemoModels(modelsDir)) {
      const key = `demo-model:${path.relative(modelsDir, source)}`
      if (getSetting(this.db, key)) continue
      try {
        const { model } = addModel(this.db, source)
        setSetting(this.db, key, String(model.id))
        added.push(model.id)
      } catch (err) {
        this.options.log?.(`Demo model ${source} was not imported: ${(err as Error).message}`)
      }
    }
    return added
  }

  /**
   * Gives back what caches hold once the studio is idle: SQLite's page cache (`releaseCache`).
   */
  trimMemory(): void {
    releaseCache(this.db)
  }

  async close(): Promise<void> {
    this.interactive.dispose()
    this.attention.dispose()
    await this.runs.shutdown()
    await this.jobs.shutdown()
    this.db.close()
  }
}
