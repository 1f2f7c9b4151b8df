import fs from 'node:fs'
import path from 'node:path'
import { findGcBlocks, type GcBlock } from './gcBlocks'
import { decodeModel, encodeModel, Graph, TensorType, type ModelProto } from './onnx'

export interface BlockTaps {
  block: number
  /** Softmax output [N,1,HW]. */
  attention: string
  /** conv_mask output [N,1,H,W]: H and W of the attention map. */
  mask: string
  /** The transform output added to X ([N,C,1,1]): the paper's Fig. 6 activations. */
  transform: string
}

/**
 * Adds every GC block's attention, mask and transform tensors to the graph outputs, so
 * onnxruntime returns them. The new outputs are appended as a second `graph` field holding only
 * `output` entries: protobuf merges repeated occurrences of a message field, so the original
 * bytes are kept as they are (no re-encoding of the weights, nothing newer than our schema
 * lost) and the model's own outputs stay exactly what they were.
 */
export function tapModel(
  original: Uint8Array,
  model: ModelProto,
  blocks: GcBlock[],
): { bytes: Uint8Array; taps: BlockTaps[] } {
  const existing = new Set(model.graph.output.map((o) => o.name))
  const taps: BlockTaps[] = blocks.map((b) => ({
    block: b.index,
    attention: b.attentionTensor,
    mask: b.maskTensor,
    transform: b.transformTensor,
  }))
  const output = taps
    .flatMap((t) => [t.attention, t.mask, t.transform])
    .filter((name) => !existing.has(name))
    .map((name) => ({ name, type: { tensor_type: { elem_type: TensorType.FLOAT } } }))
  if (output.length === 0) return { bytes: original, taps }
  const extra = encodeModel({ graph: { output } } as unknown as ModelProto)
  const bytes = new Uint8Array(original.length + extra.length)
  bytes.set(original, 0)
  bytes.set(extra, original.length)
  return { bytes, taps }
}

/**
 * The tapped copy of a model, made once per source sha256 in the data folder, with its taps
 * beside it (`<sha>.taps.json`), so later runs read two small facts instead of decoding the
 * whole model again.
 */
export function cachedTappedCopy(
  dataDir: string,
  sha256: string,
  modelPath: string,
): { file: string; taps: BlockTaps[] } {
  const file = path.join(dataDir, 'models', `${sha256}.tapped.onnx`)
  const tapsFile = path.join(dataDir, 'models', `${sha256}.taps.json`)
  if (fs.existsSync(file) && fs.existsSync(tapsFile))
    return { file, taps: JSON.parse(fs.readFileSync(tapsFile, 'utf8')) as BlockTaps[] }
  const bytes = fs.readFileSync(modelPath)
  const model = decodeModel(bytes, modelPath)
  const { bytes: tapped, taps } = tapModel(bytes, model, findGcBlocks(new Graph(model.graph)))
  fs.mkdirSync(path.dirname(file), { recursive: true })
  // Written under temporary names and renamed: a crash never leaves a half copy in the cache.
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`
  fs.writeFileSync(tmp, tapped)
  fs.renameSync(tmp, file)
  fs.writeFileSync(`${tapsFile}.tmp`, JSON.stringify(taps))
  fs.renameSync(`${tapsFile}.tmp`, tapsFile)
  return { file, taps }
}
