import fs from 'node:fs'
import Parser from 'stream-json/Parser.js'
import Assembler from 'stream-json/Assembler.js'
import Verifier from 'stream-json/utils/Verifier.js'
import { AppError } from '../../common/errors'

export interface TopLevelArrayHandlers {
  /** Called for each element of a picked top-level array, in file order. */
  onElement(key: string, index: number, value: unknown): void
  onProgress?(bytesRead: number, totalBytes: number): void
}

interface Token {
  name: string
  value?: string
}

/**
 * Streams a JSON file whose top level is an object and hands over, one at a time, the elements
 * of the top-level arrays named in `keys`; everything else is skipped without being built.
 * Memory stays bounded by the largest single element, so a 450 MB instances_train2017.json
 * never exists as one object. Uses stream-json's tokenizer and Assembler.
 */
export async function streamTopLevelArrays(
  file: string,
  keys: ReadonlySet<string>,
  handlers: TopLevelArrayHandlers,
  signal?: AbortSignal,
): Promise<{ keysSeen: string[] }> {
  const totalBytes = fs.statSync(file).size
  const source = fs.createReadStream(file, { highWaterMark: 1 << 20 })
  const parser = new Parser({ packValues: true, streamValues: false })
  const keysSeen: string[] = []

  // depth: 0 before the top object, 1 inside it, 2 inside a top-level value, ...
  let depth = 0
  let topKey: string | null = null
  let picking = false
  let index = 0
  let assembler: Assembler | null = null
  let bytesRead = 0
  let failure: unknown = null

  const fail = (err: unknown) => {
    if (failure === null) failure = err
    source.destroy()
    parser.destroy()
  }

  const onToken = (token: Token): void => {
    if (failure !== null) return
    const name = token.name
    if (assembler !== null) {
      // Building one element of a picked array.
      ;(assembler as unknown as Record<string, (v?: string) => void>)[name]?.call(
        assembler,
        token.value,
      )
      if (assembler.done) {
        handlers.onElement(topKey!, index++, assembler.current)
        assembler = null
      }
      return
    }
    switch (name) {
      case 'startObject':
      case 'startArray':
        if (depth === 0 && name !== 'startObject') {
          throw new AppError(
            'PARSE_ERROR',
            'The file is not a COCO annotation file: its top level is an array, expected an object with "images", "annotations" and "categories".',
          )
        }
        if (depth === 1 && topKey !== null && keys.has(topKey)) {
          if (name !== 'startArray') {
            throw new AppError('PARSE_ERROR', `"${topKey}" must be an array, found an object.`)
          }
          picking = true
          index = 0
        } else if (depth === 2 && picking) {
          assembler = new Assembler()
          ;(assembler as unknown as Record<string, () => void>)[name]!.call(assembler)
          return
        }
        depth++
        return
      case 'endObject':
      case 'endArray':
        depth--
        if (depth === 1) {
          picking = false
          topKey = null
        }
        return
      case 'keyValue':
        if (depth === 1) {
          topKey = token.value ?? ''
          keysSeen.push(topKey)
        }
        return
      default:
        // A scalar value.
        if (depth === 0) {
          throw new AppError(
            'PARSE_ERROR',
            'The file is not a COCO annotation file: its top level is not a JSON object.',
          )
        }
        if (depth === 1 && topKey !== null && keys.has(topKey)) {
          throw new AppError(
            'PARSE_ERROR',
            `"${topKey}" must be an array, found ${name.replace('Value', '')}.`,
          )
        }
        if (depth === 2 && picking) {
          throw new AppError(
            'PARSE_ERROR',
            `${topKey}[${index}] must be an object, found ${name.replace('Value', '')}.`,
          )
        }
        if (depth === 1) topKey = null
    }
  }

  const onAbort = () => fail(new AppError('CANCELLED', 'Import cancelled.'))
  if (signal) {
    if (signal.aborted) onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
  }

  try {
    await new Promise<void>((resolve, reject) => {
      source.on('data', (chunk) => {
        bytesRead += chunk.length
        handlers.onProgress?.(bytesRead, totalBytes)
      })
      source.on('error', (err) => reject(failure ?? err))
      parser.on('data', (token: Token) => {
        try {
          onToken(token)
        } catch (err) {
          fail(err)
          reject(err)
        }
      })
      parser.on('error', (err) => reject(failure ?? err))
      parser.on('end', () => (failure !== null ? reject(failure) : resolve()))
      parser.on('close', () => failure !== null && reject(failure))
      source.pipe(parser)
    })
  } catch (err) {
    if (err instanceof AppError) throw err
    if (failure instanceof AppError) throw failure
    throw await describeJsonError(file, err)
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
  if (depth !== 0) {
    throw await describeJsonError(file, new Error('unexpected end of file'))
  }
  return { keysSeen }
}

/** Finds the exact line, column and byte offset of a JSON syntax error (only on the error path). */
export async function describeJsonError(file: string, original: unknown): Promise<AppError> {
  const reason = original instanceof Error ? original.message : String(original)
  const where = await new Promise<{ line: number; pos: number; offset: number } | null>(
    (resolve) => {
      const verifier = new Verifier()
      verifier.on('error', (e: Error & { line?: number; pos?: number; offset?: number }) =>
        resolve(e.line ? { line: e.line, pos: e.pos ?? 0, offset: e.offset ?? 0 } : null),
      )
      verifier.on('finish', () => resolve(null))
      fs.createReadStream(file)
        .on('error', () => resolve(null))
        .pipe(verifier)
    },
  )
  if (where) {
    return new AppError(
      'PARSE_ERROR',
      `${file} is not valid JSON: error at line ${where.line}, column ${where.pos} (byte ${where.offset}). The file may be truncated or damaged.`,
      { ...where, reason },
    )
  }
  return new AppError('PARSE_ERROR', `${file} is not valid JSON (${reason}).`, { reason })
}
