/**
 * Worker thread entry for evaluations (see `core/eval/workerProtocol.ts` for the messages). COCO
 * evaluation is synchronous CPU work of up to seconds, so it runs here, never on the thread that
 * serves the UI.
 */
import { parentPort } from 'node:worker_threads'
import { createEvalWorkerHost } from '../core/eval/workerHost'
import type { EvalWorkerMessage, EvalWorkerRequest } from '../core/eval/workerProtocol'

if (!parentPort) throw new Error('evalWorker must run as a worker thread')
const port = parentPort
const host = createEvalWorkerHost((message: EvalWorkerMessage) => port.postMessage(message))
port.on('message', (request: EvalWorkerRequest) => {
  void host.handle(request)
})
