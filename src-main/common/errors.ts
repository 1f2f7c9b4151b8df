/**
 * Errors cross every boundary (worker -> core -> host -> renderer) as plain values:
 * `{ ok: true, value } | { ok: false, error: { code, message, details } }`.
 */

export const errorCodes = [
  'INVALID_INPUT',
  'UNKNOWN_METHOD',
  'UNAUTHORIZED',
  'NOT_FOUND',
  'UNSUPPORTED',
  'CONFLICT',
  'PARSE_ERROR',
  'IMPORT_FAILED',
  'CANCELLED',
  'IO_ERROR',
  'STORE_LOCKED',
  'STORE_READONLY',
  'DISK_FULL',
  'INFERENCE_FAILED',
  'EVAL_FAILED',
  'INTERNAL',
] as const

export type ErrorCode = (typeof errorCodes)[number]

export interface ErrorShape {
  code: ErrorCode
  /** One sentence a person can act on: what is wrong and where. */
  message: string
  details?: unknown
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorShape }

export class AppError extends Error {
  override name = 'AppError'
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message)
  }

  toShape(): ErrorShape {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details }
  }
}

export const ok = <T>(value: T): Result<T> => ({ ok: true, value })

/** Turns anything thrown into an ErrorShape without losing an AppError's code. */
export function toErrorShape(err: unknown): ErrorShape {
  if (err instanceof AppError) return err.toShape()
  if (err && typeof err === 'object' && 'code' in err && 'message' in err) {
    const code = (err as { code: unknown }).code
    if (typeof code === 'string' && (errorCodes as readonly string[]).includes(code)) {
      return err as ErrorShape
    }
  }
  const message = err instanceof Error ? err.message : String(err)
  return { code: 'INTERNAL', message }
}
