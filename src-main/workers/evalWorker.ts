/**
 * Worker thread entry for evaluations (see `core/eval/workerProtocol.ts` for the messages). COCO
 * evaluation is synchronous CPU work of up to seconds, so it runs here, never on the thread that
 * serves the UI; so does reading a stored run's ground truth and predictions (`store-coco` jobs),
 * laying out a label-map run's PNGs for the Cityscapes evaluation (`store-cityscapes` jobs),
 * and recomputing the evaluation views' confusion matrix at another score threshold from them
 * (`store-confusion` jobs).
 */
import { parentPort } from 'node:worker_threads'
import { toErrorShape } from '../common/errors'
import type { EvalErrorReason } from '../core/eval/errors'
import type { EvalJob, EvalJobResult } from '../core/eval/job'
import { createEvalWorkerHost } from '../core/eval/workerHost'
import type { EvalWorkerMessage, EvalWorkerRequest } from '../core/eval/workerProtocol'
import {
  type RecomputedConfusion,
  resolveStoreCityscapesJob,
  resolveStoreJob,
  runStoreConfusionJob,
  type StoreCityscapesJob,
  type StoreCityscapesResult,
  type StoreCocoJob,
  type StoreConfusionJob,
} from '../core/evaluationInputs'

if (!parentPort) throw new Error('evalWorker must run as a worker thread')
const port = parentPort
const post = (
  message: EvalWorkerMessage<EvalJobResult | StoreCityscapesResult | RecomputedConfusion>,
) => port.postMessage(message)
const fail = (id: number, reason: EvalErrorReason, err: unknown): void => {
  const shape = toErrorShape(err)
  post({ type: 'error', id, code: shape.code, reason, message: shape.message, details: {} })
}
/** The image ids of a `store-cityscapes` job's files, sent back with its result. */
const cityscapesImageIds = new Map<number, [string, number][]>()
const host = createEvalWorkerHost((message) => {
  const imageIds = cityscapesImageIds.get(message.id)
  if (imageIds && message.type === 'result')
    post({ ...message, result: { ...message.result, imageIds } })
  else post(message)
})
type Request = EvalWorkerRequest<EvalJob | StoreCocoJob | StoreCityscapesJob | StoreConfusionJob>
port.on('message', (request: Request) => {
  if (request.type === 'run' && request.job.kind === 'store-confusion') {
    try {
      post({ type: 'result', id: request.id, result: runStoreConfusionJob(request.job) })
    } catch (err) {
      fail(request.id, 'EVAL_READ_FAILED', err)
    }
    return
  }
  if (request.type === 'run' && request.job.kind === 'store-cityscapes') {
    let resolved: ReturnType<typeof resolveStoreCityscapesJob>
    try {
      resolved = resolveStoreCityscapesJob(request.job)
    } catch (err) {
      fail(request.id, 'EVAL_READ_FAILED', err)
      return
    }
    cityscapesImageIds.set(request.id, resolved.imageIds)
    void host.handle({ ...request, job: resolved.job })
    return
  }
  if (request.type === 'run' && request.job.kind === 'store-coco') {
    let job: EvalJob
    try {
      job = resolveStoreJob(request.job)
    } catch (err) {
      fail(request.id, 'EVAL_READ_FAILED', err)
      return
    }
    void host.handle({ ...request, job })
    return
  }
  void host.handle(request as EvalWorkerRequest)
})
