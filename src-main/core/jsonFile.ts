import fs from 'node:fs'
import type { z } from 'zod'
import { AppError } from '../common/errors'

/** Reads a small JSON file and checks it against a schema; errors name the file and the field. */
export function readJsonFile<T>(file: string, schema: z.ZodType<T>): T {
  let raw: unknown
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (err) {
    throw new AppError('INVALID_INPUT', `${file} is not valid JSON (${(err as Error).message}).`)
  }
  const parsed = schema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new AppError(
      'INVALID_INPUT',
      `${file}: ${issue?.path.join('.') || 'top level'}: ${issue?.message}.`,
    )
  }
  return parsed.data
}
