/**
 * Worker thread entry for evaluations (see `core/eval/workerProtocol.ts` for the messages). COCO
 * evaluation is synchronous CPU work of up to seconds, so it runs here, never on the thread that
 * serves the UI; so does reading a stored run's ground truth and predictions (`store-coco` jobs).
 */
import { parentPort } from 'node:worker_threads'
import { toErrorShape } from '../common/errors'
import type { EvalJob } from '../core/eval/job'
import { createEvalWorkerHost } from '../core/eval/workerHost'
import type { EvalWorkerMessage, EvalWorkerRequest } from '../core/eval/workerProtocol'
import { resolveStoreJob, type StoreCocoJob } from '../core/evaluationInputs'

if (!parentPort) throw new Error('evalWorker must run as a worker thread')
const port = parentPort
const post = (message: EvalWorkerMessage) => port.postMessage(message)
const host = createEvalWorkerHost(post)
port.on('message', (request: EvalWorkerRequest<EvalJob | StoreCocoJob>) => {
  if (request.type === 'run' && request.job.kind === 'store-coco') {
    let job: EvalJob
    try {
      job = resolveStoreJob(request.job)
    } catch (err) {
      const shape = toErrorShape(err)
      post({
        type: 'error',
        id: request.id,
        code: shape.code,
        reason: 'EVAL_READ_FAILED',
        message: shape.message,
        details: {},
      })
      return
    }
    void host.handle({ ...request, job })
    return
  }
  void host.handle(request as EvalWorkerRequest)
})
