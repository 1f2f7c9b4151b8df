import os from 'node:os'
import type { ImageInference } from '../../common/api'
import { AppError } from '../../common/errors'
import type { MediaService } from '../media'
import { getCategories, getDataset } from '../datasets/queries'
import { getModel, verifyModelFile } from '../models/registry'
import { imageStore } from '../store/images'
import type { Db } from '../store/store'
import { InferenceEngine, forkLauncher, type EngineInit, type ProcessLauncher } from './engine'
import { buildLabelTable } from './labels'
import { inferenceFromItem } from './results'
import { tappedModelInWorker } from '../models/workerClient'
import type { ExecutionProvider, ItemResult } from './protocol'

interface Warm {
  key: string
  modelId: number
  engine: InferenceEngine
  /** Resolves once the session is loaded; shared by requests that arrive meanwhile. */
  ready: Promise<{ ep: ExecutionProvider }>
  /** What the engine is counted as holding (model bytes times a session's overhead). */
  bytes: number
  lastUsed: number
  inFlight: number
}

/** onnxruntime holds the weights plus its arena and graph copies: about three times the file. */
const SESSION_OVERHEAD = 3

/**
 * Warm inference processes for interactive requests ("Run this image", a comparison running
 * one image on 2–4 models): one engine per model (and taps, and dataset label table), several
 * warm at once. A request holds the engine it was given from start to answer, so overlapping
 * requests for different models never meet on one engine. Engines not used for a while, or
 * the least recently used beyond `maxEngines` or the memory budget, are shut down; a request
 * still waiting on an engine that goes (or crashes) is rejected at once with the reason.
 */
export class EnginePool {
  #warm = new Map<string, Warm>()
  #timer: ReturnType<typeof setInterval> | null = null

  constructor(
    private readonly opts: {
      launcher?: ProcessLauncher
      maxEngines?: number
      budgetBytes?: number
      idleMs?: number
    } = {},
  ) {}

  get #budget(): number {
    return this.opts.budgetBytes ?? os.totalmem() / 4
  }

  /** Keys of the warm engines, most recently used first. */
  keys(): string[] {
    return [...this.#warm.values()].sort((a, b) => b.lastUsed - a.lastUsed).map((w) => w.key)
  }

  /**
   * Runs `use` on the engine for `key`, starting it with `init` when it is not warm. The
   * engine stays the same object for the whole call, whatever other requests do meanwhile.
   */
  async with<T>(
    key: string,
    modelId: number,
    bytes: number,
    init: () => Promise<EngineInit>,
    use: (engine: InferenceEngine, ep: ExecutionProvider) => Promise<T>,
  ): Promise<T> {
    let w = this.#warm.get(key)
    if (!w || !w.engine.alive) {
      if (w) this.#drop(w, 'The inference process for this model stopped.')
      this.#makeRoom(bytes)
      const engine = new InferenceEngine(this.opts.launcher ?? forkLauncher)
      const entry: Warm = {
        key,
        modelId,
        engine,
        ready: init().then((config) => engine.init(config)),
        bytes,
        lastUsed: Date.now(),
        inFlight: 0,
      }
      entry.ready.catch(() => this.#drop(entry, 'The model could not be loaded.'))
      this.#warm.set(key, entry)
      w = entry
    }
    const entry = w
    entry.inFlight++
    entry.lastUsed = Date.now()
    this.#arm()
    try {
      const { ep } = await entry.ready
      return await use(entry.engine, ep)
    } finally {
      entry.inFlight--
      entry.lastUsed = Date.now()
    }
  }

  /** Shuts down the engines of a model (removed, or its file changed). */
  forget(modelId: number, reason = 'The model was removed.'): void {
    for (const w of [...this.#warm.values()]) if (w.modelId === modelId) this.#drop(w, reason)
  }

  #drop(w: Warm, reason: string): void {
    if (this.#warm.get(w.key) === w) this.#warm.delete(w.key)
    w.engine.dispose(reason)
  }

  /** Least recently used idle engines go until `bytes` more fit (one engine always may). */
  #makeRoom(bytes: number): void {
    const max = this.opts.maxEngines ?? 4
    const idle = [...this.#warm.values()]
      .filter((w) => w.inFlight === 0)
      .sort((a, b) => a.lastUsed - b.lastUsed)
    const total = () => [...this.#warm.values()].reduce((n, w) => n + w.bytes, 0)
    while (idle.length && (this.#warm.size >= max || total() + bytes > this.#budget))
      this.#drop(idle.shift()!, 'The engine was closed to make room for another model.')
  }

  #arm(): void {
    const idleMs = this.opts.idleMs ?? 5 * 60_000
    if (this.#timer) return
    this.#timer = setInterval(
      () => {
        const now = Date.now()
        for (const w of [...this.#warm.values()])
          if (w.inFlight === 0 && now - w.lastUsed > idleMs)
            this.#drop(w, 'The engine was closed after being idle.')
        if (this.#warm.size === 0 && this.#timer) {
          clearInterval(this.#timer)
          this.#timer = null
        }
      },
      Math.min(idleMs, 30_000),
    )
    this.#timer.unref()
  }

  dispose(reason = 'The studio is closing.'): void {
    for (const w of [...this.#warm.values()]) this.#drop(w, reason)
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }
}

/** The viewer's "run this image now", on the engine pool. */
export class InteractiveInference {
  readonly pool: EnginePool

  constructor(
    private readonly opts: {
      db: Db
      dataDir: string
      media: MediaService
      launcher?: ProcessLauncher
      idleMs?: number
      maxEngines?: number
      budgetBytes?: number
    },
  ) {
    this.pool = new EnginePool({
      ...(opts.launcher ? { launcher: opts.launcher } : {}),
      ...(opts.idleMs ? { idleMs: opts.idleMs } : {}),
      ...(opts.maxEngines ? { maxEngines: opts.maxEngines } : {}),
      ...(opts.budgetBytes ? { budgetBytes: opts.budgetBytes } : {}),
    })
  }

  async image(modelId: number, imageId: number, taps: boolean): Promise<ImageInference> {
    const db = this.opts.db
    const model = getModel(db, modelId)
    const image = imageStore(db).file(imageId)
    if (!image) throw new AppError('NOT_FOUND', `Image ${imageId} does not exist.`)
    const dataset = getDataset(db, image.datasetId)
    // As a run does, on every request: a warm session must not answer for a file that was
    // truncated, replaced or deleted since.
    let modelFile: { size: number }
    try {
      modelFile = verifyModelFile(db, model)
    } catch (err) {
      this.pool.forget(model.id, (err as Error).message)
      throw err
    }
    const labelTable = buildLabelTable(
      model.config,
      getCategories(db, dataset.id),
      dataset.kind,
      model.card.classCount ?? null,
    )
    const useTaps = taps && model.card.gcBlocks.length > 0
    const key = `${model.id}:${model.sha256}:${useTaps}:${dataset.id}`
    const { probe } = await this.opts.media.pipeline(imageId)
    const file = this.opts.media.filePath(imageId)
    return this.pool.with(
      key,
      model.id,
      modelFile.size * SESSION_OVERHEAD,
      async () => {
        const tapped = useTaps ? await tappedModelInWorker(this.opts.dataDir, model) : null
        return {
          modelPath: tapped?.file ?? model.path,
          config: model.config,
          taps: tapped?.taps ?? null,
          ep: 'auto',
          threads: 0,
          labelTable,
        }
      },
      async (engine, ep) => {
        let result: ItemResult | null = null
        let failure: string | null = null
        await engine.infer(
          [
            {
              imageId,
              file,
              width: image.width,
              height: image.height,
              applyOrientation: probe.applyOrientation,
            },
          ],
          {
            onResult: (r) => (result = r),
            onImageError: (_id, message) => (failure = message),
          },
        )
        if (!result)
          throw new AppError('INFERENCE_FAILED', failure ?? 'The image produced no result.')
        return inferenceFromItem(result, model.card.gcBlocks, ep)
      },
    )
  }

  dispose(): void {
    this.pool.dispose()
  }
}
