/**
 * Attention analytics of stored runs (issue 11): statistics computed once on a worker thread and
 * kept in the store, per-image rows, the attention grid (the paper's Fig. 5) and the
 * context-vector space. Thin on purpose: the statistics live in `core/attention`, the SQL in
 * `store/attentionStats.ts`, the job in `attentionJob.ts`.
 */
import { Worker } from 'node:worker_threads'
import type {
  AttentionGrid,
  AttentionParams,
  AttentionStats,
  ContextSpace,
} from '../common/api/attention'
import { AttentionParams as ParamsSchema } from '../common/api/attention'
import { AppError, type ErrorShape } from '../common/errors'
import { seededRandom } from './attention/aggregate'
import { checkRunForAttention, type JobContext } from './attentionJob'
import { computeRunTaps } from './attentionTaps'
import type { ProcessLauncher } from './inference/engine'
import { builtWorkerPath } from './paths'
import {
  evaluationOutcomes,
  finishedRunImage,
  finishedRunImageIds,
  findStats,
  imageGridMaps,
  imageStats,
  latestStats,
  paramsKey,
  runForAttention,
  runImagesOfClass,
} from './store/attentionStats'
import type { Db } from './store/store'

export type AttentionWorkerRequest =
  | { type: 'stats'; runId: number; params: AttentionParams }
  | { type: 'space'; runId: number; block: number }

export interface AttentionWorkerData {
  dataDir: string
  nativeBinding?: string
  request: AttentionWorkerRequest
}

export type AttentionWorkerMessage =
  | { type: 'progress'; done: number; total: number | null; phase: string }
  | { type: 'result'; result: AttentionStats | ContextSpace }
  | { type: 'error'; error: ErrorShape }

/** Runs one request on a fresh worker thread; cancelled through `ctx.signal`. */
export function runAttentionWorker<T>(
  data: AttentionWorkerData,
  ctx: Partial<JobContext> = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(builtWorkerPath('attentionWorker'), { workerData: data })
    let settled = false
    const finish = (f: () => void) => {
      if (settled) return
      settled = true
      ctx.signal?.removeEventListener('abort', onAbort)
      void worker.terminate()
      f()
    }
    // The job stops at its next image and marks its row failed; a worker that does not answer
    // within a second is terminated.
    const onAbort = () => {
      worker.postMessage({ type: 'cancel' })
      setTimeout(
        () => finish(() => reject(new AppError('CANCELLED', 'Attention computation cancelled.'))),
        1000,
      ).unref()
    }
    ctx.signal?.addEventListener('abort', onAbort, { once: true })
    worker.on('message', (m: AttentionWorkerMessage) => {
      if (m.type === 'progress') ctx.progress?.(m.done, m.total, m.phase)
      else if (m.type === 'result') finish(() => resolve(m.result as T))
      else finish(() => reject(new AppError(m.error.code, m.error.message, m.error.details)))
    })
    worker.on('error', (err) =>
      finish(() =>
        reject(new AppError('INTERNAL', `The attention worker crashed: ${err.message}`)),
      ),
    )
    worker.on('exit', (code) =>
      finish(() =>
        reject(new AppError('INTERNAL', `The attention worker exited (code ${code}) early.`)),
      ),
    )
  })
}

export class AttentionAnalytics {
  readonly #inFlight = new Map<string, Promise<AttentionStats>>()

  readonly #tapping = new Map<number, Promise<{ runId: number; images: number }>>()
  /** Aborted when the studio closes: workers and the taps' inference process stop with it. */
  readonly #closing = new AbortController()

  constructor(
    private readonly opts: {
      db: Db
      dataDir: string
      nativeBinding?: string
      /** How the inference process starts (taps on demand). */
      launcher?: ProcessLauncher
    },
  ) {}

  /** Attention maps for a run made without taps; one computation per run at a time. */
  tap(runId: number, ctx?: Partial<JobContext>): Promise<{ runId: number; images: number }> {
    let job = this.#tapping.get(runId)
    if (!job) {
      job = computeRunTaps(
        this.opts.db,
        this.opts.dataDir,
        runId,
        {
          signal: this.#signal(ctx?.signal),
          progress: ctx?.progress ?? (() => {}),
        },
        this.opts.launcher,
      ).finally(() => this.#tapping.delete(runId))
      this.#tapping.set(runId, job)
    }
    return job
  }

  #signal(own?: AbortSignal): AbortSignal {
    return own ? AbortSignal.any([own, this.#closing.signal]) : this.#closing.signal
  }

  #worker<T>(request: AttentionWorkerRequest, ctx?: Partial<JobContext>): Promise<T> {
    return runAttentionWorker<T>(
      {
        dataDir: this.opts.dataDir,
        ...(this.opts.nativeBinding ? { nativeBinding: this.opts.nativeBinding } : {}),
        request,
      },
      { ...ctx, signal: this.#signal(ctx?.signal) },
    )
  }

  /** Stops running computations (the studio is closing); their rows are marked failed. */
  dispose(): void {
    this.#closing.abort()
  }

  /** Stored statistics for the run as it is now, else its most complete earlier ones, else null. */
  stats(runId: number, params?: Partial<AttentionParams>): AttentionStats | null {
    const p = ParamsSchema.parse(params ?? {})
    const run = runForAttention(this.opts.db, runId)
    if (!run) throw new AppError('NOT_FOUND', `Run ${runId} does not exist.`)
    const exact = findStats(this.opts.db, run, p)
    if (exact?.status === 'done') return exact
    return latestStats(this.opts.db, run, p)
  }

  /** Whether statistics for the run as it is now are stored (then `compute` answers at once). */
  isStored(runId: number, params?: Partial<AttentionParams>): boolean {
    const run = runForAttention(this.opts.db, runId)
    return (
      !!run && findStats(this.opts.db, run, ParamsSchema.parse(params ?? {}))?.status === 'done'
    )
  }

  /**
   * Computes the statistics on a worker unless they are stored; concurrent requests for the same
   * run state share one computation.
   */
  compute(
    runId: number,
    params?: Partial<AttentionParams>,
    ctx?: Partial<JobContext>,
  ): Promise<AttentionStats> {
    const p = ParamsSchema.parse(params ?? {})
    const run = checkRunForAttention(this.opts.db, runId)
    const stored = findStats(this.opts.db, run, p)
    if (stored?.status === 'done') return Promise.resolve(stored)
    const key = `${runId}:${run.gtVersion}:${paramsKey(p)}:${run.imagesDone}`
    let job = this.#inFlight.get(key)
    if (!job) {
      job = this.#worker<AttentionStats>({ type: 'stats', runId, params: p }, ctx).finally(() =>
        this.#inFlight.delete(key),
      )
      this.#inFlight.set(key, job)
    }
    return job
  }

  images(
    statsId: number,
    block: number,
    order: 'entropy' | 'top1Mass' | 'inObjectRatio' | 'contextMass',
    direction: 'asc' | 'desc',
    limit: number,
  ) {
    return imageStats(this.opts.db, statsId, block, order, direction, limit)
  }

  space(runId: number, block: number): Promise<ContextSpace> {
    checkRunForAttention(this.opts.db, runId)
    return this.#worker<ContextSpace>({ type: 'space', runId, block })
  }

  /** Images chosen from the first run, shown for every run, one row per run. */
  grid(
    runIds: number[],
    pick:
      | { mode: 'random'; seed: number }
      | { mode: 'class'; categoryId: number; seed: number }
      | { mode: 'worst' }
      | { mode: 'images'; imageIds: number[] },
    count: number,
    blocks: 'stages' | 'all',
  ): AttentionGrid {
    const db = this.opts.db
    const runs = runIds.map((id) => checkRunForAttention(db, id))
    const first = runs[0]!
    if (runs.some((r) => r.datasetId !== first.datasetId))
      throw new AppError(
        'INVALID_INPUT',
        `Runs ${runIds.join(', ')} are on different datasets; an attention grid compares runs of one dataset.`,
      )
    const shuffle = (ids: number[], seed: number) => {
      const random = seededRandom(seed)
      const a = [...ids]
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1))
        ;[a[i], a[j]] = [a[j]!, a[i]!]
      }
      return a.slice(0, count)
    }
    let imageIds: number[]
    if (pick.mode === 'images') imageIds = pick.imageIds.slice(0, count)
    else if (pick.mode === 'random')
      imageIds = shuffle(finishedRunImageIds(db, first.id), pick.seed)
    else if (pick.mode === 'class') {
      const ids = runImagesOfClass(db, first.id, pick.categoryId)
      if (ids.length === 0)
        throw new AppError(
          'NOT_FOUND',
          `No finished image of run ${first.id} holds category ${pick.categoryId}.`,
        )
      imageIds = shuffle(ids, pick.seed)
    } else {
      const outcomes = evaluationOutcomes(db, first.id)
      if (!outcomes)
        throw new AppError(
          'CONFLICT',
          `Run ${first.id} has no evaluation: evaluate it to pick its worst images.`,
        )
      imageIds = [...outcomes]
        .filter(([, o]) => o.score !== null)
        .sort((a, b) => a[1].score! - b[1].score! || a[0] - b[0])
        .slice(0, count)
        .map(([id]) => id)
    }
    let lo = Infinity
    let hi = -Infinity
    const images: AttentionGrid['images'] = []
    for (const id of imageIds) {
      const img = finishedRunImage(db, first.id, id)
      if (img)
        images.push({ imageId: id, fileName: img.fileName, width: img.width, height: img.height })
    }
    const rows = runs.map((run) => {
      const chosen = new Set(
        blocks === 'all'
          ? run.gcBlocks.map((b) => b.index)
          : run.gcBlocks.filter((b) => !b.stage || b.indexInStage === 0).map((b) => b.index),
      )
      return {
        runId: run.id,
        label: `${run.modelName} (run ${run.id})`,
        cells: images.map((img) => {
          const ri = finishedRunImage(db, run.id, img.imageId)
          if (!ri?.geometry) return null
          const g = ri.geometry
          const maps = imageGridMaps(db, run.id, img.imageId, [...chosen]).map((m) => {
            const info = run.gcBlocks.find((b) => b.index === m.block_index)
            const n = m.height * m.width
            const range = m.max_value - m.min_value
            let sum = 0
            for (let k = 0; k < m.data.length; k++) sum += m.min_value + (m.data[k]! / 255) * range
            // Relative to uniform: p * N, so maps of different sizes share one scale.
            const low = (m.min_value / sum) * n
            const high = (m.max_value / sum) * n
            lo = Math.min(lo, low)
            hi = Math.max(hi, high)
            return {
              block: m.block_index,
              stage: info?.stage ?? null,
              indexInStage: info?.indexInStage ?? m.block_index,
              height: m.height,
              width: m.width,
              low,
              high,
              data: m.data.toString('base64'),
            }
          })
          return {
            frameWidth: g.inputWidth / g.scaleX,
            frameHeight: g.inputHeight / g.scaleY,
            maps,
          }
        }),
      }
    })
    return {
      images,
      rows,
      scale: { lo: Number.isFinite(lo) ? lo : 0, hi: Number.isFinite(hi) ? hi : 1 },
    }
  }
}
