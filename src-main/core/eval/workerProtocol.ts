/**
 * Messages between the app and the evaluation worker thread (`src-main/workers/evalWorker.ts`).
 *
 *   app -> worker   { type: 'run', id, job }      start a job
 *                   { type: 'cancel', id }        stop it between images (Cityscapes); a COCO
 *                                                 evaluation is one synchronous computation, so
 *                                                 the app terminates the worker instead
 *                                                 (`runEvalInWorker` does both)
 *   worker -> app   { type: 'progress', id, done, total }   (throttled, monotonic)
 *                   { type: 'result', id, result }          exactly once on success
 *                   { type: 'error', id, code, message, details }   exactly once on failure
 *
 * A job ends with exactly one `result` or `error`; nothing is posted after it. The result holds
 * typed arrays (structured clone keeps them) and is complete: a failed job posts no result.
 */
import type { ErrorCode } from '../../common/errors'
import type { EvalErrorReason } from './errors'
import type { EvalJob, EvalJobResult } from './job'

/** `J` lets a worker entry accept jobs it resolves into an `EvalJob` first (store-backed ones). */
export type EvalWorkerRequest<J = EvalJob> =
  { type: 'run'; id: number; job: J } | { type: 'cancel'; id: number }

/** `R` lets a worker entry answer jobs it runs itself (the views' confusion matrix, `store-confusion`). */
export type EvalWorkerMessage<R = EvalJobResult> =
  | { type: 'progress'; id: number; done: number; total: number }
  | { type: 'result'; id: number; result: R }
  | {
      type: 'error'
      id: number
      /** The app-wide code (INVALID_INPUT, CANCELLED, IO_ERROR, PARSE_ERROR, INTERNAL). */
      code: ErrorCode
      /** What exactly is wrong, e.g. EVAL_UNKNOWN_IMAGE. */
      reason: EvalErrorReason
      message: string
      details: Record<string, unknown>
    }
