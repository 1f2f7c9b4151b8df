/** How every method of the contract is declared (`api.ts` and the per-domain files beside it). */
import type { z } from 'zod'

/**
 * Which input fields of a method name files or folders on the user's machine. The desktop host
 * lets such a method read only what the user chose in a native picker, so every path field must
 * be declared here (`test/unit/hosts/contract.test.ts` fails on an undeclared one).
 */
export interface MethodOptions {
  paths?: readonly string[]
}

export function method<I extends z.ZodType, O extends z.ZodType>(
  input: I,
  output: O,
  doc: string,
  options: MethodOptions = {},
) {
  return { input, output, doc, paths: options.paths ?? [] }
}
