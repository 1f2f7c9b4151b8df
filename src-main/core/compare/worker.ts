/**
 * Running a comparison on a worker thread (`src-main/workers/compareWorker.ts`): matching and
 * the bootstrap are seconds of synchronous CPU work that must never run on the thread serving
 * the UI. Messages:
 *
 *   app -> worker   { type: 'run', job }
 *   worker -> app   { type: 'progress', done, total, phase }   (throttled)
 *                   { type: 'result', result }                  exactly once on success
 *                   { type: 'error', error }                    exactly once on failure
 *
 * Cancelling terminates the worker: nothing it computed comes back.
 */
import { Worker } from 'node:worker_threads'
import { AppError, type ErrorShape, toErrorShape } from '../../common/errors'
import { type CompareJob, type CompareJobResult, runCompareJob } from './job'

export type CompareWorkerRequest = { type: 'run'; job: CompareJob }
export type CompareWorkerMessage =
  | { type: 'progress'; done: number; total: number | null; phase: string }
  | { type: 'result'; result: CompareJobResult }
  | { type: 'error'; error: ErrorShape }

const PROGRESS_INTERVAL_MS = 100

/** The worker side, independent of worker_threads so it can run in-process. */
export async function handleCompareRequest(
  request: CompareWorkerRequest,
  post: (message: CompareWorkerMessage) => void,
): Promise<void> {
  let last = 0
  try {
    const result = await runCompareJob(request.job, {
      onProgress: (done, total, phase) => {
        const now = Date.now()
        if (done === total || now - last >= PROGRESS_INTERVAL_MS) {
          last = now
          post({ type: 'progress', done, total, phase })
        }
      },
    })
    post({ type: 'result', result })
  } catch (error) {
    const shape = toErrorShape(error)
    post({
      type: 'error',
      error:
        shape.code === 'INTERNAL'
          ? { ...shape, message: `Comparison failed: ${(error as Error)?.stack ?? shape.message}` }
          : shape,
    })
  }
}

export function runCompareInWorker(
  workerEntry: string,
  job: CompareJob,
  options: {
    onProgress?: (done: number, total: number | null, phase: string) => void
    signal?: AbortSignal
  } = {},
): Promise<CompareJobResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerEntry)
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
      else if (message.type === 'result') finish(() => resolve(message.result))
      else
        finish(() =>
          reject(new AppError(message.error.code, message.error.message, message.error.details)),
        )
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
    worker.postMessage({ type: 'run', job } satisfies CompareWorkerRequest)
    if (options.signal?.aborted) onAbort()
  })
}
