/** Worker thread entry for comparisons (see `core/compare/worker.ts` for the messages). */
import { parentPort } from 'node:worker_threads'
import {
  type CompareWorkerMessage,
  type CompareWorkerRequest,
  handleCompareRequest,
} from '../core/compare/worker'

if (!parentPort) throw new Error('compareWorker must run as a worker thread')
const port = parentPort
port.on('message', (request: CompareWorkerRequest) => {
  void handleCompareRequest(request, (message: CompareWorkerMessage) => port.postMessage(message))
})
