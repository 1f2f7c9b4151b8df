import type { GcBlock } from './gcBlocks'
import { encodeModel, TensorType, type ModelProto } from './onnx'

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
