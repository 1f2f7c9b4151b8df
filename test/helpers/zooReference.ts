// The zoo's PyTorch reference outputs (models/reference/<id>/): raw little-endian arrays
// described in each index.json (see models/zoo/README.md, "Reference fixtures").
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fromFloat16 } from '../../src-main/core/inference/float16'

export type ReferenceDtype = 'float32' | 'float16' | 'int64' | 'uint8' | 'int32'

export interface ArrayRef {
  file: string
  dtype: ReferenceDtype
  shape: number[]
  /** Stored array is the output sampled every `sampleStride` pixels on the last two axes. */
  sampleStride?: number
  /** ONNX output dtype when the fixture stores a narrower one (e.g. uint8 train ids). */
  onnxDtype?: ReferenceDtype
}

const WIDTH: Record<ReferenceDtype, number> = {
  float32: 4,
  float16: 2,
  int64: 8,
  uint8: 1,
  int32: 4,
}

/** One reference array as numbers; throws when the file's size does not match its shape. */
export function readReferenceArray(dir: string, ref: ArrayRef): Float64Array {
  const buf = readFileSync(path.join(dir, ref.file))
  const n = ref.shape.reduce((a, b) => a * b, 1)
  if (buf.byteLength !== n * WIDTH[ref.dtype])
    throw new Error(`${ref.file}: ${buf.byteLength} bytes, expected ${n * WIDTH[ref.dtype]}`)
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    if (ref.dtype === 'float32') out[i] = buf.readFloatLE(i * 4)
    else if (ref.dtype === 'float16') out[i] = fromFloat16(buf.readUInt16LE(i * 2))
    else if (ref.dtype === 'int64') out[i] = Number(buf.readBigInt64LE(i * 8))
    else if (ref.dtype === 'int32') out[i] = buf.readInt32LE(i * 4)
    else out[i] = buf[i]!
  }
  return out
}
