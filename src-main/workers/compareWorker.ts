/** Worker thread entry for comparisons and their bootstrap helpers (see `core/compare/worker.ts`). */
import { parentPort, workerData } from 'node:worker_threads'
import {
  type CompareWorkerData,
  type CompareWorkerMessage,
  type CompareWorkerRequest,
  handleCompareRequest,
} from '../core/compare/worker'
import type { CompareJob } from '../core/compare/job'
import { resolveStoreCompareJob, type StoreCompareJob } from '../core/evaluationInputs'
import { toErrorShape } from '../common/errors'

if (!parentPort) throw new Error('compareWorker must run as a worker thread')
const port = parentPort
const post = (message: CompareWorkerMessage) => port.postMessage(message)
port.on('message', (request: CompareWorkerRequest<CompareJob | StoreCompareJob>) => {
  let resolved: CompareWorkerRequest
  if (request.type === 'run' && request.job.kind === 'store-coco') {
    // Inputs read here, with this thread's own store connection (see core/evaluationInputs.ts).
    post({ type: 'progress', done: 0, total: null, phase: 'Reading the runs' })
    try {
      resolved = { type: 'run', job: resolveStoreCompareJob(request.job) }
    } catch (error) {
      post({ type: 'error', error: toErrorShape(error) })
      return
    }
  } else resolved = request as CompareWorkerRequest
  void handleCompareRequest(resolved, post, workerData as CompareWorkerData | undefined)
})
