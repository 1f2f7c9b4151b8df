/**
 * The worker side of the evaluation protocol, independent of `worker_threads` so it can be tested
 * in-process: feed it requests, it calls `post` with messages.
 */
import { EvalError } from './errors'
import { runEvalJob } from './job'
import type { EvalWorkerMessage, EvalWorkerRequest } from './workerProtocol'

/** Progress is posted at most this often (the UI repaints no faster), plus the final step. */
const PROGRESS_INTERVAL_MS = 50

export function createEvalWorkerHost(post: (message: EvalWorkerMessage) => void): {
  handle(request: EvalWorkerRequest): Promise<void>
} {
  const running = new Map<number, AbortController>()
  return {
    async handle(request) {
      if (request.type === 'cancel') {
        running.get(request.id)?.abort()
        return
      }
      const { id, job } = request
      const controller = new AbortController()
      running.set(id, controller)
      let lastPost = 0
      let lastDone = -1
      try {
        const result = await runEvalJob(job, {
          signal: controller.signal,
          onProgress: (done, total) => {
            const now = Date.now()
            if (done <= lastDone) return
            if (done === total || now - lastPost >= PROGRESS_INTERVAL_MS) {
              lastPost = now
              lastDone = done
              post({ type: 'progress', id, done, total })
            }
          },
        })
        post({ type: 'result', id, result })
      } catch (error) {
        if (error instanceof EvalError) {
          post({
            type: 'error',
            id,
            code: error.code,
            reason: error.reason,
            message: error.message,
            details: error.details,
          })
        } else {
          const e = error as Error
          post({
            type: 'error',
            id,
            code: 'INTERNAL',
            reason: 'EVAL_INTERNAL',
            message: `Evaluation failed unexpectedly: ${e?.stack ?? String(error)}`,
            details: {},
          })
        }
      } finally {
        running.delete(id)
      }
    },
  }
}
