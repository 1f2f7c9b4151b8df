/**
 * Running a comparison on a worker thread (`src-main/workers/compareWorker.ts`): matching and
 * the bootstrap are seconds of synchronous CPU work that must never run on the thread serving
 * the UI. The bootstrap's resamples are also split over helper threads of the same entry (one per
 * core, up to 8): each draws every resample from the seed and computes its share, so the
 * interval is the same whatever the number of threads. Messages:
 *
 *   app -> worker      { type: 'run', job }
 *   worker -> app      { type: 'progress', done, total, phase }   (throttled)
 *                      { type: 'result', result }                  exactly once on success
 *                      { type: 'error', error }                    exactly once on failure
 *   worker -> helper   { type: 'shard', tables, seed, resamples, shard, shards }
 *   helper -> worker   { type: 'shardResult', replicates } or { type: 'error', error }
 *
 * Cancelling terminates the worker (and with it its helpers): nothing it computed comes back.
 */
import os from 'node:os'
import { Worker } from 'node:worker_threads'
import { AppError, type ErrorShape, toErrorShape } from '../../common/errors'
import type { CocoMatchTable } from '../eval/cocoEval'
import { apDeltaReplicates, mergeShards } from './cocoCompare'
import { type CompareHooks, type CompareJob, type CompareJobResult, runCompareJob } from './job'

/** `J` lets the worker entry accept jobs it resolves into a `CompareJob` first (store-backed). */
export type CompareWorkerRequest<J = CompareJob> =
  | { type: 'run'; job: J }
  | {
      type: 'shard'
      tables: CocoMatchTable[]
      seed: number
      resamples: number
      shard: number
      shards: number
    }
export type CompareWorkerMessage =
  | { type: 'progress'; done: number; total: number | null; phase: string }
  | { type: 'result'; result: CompareJobResult }
  | { type: 'shardResult'; replicates: Float64Array[] }
  | { type: 'error'; error: ErrorShape }

/** What the worker entry was started with: its own file, so it can start helpers. */
export interface CompareWorkerData {
  entry: string
}

const PROGRESS_INTERVAL_MS = 100
const MAX_THREADS = 8

const errorShape = (error: unknown): ErrorShape => {
  const shape = toErrorShape(error)
  return shape.code === 'INTERNAL'
    ? { ...shape, message: `Comparison failed: ${(error as Error)?.stack ?? shape.message}` }
    : shape
}

/** The AP bootstrap split over helper threads; shard 0 runs here meanwhile. */
function shardedReplicates(entry: string, threads: number): CompareHooks['apReplicates'] {
  return async (tables, options) => {
    const helpers = Array.from({ length: threads - 1 }, (_, i) =>
      runInWorker<Float64Array[]>(
        entry,
        {
          type: 'shard',
          tables,
          seed: options.seed,
          resamples: options.resamples,
          shard: i + 1,
          shards: threads,
        },
        (m) => (m.type === 'shardResult' ? m.replicates : undefined),
      ),
    )
    // A helper that fails must not surface as an unhandled rejection while shard 0 computes.
    for (const h of helpers) h.catch(() => undefined)
    const own = apDeltaReplicates(tables, { ...options, shard: 0, shards: threads })
    return mergeShards([own, ...(await Promise.all(helpers))])
  }
}

/** The worker side, independent of worker_threads so it can run in-process. */
export async function handleCompareRequest(
  request: CompareWorkerRequest,
  post: (message: CompareWorkerMessage) => void,
  data?: CompareWorkerData,
): Promise<void> {
  try {
    if (request.type === 'shard') {
      const { tables, seed, resamples, shard, shards } = request
      post({
        type: 'shardResult',
        replicates: apDeltaReplicates(tables, { seed, resamples, shard, shards }),
      })
      return
    }
    let last = 0
    const threads = Math.min(MAX_THREADS, os.availableParallelism())
    const result = await runCompareJob(request.job, {
      onProgress: (done, total, phase) => {
        const now = Date.now()
        if (done === total || now - last >= PROGRESS_INTERVAL_MS) {
          last = now
          post({ type: 'progress', done, total, phase })
        }
      },
      ...(data && threads > 1 ? { apReplicates: shardedReplicates(data.entry, threads) } : {}),
    })
    post({ type: 'result', result })
  } catch (error) {
    post({ type: 'error', error: errorShape(error) })
  }
}

/** Starts a worker of `entry` for one request and resolves with what `pick` takes of its answer. */
function runInWorker<T, J = CompareJob>(
  entry: string,
  request: CompareWorkerRequest<J>,
  pick: (message: CompareWorkerMessage) => T | undefined,
  options: {
    onProgress?: (done: number, total: number | null, phase: string) => void
    signal?: AbortSignal
  } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(entry, { workerData: { entry } satisfies CompareWorkerData })
    let settled = false
    const finish = (action: () => void): void => {
      if (settled) return
      settled = true
      options.signal?.removeEventListener('abort', onAbort)
      void worker.terminate()
      action()
    }
    const onAbort = (): void =>
      finish(() => reject(new AppError('CANCELLED', 'The comparison was cancelled.')))
    worker.on('message', (message: CompareWorkerMessage) => {
      if (message.type === 'progress')
        options.onProgress?.(message.done, message.total, message.phase)
      else if (message.type === 'error')
        finish(() =>
          reject(new AppError(message.error.code, message.error.message, message.error.details)),
        )
      else {
        const value = pick(message)
        if (value !== undefined) finish(() => resolve(value))
      }
    })
    worker.on('error', (error) =>
      finish(() => reject(new AppError('INTERNAL', `Comparison worker crashed: ${error.message}`))),
    )
    worker.on('exit', (code) =>
      finish(() =>
        reject(
          new AppError('INTERNAL', `Comparison worker exited (code ${code}) before answering`),
        ),
      ),
    )
    options.signal?.addEventListener('abort', onAbort, { once: true })
    worker.postMessage(request)
    if (options.signal?.aborted) onAbort()
  })
}

export function runCompareInWorker<J extends { kind: string } = CompareJob>(
  workerEntry: string,
  job: J,
  options: {
    onProgress?: (done: number, total: number | null, phase: string) => void
    signal?: AbortSignal
  } = {},
): Promise<CompareJobResult> {
  return runInWorker(
    workerEntry,
    { type: 'run', job },
    (m) => (m.type === 'result' ? m.result : undefined),
    options,
  )
}
