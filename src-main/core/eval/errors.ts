/**
 * Every way an evaluation input can be wrong. The code is stable (scripts and the UI branch on it);
 * the message names the first offending entry so a person can find it in their file.
 */
export type EvalErrorCode =
  | 'EVAL_BAD_INPUT' // structurally wrong JSON: missing arrays, wrong types
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

export class EvalError extends Error {
  override name = 'EvalError'
  readonly code: EvalErrorCode
  /** Machine-readable pointer to the offending entry, e.g. `{ index: 12, imageId: 397133 }`. */
  readonly details: Record<string, unknown>

  constructor(code: EvalErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message)
    this.code = code
    this.details = details
  }
}

export function isEvalError(error: unknown): error is EvalError {
  return error instanceof EvalError
}

/** Throws `EVAL_ABORTED` when the caller's signal fired; called between units of work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new EvalError('EVAL_ABORTED', 'Evaluation was cancelled')
}
