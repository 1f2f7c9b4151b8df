/**
 * Reading label PNGs the way the Cityscapes script's `np.array(Image.open(f))` sees them: one
 * value per pixel. Greyscale (8- and 16-bit) decodes through sharp; palette PNGs, which mmseg and
 * others write for labelIds, decode here to their palette indices, because sharp (libvips) expands
 * a palette to colours and several Cityscapes labels share a colour.
 */
import { inflateSync } from 'node:zlib'

/**
 * sharp (libvips) is loaded on first use: COCO evaluations never decode a PNG, and loading it
 * costs a `gcstudio eval coco` process a tenth of a second.
 */
const loadSharp = async () => (await import('sharp')).default
import { EvalError } from './errors'

export interface LabelImage {
  width: number
  height: number
  /** Row-major values: 8-bit PNGs give bytes, 16-bit (instanceIds) give Uint16. */
  data: Uint8Array | Uint16Array
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

interface PngHeader {
  width: number
  height: number
  bitDepth: number
  colorType: number
  interlace: number
}

function bad(name: string, reason: string): EvalError {
  return new EvalError('EVAL_BAD_PNG', `${name}: ${reason}`, { file: name })
}

function readHeader(buffer: Uint8Array, name: string): PngHeader {
  if (buffer.length < 33 || SIGNATURE.some((byte, i) => buffer[i] !== byte)) {
    throw bad(name, 'not a PNG file')
  }
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength)
  if (String.fromCharCode(...buffer.subarray(12, 16)) !== 'IHDR') throw bad(name, 'PNG has no IHDR')
  return {
    width: view.getUint32(16),
    height: view.getUint32(20),
    bitDepth: buffer[24]!,
    colorType: buffer[25]!,
    interlace: buffer[28]!,
  }
}

/** Decodes a single-channel label PNG (greyscale or palette indices). */
export async function decodeLabelPng(buffer: Uint8Array, name: string): Promise<LabelImage> {
  const header = readHeader(buffer, name)
  if (header.colorType === 3) return decodePaletteIndices(buffer, header, name)
  if (header.colorType !== 0) {
    const channels = { 2: 3, 4: 2, 6: 4 }[header.colorType] ?? '?'
    throw bad(name, `has ${channels} channels; a label image must have one (greyscale or palette)`)
  }
  if (header.bitDepth !== 8 && header.bitDepth !== 16) {
    throw bad(name, `is a ${header.bitDepth}-bit greyscale PNG; label images are 8- or 16-bit`)
  }
  try {
    const sharp = await loadSharp()
    if (header.bitDepth === 16) {
      // Plain `.raw({ depth: 'ushort' })` converts to sRGB and rescales; grey16 keeps the values.
      const { data, info } = await sharp(buffer)
        .toColourspace('grey16')
        .raw({ depth: 'ushort' })
        .toBuffer({ resolveWithObject: true })
      checkShape(info, header, name)
      const values = new Uint16Array(data.length / 2)
      new Uint8Array(values.buffer).set(data)
      return { width: info.width, height: info.height, data: values }
    }
    // Without an explicit colourspace libvips hands greyscale back as sRGB (three channels).
    const { data, info } = await sharp(buffer)
      .toColourspace('b-w')
      .raw()
      .toBuffer({ resolveWithObject: true })
    checkShape(info, header, name)
    return { width: info.width, height: info.height, data: new Uint8Array(data) }
  } catch (error) {
    if (error instanceof EvalError) throw error
    throw bad(name, `cannot be decoded (${(error as Error).message}); is it truncated?`)
  }
}

function checkShape(
  info: { width: number; height: number; channels: number },
  header: PngHeader,
  name: string,
): void {
  if (info.channels !== 1 || info.width !== header.width || info.height !== header.height) {
    throw bad(name, `decoded to ${info.channels} channels, ${info.width}x${info.height}`)
  }
}

function decodePaletteIndices(buffer: Uint8Array, header: PngHeader, name: string): LabelImage {
  const { width, height, bitDepth, interlace } = header
  if (![1, 2, 4, 8].includes(bitDepth)) throw bad(name, `invalid palette bit depth ${bitDepth}`)
  if (interlace !== 0)
    throw bad(name, 'interlaced palette PNGs are not supported; save it without interlacing')
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength)
  const idat: Uint8Array[] = []
  let offset = 8
  let ended = false
  while (offset + 8 <= buffer.length) {
    const length = view.getUint32(offset)
    const type = String.fromCharCode(...buffer.subarray(offset + 4, offset + 8))
    if (offset + 12 + length > buffer.length) throw bad(name, `PNG is truncated (in chunk ${type})`)
    if (type === 'IDAT') idat.push(buffer.subarray(offset + 8, offset + 8 + length))
    offset += 12 + length
    if (type === 'IEND') {
      ended = true
      break
    }
  }
  if (!ended) throw bad(name, 'PNG is truncated (no IEND chunk)')
  let raw: Buffer
  try {
    raw = inflateSync(Buffer.concat(idat))
  } catch (error) {
    throw bad(name, `PNG image data is corrupt (${(error as Error).message})`)
  }
  const stride = Math.ceil((width * bitDepth) / 8)
  if (raw.length < (stride + 1) * height) throw bad(name, 'PNG image data is truncated')
  const rows = new Uint8Array(stride * height)
  let previous = new Uint8Array(stride)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    const out = rows.subarray(y * stride, (y + 1) * stride)
    for (let i = 0; i < stride; i++) {
      const left = i > 0 ? out[i - 1]! : 0
      const up = previous[i]!
      const upLeft = i > 0 ? previous[i - 1]! : 0
      let value = line[i]!
      if (filter === 1) value += left
      else if (filter === 2) value += up
      else if (filter === 3) value += (left + up) >> 1
      else if (filter === 4) {
        const p = left + up - upLeft
        const pa = Math.abs(p - left)
        const pb = Math.abs(p - up)
        const pc = Math.abs(p - upLeft)
        value += pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft
      } else if (filter !== 0) throw bad(name, `PNG row ${y} has unknown filter ${filter}`)
      out[i] = value & 0xff
    }
    previous = out
  }
  if (bitDepth === 8) return { width, height, data: rows }
  const data = new Uint8Array(width * height)
  const perByte = 8 / bitDepth
  const mask = (1 << bitDepth) - 1
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const byte = rows[y * stride + Math.floor(x / perByte)]!
      const shift = 8 - bitDepth * ((x % perByte) + 1)
      data[y * width + x] = (byte >> shift) & mask
    }
  }
  return { width, height, data }
}

/** Encodes 8-bit label ids as a greyscale PNG (what the Cityscapes script reads). */
export async function encodeLabelPng(
  data: Uint8Array,
  width: number,
  height: number,
): Promise<Buffer> {
  if (data.length !== width * height) {
    throw new EvalError(
      'EVAL_IMAGE_SIZE',
      `Label image has ${data.length} pixels but ${width}x${height} needs ${width * height}`,
    )
  }
  const sharp = await loadSharp()
  return sharp(data, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer()
}
