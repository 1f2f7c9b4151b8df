import { isUtf8 } from 'node:buffer'
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
  const utf8 = utf8Checker()

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
      source.on('data', (data: string | Buffer) => {
        const chunk = typeof data === 'string' ? Buffer.from(data) : data
        const bad = utf8.check(chunk)
        if (bad !== null) {
          const e = invalidUtf8(file, bytesRead + bad.offset, bad.byte)
          fail(e)
          reject(e)
          return
        }
        bytesRead += chunk.length
        handlers.onProgress?.(bytesRead, totalBytes)
      })
      source.on('end', () => {
        const bad = utf8.end()
        if (bad !== null) {
          const e = invalidUtf8(file, bytesRead - bad.back, bad.byte)
          fail(e)
          reject(e)
        }
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

function invalidUtf8(file: string, offset: number, byte: number): AppError {
  return new AppError(
    'PARSE_ERROR',
    `${file} is not UTF-8: invalid byte 0x${byte.toString(16).toUpperCase().padStart(2, '0')} at byte offset ${offset}. JSON files must be UTF-8; convert it first (a Latin-1 file: iconv -f latin1 -t utf-8 in.json > out.json).`,
    { offset, byte },
  )
}

/**
 * Checks a byte stream is UTF-8 chunk by chunk (the decoder would silently turn invalid bytes
 * into U+FFFD, so Latin-1 class names became "caf\uFFFD"). Buffer.isUtf8 checks whole chunks
 * natively; a character cut at a chunk's end is carried into the next one. Only a failing
 * chunk is scanned byte by byte, to name the offset.
 */
export function utf8Checker() {
  let carry = Buffer.alloc(0)
  return {
    /** null, or the offset (relative to this chunk's first byte) of the first invalid byte. */
    check(chunk: Buffer): { offset: number; byte: number } | null {
      const data = carry.length ? Buffer.concat([carry, chunk]) : chunk
      const cut = incompleteTail(data)
      const body = data.subarray(0, data.length - cut)
      if (!isUtf8(body)) {
        const at = firstInvalid(body)
        return { offset: at - carry.length, byte: body[at]! }
      }
      carry = Buffer.from(data.subarray(data.length - cut))
      return null
    },
    /** At the end of the stream: a character cut off by the end is invalid too. */
    end(): { back: number; byte: number } | null {
      return carry.length ? { back: carry.length, byte: carry[0]! } : null
    },
  }
}

/** How many bytes at the end start a multi-byte character that is not complete yet. */
function incompleteTail(b: Buffer): number {
  for (let k = 1; k <= Math.min(3, b.length); k++) {
    const c = b[b.length - k]!
    if ((c & 0xc0) === 0x80) continue // continuation byte: look further back
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1
    return need > k ? k : 0
  }
  return 0
}

function firstInvalid(b: Buffer): number {
  let i = 0
  while (i < b.length) {
    const c = b[i]!
    const n =
      c < 0x80
        ? 1
        : c >= 0xc2 && c < 0xe0
          ? 2
          : c >= 0xe0 && c < 0xf0
            ? 3
            : c >= 0xf0 && c < 0xf5
              ? 4
              : 0
    if (n === 0) return i
    if (n > 1 && !isUtf8(b.subarray(i, i + n))) return i
    i += n
  }
  return b.length
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
