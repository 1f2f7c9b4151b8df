import { Graph, tensorDims, type NodeProto } from './onnx'

/**
 * A GC block found in a graph by its structure (GCNet Eq. 5, mmcv ContextBlock), whatever the
 * node names: a 1x1 conv C->1 (conv_mask) whose output, reshaped, goes through a Softmax that
 * weights the block input X in a MatMul (attention pooling); the pooled context goes through
 * conv C->P, LayerNorm (one node, or the decomposed ReduceMean/Sub/Pow/... chain), ReLU, conv
 * P->C, and is added to X (channel_add) and/or multiplies X through a Sigmoid (channel_mul).
 */
export interface GcBlock {
  /** Order in the graph (0-based, by the Softmax's position). */
  index: number
  channels: number
  hidden: number
  fusion: ('channel_add' | 'channel_mul')[]
  layerNorm: 'LayerNormalization' | 'decomposed' | 'none'
  /** The block input X. */
  input: string
  /** conv_mask output [N,1,H,W]: gives the attention map's H and W. */
  maskTensor: string
  /** Softmax output [N,1,HW]: the attention map. */
  attentionTensor: string
  /** The transform output added to X ([N,C,1,1]); the channel_mul branch's when there is no add. */
  transformTensor: string
  /** Node names as exported, a hint for people only. */
  names: string[]
}

const passThrough = new Set(['Reshape', 'Unsqueeze', 'Squeeze', 'Flatten', 'Identity'])
const layerNormOps = new Set([
  'ReduceMean',
  'Sub',
  'Pow',
  'Add',
  'Sqrt',
  'Div',
  'Mul',
  'Cast',
  'Constant',
  'Identity',
])

/** Follows a tensor up through reshapes to the node that really made it. */
function upThrough(g: Graph, name: string): { node: NodeProto | undefined; tensor: string } {
  let tensor = name
  for (let hops = 0; hops < 6; hops++) {
    const p = g.producer.get(tensor)
    if (!p || !passThrough.has(p.op_type)) return { node: p, tensor }
    tensor = p.input[0]!
  }
  return { node: g.producer.get(tensor), tensor }
}

/** Follows a tensor down through reshapes to the non-reshape nodes that use it. */
function downThrough(g: Graph, name: string): { node: NodeProto; via: string }[] {
  const out: { node: NodeProto; via: string }[] = []
  const visit = (tensor: string, depth: number) => {
    for (const u of g.users(tensor)) {
      if (passThrough.has(u.op_type) && u.input[0] === tensor && depth < 6)
        visit(u.output[0]!, depth + 1)
      else out.push({ node: u, via: tensor })
    }
  }
  visit(name, 0)
  return out
}

function convWeight(g: Graph, node: NodeProto | undefined): number[] | undefined {
  if (!node || node.op_type !== 'Conv') return undefined
  const w = g.constant(node.input[1] ?? '')
  return w ? tensorDims(w) : undefined
}

const is1x1 = (dims: number[] | undefined) =>
  dims !== undefined && dims.length === 4 && dims[2] === 1 && dims[3] === 1

/**
 * From the context tensor: conv C->P, LayerNorm, ReLU, conv P->C. Returns the last conv's
 * output and how LayerNorm appeared, or null when the path is not a GC transform.
 */
function transformFrom(g: Graph, conv1: NodeProto, channels: number) {
  const w1 = convWeight(g, conv1)
  if (!is1x1(w1) || w1![1] !== channels) return null
  const hidden = w1![0]!
  // Walk forward from conv1 through LayerNorm ops to the ReLU.
  let relu: NodeProto | undefined
  let ln: GcBlock['layerNorm'] = 'none'
  const seen = new Set<NodeProto>()
  const queue: { tensor: string; depth: number }[] = [{ tensor: conv1.output[0]!, depth: 0 }]
  while (queue.length && !relu) {
    const { tensor, depth } = queue.shift()!
    for (const u of g.users(tensor)) {
      if (seen.has(u)) continue
      seen.add(u)
      if (u.op_type === 'Relu') {
        relu = u
        break
      }
      if (u.op_type === 'LayerNormalization') ln = 'LayerNormalization'
      else if (layerNormOps.has(u.op_type)) {
        if (u.op_type === 'ReduceMean') ln = 'decomposed'
      } else continue
      if (depth < 14) queue.push({ tensor: u.output[0]!, depth: depth + 1 })
    }
  }
  if (!relu) return null
  const conv2 = g.users(relu.output[0]!).find((u) => u.op_type === 'Conv')
  const w2 = convWeight(g, conv2)
  if (!conv2 || !is1x1(w2) || w2![0] !== channels || w2![1] !== hidden) return null
  return { hidden, out: conv2.output[0]!, layerNorm: ln, nodes: [conv1, relu, conv2] }
}

export function findGcBlocks(g: Graph): GcBlock[] {
  const blocks: GcBlock[] = []
  for (const softmax of g.proto.node) {
    if (softmax.op_type !== 'Softmax') continue
    // 1. Softmax over the output of a 1x1 conv with one output channel (conv_mask): a
    //    query-independent map. A non-local block's softmax reads a MatMul (HW x HW, one map
    //    per query); a class softmax reads a Gemm or a many-channel conv.
    const { node: mask } = upThrough(g, softmax.input[0]!)
    const wm = convWeight(g, mask)
    if (!mask || !is1x1(wm) || wm![0] !== 1) continue
    const channels = wm![1]!
    const x = mask.input[0]!
    // 2. The attention weights X in a MatMul whose other operand is X reshaped (attention pooling).
    const pool = downThrough(g, softmax.output[0]!).find(({ node }) => node.op_type === 'MatMul')
    if (!pool) continue
    const other = pool.node.input[0] === pool.via ? pool.node.input[1]! : pool.node.input[0]!
    if (upThrough(g, other).tensor !== x) continue
    // 3. The context through the bottleneck transform(s), fused into X by Add and/or Mul.
    const fusion: GcBlock['fusion'] = []
    let addTerm: string | undefined
    let mulTerm: string | undefined
    let hidden = 0
    let layerNorm: GcBlock['layerNorm'] = 'none'
    const names = [mask.name, softmax.name, pool.node.name]
    for (const { node } of downThrough(g, pool.node.output[0]!)) {
      if (node.op_type !== 'Conv') continue
      const t = transformFrom(g, node, channels)
      if (!t) continue
      const users = g.users(t.out)
      if (users.some((u) => u.op_type === 'Add')) {
        fusion.push('channel_add')
        addTerm = t.out
      } else {
        const sig = users.find((u) => u.op_type === 'Sigmoid')
        if (sig && g.users(sig.output[0]!).some((u) => u.op_type === 'Mul')) {
          fusion.push('channel_mul')
          mulTerm = sig.output[0]!
        } else continue
      }
      hidden = t.hidden
      layerNorm = t.layerNorm
      names.push(...t.nodes.map((n) => n.name))
    }
    if (fusion.length === 0) continue
    blocks.push({
      index: blocks.length,
      channels,
      hidden,
      fusion: (['channel_add', 'channel_mul'] as const).filter((f) => fusion.includes(f)),
      layerNorm,
      input: x,
      maskTensor: mask.output[0]!,
      attentionTensor: softmax.output[0]!,
      transformTensor: (addTerm ?? mulTerm)!,
      names: names.filter(Boolean),
    })
  }
  return blocks
}
