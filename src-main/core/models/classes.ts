import { Graph, attrInt, tensorDims, type NodeProto } from './onnx'

/** Ops a class axis passes through unchanged between the classifier and the output. */
const passThrough = new Set([
  'Reshape',
  'Flatten',
  'Identity',
  'Resize',
  'Upsample',
  'Cast',
  'Transpose',
  'Squeeze',
  'Unsqueeze',
  'Add',
  'Relu',
])

/** The first Gemm / MatMul / Conv with a constant weight up the first-input chain of `tensor`. */
function classifierAbove(g: Graph, tensor: string): { node: NodeProto; weight: number[] } | null {
  let t = tensor
  for (let hops = 0; hops < 8; hops++) {
    const p = g.producer.get(t)
    if (!p) return null
    if (p.op_type === 'Gemm' || p.op_type === 'MatMul' || p.op_type === 'Conv') {
      const w = g.constant(p.input[1] ?? '')
      return w ? { node: p, weight: tensorDims(w) } : null
    }
    if (!passThrough.has(p.op_type)) return null
    t = p.input[0]!
  }
  return null
}

/** Output features of a classifier layer. */
function outFeatures(c: { node: NodeProto; weight: number[] }): number | null {
  const w = c.weight
  if (c.node.op_type === 'Conv') return w[0] ?? null
  if (c.node.op_type === 'Gemm') return (attrInt(c.node, 'transB') ? w[0] : w[1]) ?? null
  return w[1] ?? null
}

/**
 * A segmenter's class count: the output's static channel axis (logits), or the channels of the
 * decode head's last convolution before its ArgMax. null when the graph does not say.
 */
export function segmenterClassCount(g: Graph, logits: boolean): number | null {
  const out = g.proto.output[0]
  const dims = out?.type?.tensor_type?.shape?.dim
  const k = dims?.[1]?.dim_value
  if (logits && dims?.length === 4 && k !== undefined && Number(k) > 1) return Number(k)
  let t = out?.name ?? ''
  // Down to the ArgMax, if any, then to the decode head's last convolution.
  for (let hops = 0; hops < 8; hops++) {
    const p = g.producer.get(t)
    if (!p) return null
    if (p.op_type === 'ArgMax') {
      t = p.input[0]!
      break
    }
    if (!passThrough.has(p.op_type)) break
    t = p.input[0]!
  }
  const c = classifierAbove(g, t)
  return c?.node.op_type === 'Conv' ? outFeatures(c) : null
}

/**
 * A two-stage detector's class count: the box classifier under its class Softmax (a Gemm or
 * MatMul; its outputs count the background too, in mmdet and torchvision alike). GC blocks'
 * softmaxes sit on a 1-channel convolution and are not classifiers.
 */
export function detectorClassCount(g: Graph): number | null {
  let found: number | null = null
  for (const n of g.proto.node) {
    if (n.op_type !== 'Softmax') continue
    const c = classifierAbove(g, n.input[0]!)
    if (!c || c.node.op_type === 'Conv') continue
    const k = outFeatures(c)
    if (k !== null && k > 1) found = k - 1
  }
  return found
}
