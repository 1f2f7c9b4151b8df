/** Worker thread entry for comparisons and their bootstrap helpers (see `core/compare/worker.ts`). */
import { parentPort, workerData } from 'node:worker_threads'
import {
  type CompareWorkerData,
  type CompareWorkerMessage,
  type CompareWorkerRequest,
  handleCompareRequest,
} from '../core/compare/worker'

if (!parentPort) throw new Error('compareWorker must run as a worker thread')
const port = parentPort
port.on('message', (request: CompareWorkerRequest) => {
  void handleCompareRequest(
    request,
    (message: CompareWorkerMessage) => port.postMessage(message),
    workerData as CompareWorkerData | undefined,
  )
})
