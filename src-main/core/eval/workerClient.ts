/**
 * Running an evaluation on a worker thread from the app's main process (or the server's event
 * loop), which must never block on it. The caller passes the built worker entry's location (the
 * bundle layout is the build's business).
 */
import { Worker } from 'node:worker_threads'
import { EvalError } from './errors'
import type { EvalJob, EvalJobResult } from './job'
import type { EvalWorkerMessage, EvalWorkerRequest } from './workerProtocol'

export interface EvalInWorkerOptions {
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
}

/**
 * Starts a worker for one job and resolves with its result; rejects with an EvalError (the
 * worker's code; EVAL_ABORTED when `signal` fires; EVAL_INTERNAL if the worker dies). The worker is
 * terminated either way, which is also how a running COCO evaluation is stopped at once.
 */
export function runEvalInWorker<J extends { kind: string } = EvalJob, R = EvalJobResult>(
  workerEntry: string | URL,
  job: J,
  options: EvalInWorkerOptions = {},
): Promise<R> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerEntry)
    const id = 1
    let settled = false
    const finish = (action: () => void): void => {
      if (settled) return
      settled = true
      options.signal?.removeEventListener('abort', onAbort)
      void worker.terminate()
      action()
    }
    const onAbort = (): void => {
      worker.postMessage({ type: 'cancel', id } satisfies EvalWorkerRequest)
      finish(() => reject(new EvalError('EVAL_ABORTED', 'Evaluation was cancelled')))
    }
    worker.on('message', (message: EvalWorkerMessage<R>) => {
      if (message.type === 'progress') options.onProgress?.(message.done, message.total)
      else if (message.type === 'result') finish(() => resolve(message.result))
      else if (message.type === 'error') {
        finish(() => reject(new EvalError(message.reason, message.message, message.details)))
      }
    })
    worker.on('error', (error) =>
      finish(() =>
        reject(
          new EvalError(
            'EVAL_INTERNAL',
            `Evaluation worker crashed: ${error.stack ?? error.message}`,
          ),
        ),
      ),
    )
    worker.on('exit', (code) =>
      finish(() =>
        reject(
          new EvalError(
            'EVAL_INTERNAL',
            `Evaluation worker exited (code ${code}) before answering`,
          ),
        ),
      ),
    )
    options.signal?.addEventListener('abort', onAbort, { once: true })
    worker.postMessage({ type: 'run', id, job } satisfies EvalWorkerRequest<J>)
    if (options.signal?.aborted) onAbort()
  })
}
