import fs from 'node:fs'
import path from 'node:path'
import type { Run, RunSettings } from '../../common/api'
import { AppError, toErrorShape } from '../../common/errors'
import { rateTracker } from '../../common/rate'
import type { EventBus } from '../events'
import { getCategories, getDataset } from '../datasets/queries'
import { isInside } from '../paths'
import { getModel, verifyModelFile, type ModelRecord } from '../models/registry'
import { cachedTappedCopy, type BlockTaps } from '../models/taps'
import { tappedModelInWorker } from '../models/workerClient'
import { attentionMapStore } from '../store/attentionMaps'
import { predictionStore } from '../store/predictions'
import { runStore, type RunImageFile } from '../store/runs'
import { storeIoError, type Db } from '../store/store'
import { InferenceEngine, type ProcessLauncher, forkLauncher } from './engine'
import { buildLabelTable } from './labels'
import { cachedDoctorReport, requireProvider } from './doctor'
import type { Detection } from './adapters'
import type { InferItem, ItemResult } from './protocol'

type Settings = Run['settings']

const BATCH = 8
const FLUSH_EVERY = 16
const FLUSH_MS = 400

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Where the tapped copy of a model lives: one per source sha256, made once (synchronously). */
export function tappedModelPath(
  dataDir: string,
  m: ModelRecord,
): { file: string; taps: BlockTaps[] } {
  return cachedTappedCopy(dataDir, m.sha256, m.path)
}

/**
 * What the inference process is sent for a run's images: the files that are there (the file
 * decides, not the import's flag: a file copied in since is run); `onMissing` hears of the rest.
 */
export function inferItems(
  imagesRoot: string,
  images: readonly RunImageFile[],
  onMissing: (image: RunImageFile) => void,
): InferItem[] {
  const items: InferItem[] = []
  for (const image of images) {
    const file = path.resolve(imagesRoot, image.fileName)
    if (!isInside(imagesRoot, file) || !fs.existsSync(file)) {
      onMissing(image)
      continue
    }
    items.push({
      imageId: image.id,
      file,
      width: image.width,
      height: image.height,
      applyOrientation: image.applyOrientation,
    })
  }
  return items
}

/**
 * Runs: a model over a dataset with settings. One runs at a time (one inference process);
 * others queue. Results are written in batched transactions as they stream in, so a crash,
 * a cancel or a closed app keeps every finished image, and resume skips them.
 */
export class RunManager {
  #queue: number[] = []
  #active: {
    runId: number
    engine: InferenceEngine | null
    cancel: boolean
    finished: Promise<void>
  } | null = null
  #live = new Map<number, { rate: number | null; etaSeconds: number | null }>()
  #idle: Promise<void> = Promise.resolve()

  constructor(
    private readonly opts: {
      db: Db
      dataDir: string
      bus: EventBus
      launcher?: ProcessLauncher
      imageTimeoutMs?: number
    },
  ) {
    // Runs whose process is gone were interrupted (crash, closed app): they can resume.
    const runs = runStore(opts.db)
    for (const r of runs.unfinished()) {
      if (r.ownerPid !== null && r.ownerPid !== process.pid && processAlive(r.ownerPid)) continue
      runs.markInterrupted(r.id)
    }
  }

  get #runs() {
    return runStore(this.opts.db)
  }

  /** A stored run, with the live rate and time left while it runs. */
  #withLive(run: Run): Run {
    if (run.status !== 'running') return run
    const live = this.#live.get(run.id)
    return { ...run, rate: live?.rate ?? null, etaSeconds: live?.etaSeconds ?? null }
  }

  get(id: number): Run {
    const run = this.#runs.get(id)
    if (!run) throw new AppError('NOT_FOUND', `Run ${id} does not exist.`)
    return this.#withLive(run)
  }

  list(filter: { datasetId?: number; modelId?: number } = {}): Run[] {
    return this.#runs.list(filter).map((run) => this.#withLive(run))
  }

  #emit(id: number): void {
    // A run deleted meanwhile has nothing left to report.
    if (this.#runs.exists(id)) this.opts.bus.emit('run:progress', this.get(id))
  }

  start(input: RunSettings & { ep: Settings['ep']; taps: boolean; threads: number }): Run {
    const model = getModel(this.opts.db, input.modelId)
    const dataset = getDataset(this.opts.db, input.datasetId)
    // A model made for another class list (or another dataset kind) is refused here, with
    // the reason, rather than queued to fail later.
    buildLabelTable(
      model.config,
      getCategories(this.opts.db, dataset.id),
      dataset.kind,
      model.card.classCount ?? null,
    )
    // An explicit provider this install cannot load is refused now, with the reason and the
    // fix, instead of a run that fails later or silently runs on the CPU.
    if (input.ep !== 'auto') requireProvider(input.ep, cachedDoctorReport())
    const settings: Settings = {
      ...input,
      scoreThreshold: input.scoreThreshold ?? model.config.scoreThreshold,
    }
    const total = Math.min(dataset.imageCount, input.limit ?? Infinity)
    const id = this.#runs.create({
      modelId: model.id,
      datasetId: dataset.id,
      settings,
      imagesTotal: total,
    })
    this.#enqueue(id)
    return this.get(id)
  }

  /** Continues a run: the images not done yet, the failed ones included, are (re)tried. */
  resume(id: number): Run {
    const run = this.get(id)
    if (run.status === 'running' || run.status === 'queued') return run
    if (run.status === 'done' && run.imagesDone >= run.imagesTotal) {
      throw new AppError('CONFLICT', `Run ${id} is complete; start a new run to recompute it.`)
    }
    this.#runs.requeue(id)
    this.#enqueue(id)
    return this.get(id)
  }

  cancel(id: number): Run {
    const run = this.get(id)
    if (this.#active?.runId === id) {
      this.#active.cancel = true
      this.#active.engine?.cancel()
    } else if (run.status === 'queued') {
      this.#queue = this.#queue.filter((q) => q !== id)
      this.#runs.cancelQueued(id)
      this.#emit(id)
    }
    return this.get(id)
  }

  /**
   * Deletes a run; one in progress is cancelled first and deleted once its process has let go
   * (deleting the row under a running run left its last write and event without a run).
   */
  async delete(id: number): Promise<boolean> {
    await this.stop({ runId: id })
    return this.#runs.remove(id)
  }

  /**
   * Cancels the queued and running runs of a run, model or dataset, and resolves when none of
   * them is running any more: what must happen before their rows can be deleted.
   */
  async stop(which: { runId?: number; modelId?: number; datasetId?: number }): Promise<void> {
    const matches = (id: number) => {
      if (which.runId !== undefined) return id === which.runId
      const run = this.#runs.get(id)
      return run !== null && (run.modelId === which.modelId || run.datasetId === which.datasetId)
    }
    for (const id of this.#queue.filter(matches)) this.cancel(id)
    const active = this.#active
    if (active && matches(active.runId)) {
      this.cancel(active.runId)
      await active.finished
    }
  }

  /** Resolves when nothing is running or queued. */
  idle(): Promise<void> {
    return this.#idle
  }

  #enqueue(id: number): void {
    this.#queue.push(id)
    this.#emit(id)
    if (!this.#active) this.#idle = this.#drain()
  }

  async #drain(): Promise<void> {
    while (this.#queue.length) {
      const id = this.#queue.shift()!
      try {
        await this.#execute(id)
      } catch {
        // #execute records its own failures on the run; what is left (the run deleted, the
        // store closed under it) has no run to report to, and must not end the process.
      }
    }
  }

  async #execute(id: number): Promise<void> {
    const db = this.opts.db
    let finish = () => {}
    const active = {
      runId: id,
      engine: null as InferenceEngine | null,
      cancel: false,
      finished: new Promise<void>((resolve) => (finish = resolve)),
    }
    this.#active = active
    const rate = rateTracker()
    const runs = this.#runs
    runs.markRunning(id, process.pid)
    this.#emit(id)
    const notes: string[] = []
    let unmapped = 0
    const writer = this.#writer(
      id,
      () => {
        const c = runs.counts(id)
        if (!c) return
        this.#live.set(id, rate({ phase: 'run', done: c.done + c.failed, total: c.total }))
        this.#emit(id)
      },
      // The store refused a write (a full disk): stop feeding the process; the run then fails
      // with that error, keeping every batch committed before it.
      () => {
        const active = this.#active
        if (active?.runId === id) {
          active.cancel = true
          active.engine?.cancel()
        }
      },
    )
    try {
      const { settings, modelId, datasetId } = this.get(id)
      const model = getModel(db, modelId)
      verifyModelFile(db, model)
      const dataset = getDataset(db, datasetId)
      const labelTable = buildLabelTable(
        model.config,
        getCategories(db, dataset.id),
        dataset.kind,
        model.card.classCount ?? null,
      )
      let modelPath = model.path
      let taps: BlockTaps[] | null = null
      if (settings.taps && model.card.gcBlocks.length > 0)
        ({ file: modelPath, taps } = await tappedModelInWorker(this.opts.dataDir, model))
      if (model.card.gcBlocks.length === 0)
        notes.push('No GC blocks in this model: no attention maps.')
      const engine = new InferenceEngine(
        this.opts.launcher ?? forkLauncher,
        this.opts.imageTimeoutMs,
      )
      active.engine = engine
      try {
        const ready = await engine.init({
          modelPath,
          config: {
            ...model.config,
            scoreThreshold: settings.scoreThreshold ?? model.config.scoreThreshold,
          },
          taps,
          ep: settings.ep,
          threads: settings.threads,
          labelTable,
        })
        runs.setExecutionProvider(id, ready.ep)
        if (settings.ep === 'auto' && ready.ep === 'cpu')
          notes.push(`Ran on the CPU: ${cachedDoctorReport().autoReason}.`)
        this.#emit(id)
        const pending = runs.pendingImages(id, dataset.id, settings.limit ?? null)
        const items = inferItems(dataset.imagesRoot, pending, (p) =>
          writer.error(p.id, `The image file ${p.fileName} is missing.`),
        )
        // A model that rejects every input (wrong input size, wrong layout) fails fast with
        // the reason, instead of recording the same error for every image.
        let results = 0
        let firstErrors: string[] = []
        const callbacks = {
          onResult: (r: ItemResult) => {
            results++
            unmapped += writer.result(r)
          },
          onImageError: (imageId: number, message: string) => {
            writer.error(imageId, message)
            if (results === 0) firstErrors.push(message)
          },
        }
        const failFast = () => {
          if (results === 0 && firstErrors.length >= BATCH) {
            throw new AppError(
              'INFERENCE_FAILED',
              `The first ${firstErrors.length} images all failed: ${firstErrors[0]}`,
            )
          }
          if (results > 0) firstErrors = []
        }
        // Two batches in flight: the process starts the next batch (its first image already
        // decoding) while this side stores the previous one, so it never waits for us.
        let inFlight: Promise<boolean> | null = null
        for (let i = 0; i < items.length && !active.cancel; i += BATCH) {
          const sent = engine.infer(items.slice(i, i + BATCH), callbacks)
          sent.catch(() => {})
          if (inFlight) {
            await inFlight
            failFast()
          }
          inFlight = sent
        }
        if (inFlight) {
          await inFlight
          failFast()
        }
      } finally {
        engine.dispose()
      }
      writer.flush()
      const counts = runs.counts(id)!
      if (!active.cancel && counts.done === 0 && counts.failed > 0) {
        // Nothing was computed: that is a failed run, whatever the per-image errors were.
        const why = runs.failures(id)[0]!
        throw new AppError(
          'INFERENCE_FAILED',
          `All ${counts.failed} images failed${why.images < counts.failed ? `; ${why.images} of them` : ''}: ${why.message}`,
        )
      }
      if (unmapped > 0)
        notes.push(
          `${unmapped} predictions had labels with no dataset category and were dropped: was the model exported for another class list?`,
        )
      const status = active.cancel ? 'cancelled' : 'done'
      runs.finish(id, status, notes.join(' ') || null)
    } catch (err) {
      try {
        writer.flush()
      } catch {
        // The store itself failed (a full disk): the images flushed before are what is kept.
      }
      const shape = (err as { code?: string }).code?.startsWith('SQLITE_')
        ? storeIoError(err, this.opts.dataDir).toShape()
        : toErrorShape(err)
      runs.fail(
        id,
        `${shape.message} Finished images are kept; resume continues from there.`,
        notes.join(' ') || null,
      )
    } finally {
      this.#active = null
      this.#live.delete(id)
      try {
        this.#emit(id)
      } finally {
        finish()
      }
    }
  }

  /** Batched writes of one run's results: one transaction per few images or per 400 ms. */
  #writer(runId: number, onFlush: () => void, onStoreError: () => void) {
    const db = this.opts.db
    const runs = runStore(db)
    const predictions = predictionStore(db)
    const attention = attentionMapStore(db)
    let buffer: (() => void)[] = []
    let last = Date.now()
    const flush = () => {
      if (buffer.length === 0) return
      const work = buffer
      buffer = []
      db.transaction(() => {
        for (const w of work) w()
        runs.refreshCounts(runId)
      })()
      last = Date.now()
      onFlush()
    }
    // Flushes triggered by a result run inside the inference process's message handler: a
    // store error there is kept (the failed transaction rolled back as a whole) and reported
    // to the run, never thrown into the event loop.
    let failure: unknown = null
    const maybeFlush = () => {
      if (failure || (buffer.length < FLUSH_EVERY && Date.now() - last <= FLUSH_MS)) return
      try {
        flush()
      } catch (err) {
        failure = err
        buffer = []
        onStoreError()
      }
    }
    return {
      result(r: ItemResult): number {
        let unmapped = 0
        const kept = (r.detections ?? []).filter((d): d is Detection & { categoryId: number } => {
          if (d.categoryId === null) unmapped++
          return d.categoryId !== null
        })
        buffer.push(() => {
          runs.imageDone(runId, r.imageId, r)
          predictions.replaceImage(runId, r.imageId, kept, r.semanticPng)
          attention.write(runId, r.imageId, r.attention ?? [])
        })
        maybeFlush()
        return unmapped
      },
      error(imageId: number, message: string) {
        buffer.push(() => runs.imageError(runId, imageId, message))
        maybeFlush()
      },
      flush: () => {
        if (failure) throw failure
        flush()
      },
      failure: () => failure,
    }
  }

  async shutdown(): Promise<void> {
    this.#queue = []
    if (this.#active) {
      this.#active.cancel = true
      this.#active.engine?.cancel()
    }
    await Promise.race([this.#idle, new Promise((r) => setTimeout(r, 5000).unref())])
  }
}
