import type { z } from 'zod'
import { contract, type Contract, type Method, type MethodOutput } from '../common/api'
import { AppError, toErrorShape, type Result } from '../common/errors'
import { isStoreFailure, storeIoError } from './store/store'

export type MethodHandler<M extends Method> = (
  input: z.output<Contract[M]['input']>,
) => MethodOutput<M> | Promise<MethodOutput<M>>

export type Handlers = { [M in Method]: MethodHandler<M> }

export type Dispatch = (method: string, input: unknown) => Promise<Result<unknown>>

const validateOutputs = Boolean(process.env.VITEST || process.env.GCSTUDIO_STRICT)

/**
 * The one entry point both hosts call: looks the method up in the contract, validates the input
 * with its zod schema, runs the handler and returns a Result. Nothing thrown escapes as an
 * exception; invalid input never reaches a service. Outputs are validated too under test.
 */
export function createDispatcher(
  handlers: Handlers,
  log: (line: string) => void = () => {},
  /** The data folder, named in store errors (a lock held too long, a full disk). */
  dataDir = 'the data folder',
): Dispatch {
  return async (method, input) => {
    if (typeof method !== 'string' || !Object.hasOwn(contract, method)) {
      return {
        ok: false,
        error: { code: 'UNKNOWN_METHOD', message: `Unknown method "${String(method)}".` },
      }
    }
    const m = method as Method
    const spec = contract[m]
    const parsed = spec.input.safeParse(input ?? {})
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      const where = issue?.path.length ? ` at "${issue.path.join('.')}"` : ''
      return {
        ok: false,
        error: {
          code: 'INVALID_INPUT',
          message: `Invalid input for ${m}${where}: ${issue?.message ?? 'rejected'}.`,
          details: parsed.error.issues,
        },
      }
    }
    const started = performance.now()
    try {
      const handler = handlers[m] as (i: unknown) => unknown
      const value = await handler(parsed.data)
      if (validateOutputs) {
        const out = spec.output.safeParse(value)
        if (!out.success)
          throw new AppError(
            'INTERNAL',
            `${m} returned a value that breaks its contract: ${out.error.message}`,
          )
      }
      return { ok: true, value }
    } catch (err) {
      return {
        ok: false,
        error: toErrorShape(isStoreFailure(err) ? storeIoError(err, dataDir) : err),
      }
    } finally {
      const ms = performance.now() - started
      if (ms > 200) log(`slow call ${m}: ${ms.toFixed(0)} ms`)
    }
  }
}
