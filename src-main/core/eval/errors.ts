/**
 * Evaluation errors are AppErrors (so they cross the worker / host / renderer boundaries with the
 * app's error codes) that also carry a precise `reason` scripts and the UI can branch on. The
 * message names the first offending entry so a person can find it in their file.
 */
import { AppError, type ErrorCode } from '../../common/errors'

export type EvalErrorReason =
  | 'EVAL_BAD_INPUT' // structurally wrong input: missing arrays, wrong types
  | 'EVAL_READ_FAILED' // a file or directory that cannot be read
  | 'EVAL_BAD_JSON' // a file that is not JSON
  | 'EVAL_DUPLICATE_ID' // two images, categories or annotations share an id
  | 'EVAL_UNKNOWN_IMAGE' // a result names an image id the ground truth does not have
  | 'EVAL_UNKNOWN_CATEGORY' // a result names a category id the ground truth does not have
  | 'EVAL_BAD_BOX' // a box that is not four finite numbers with non-negative width and height
  | 'EVAL_BAD_SCORE' // a missing or non-finite score
  | 'EVAL_BAD_SEGMENTATION' // a polygon or RLE that cannot be rasterised
  | 'EVAL_BAD_RLE' // a compressed RLE string that is not what maskApi writes
  | 'EVAL_MASK_SIZE' // a mask whose size is not its image's size
  | 'EVAL_BAD_PNG' // a PNG that cannot be decoded (truncated, corrupt, wrong colour type)
  | 'EVAL_IMAGE_SIZE' // a prediction PNG whose size differs from its ground truth
  | 'EVAL_LABEL_OUT_OF_SET' // a pixel value that is not a Cityscapes label (or train) id
  | 'EVAL_PAIRING' // Cityscapes files that cannot be paired one to one
  | 'EVAL_ABORTED' // cancelled by the caller
  | 'EVAL_INTERNAL' // a bug in the evaluator, not in the input (the message carries the stack)

function appCode(reason: EvalErrorReason): ErrorCode {
  switch (reason) {
    case 'EVAL_ABORTED':
      return 'CANCELLED'
    case 'EVAL_INTERNAL':
      return 'INTERNAL'
    case 'EVAL_READ_FAILED':
      return 'IO_ERROR'
    case 'EVAL_BAD_JSON':
      return 'PARSE_ERROR'
    default:
      return 'INVALID_INPUT'
  }
}

export class EvalError extends AppError {
  override name = 'EvalError'
  readonly reason: EvalErrorReason
  /** `{ reason, ...pointer to the offending entry }`, e.g. `{ reason, index: 12, imageId: 397133 }`. */
  declare readonly details: Record<string, unknown> & { reason: EvalErrorReason }

  constructor(reason: EvalErrorReason, message: string, details: Record<string, unknown> = {}) {
    super(appCode(reason), message, { ...details, reason })
    this.reason = reason
  }
}

export function isEvalError(error: unknown): error is EvalError {
  return error instanceof EvalError
}

/** Throws `EVAL_ABORTED` when the caller's signal fired; called between units of work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new EvalError('EVAL_ABORTED', 'Evaluation was cancelled')
}
