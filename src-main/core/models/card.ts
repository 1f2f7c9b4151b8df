import { findGcBlocks, type GcBlock } from './gcBlocks'
import { detectFormat, formatSpec, tensorInfo, type ModelFormat, type TensorInfo } from './formats'
import {
  floatTypes,
  Graph,
  num,
  opsetOf,
  tensorDims,
  type ModelProto,
  type NodeProto,
} from './onnx'
import { propagateSpatial, stageOf } from './spatial'
import { AppError } from '../../common/errors'

export interface GcBlockCard {
  index: number
  stage: 'c2' | 'c3' | 'c4' | 'c5' | null
  /** Position among the blocks of the same stage (0-based). */
  indexInStage: number
  channels: number
  hidden: number
  /** r = C / P: 16 for an "r16" model, 4 for "r4". */
  ratio: number
  fusion: GcBlock['fusion']
  layerNorm: GcBlock['layerNorm']
  /** Attention map size at the card's input size. */
  attentionSize: [number, number] | null
}

export interface ModelCard {
  format: ModelFormat | null
  /** Why the format is unknown, when it is. */
  formatError: string | null
  opset: number
  irVersion: number
  producer: string
  inputs: TensorInfo[]
  outputs: TensorInfo[]
  params: number
  /** Multiply-accumulates of the dense part (backbone, neck, dense heads) at `flopsInput`, as mmcv and the GCNet paper count FLOPs. */
  flops: number
  /** Multiply-accumulates per RoI of the RoI heads (after RoiAlign). */
  flopsPerRoi: number
  flopsInput: [number, number]
  gcBlocks: GcBlockCard[]
  /** "r16", "r4", "r4/r16 mixed" or null without GC blocks. */
  gcRatioLabel: string | null
  /** Classes the model predicts (background not counted), when the graph says. */
  classCount?: number | null
}

/** The input a card measures FLOPs at: the graph's static size, else `fallback` (H, W). */
function inputSize(
  inputs: TensorInfo[],
  fallback: [number, number],
): { name: string; hw: [number, number] } {
  const img = inputs.find((i) => i.shape?.length === 4 || i.shape?.length === 3) ?? inputs[0]
  if (!img) throw new AppError('INVALID_INPUT', 'The model has no inputs.')
  const s = img.shape ?? []
  const h = s[s.length - 2]
  const w = s[s.length - 1]
  return {
    name: img.name,
    hw: typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0 ? [h, w] : fallback,
  }
}

/** Everything the studio can tell about a model from its graph alone. */
export function buildCard(
  model: ModelProto,
  fallbackSize: [number, number] = [800, 1344],
): { card: ModelCard; blocks: GcBlock[] } {
  const g = new Graph(model.graph)
  const inputs = g.proto.input.filter((i) => !g.initializers.has(i.name)).map(tensorInfo)
  const outputs = g.proto.output.map(tensorInfo)
  let format: ModelFormat | null = null
  let formatError: string | null = null
  try {
    format = detectFormat(g)
  } catch (err) {
    formatError = (err as Error).message
  }

  let params = 0
  const counted = new Set<string>()
  for (const t of g.proto.initializer) {
    if (!floatTypes.has(t.data_type)) continue
    counted.add(t.name)
    params += tensorDims(t).reduce((a, b) => a * b, 1)
  }
  for (const n of g.proto.node) {
    if (n.op_type !== 'Constant') continue
    const t = n.attribute.find((a) => a.name === 'value')?.t
    if (!t || !floatTypes.has(t.data_type)) continue
    const size = tensorDims(t).reduce((a, b) => a * b, 1)
    if (size > 1) params += size
  }

  const { name, hw } = inputSize(inputs, fallbackSize)
  const spatial = propagateSpatial(g, name, hw[0], hw[1])
  // Tensors computed per RoI (downstream of RoiAlign).
  const perRoi = new Set<string>()
  for (const n of g.proto.node) {
    if (
      n.op_type === 'RoiAlign' ||
      n.op_type === 'MaxRoiPool' ||
      n.input.some((i) => perRoi.has(i))
    ) {
      for (const o of n.output) perRoi.add(o)
    }
  }
  const blocks = findGcBlocks(g)
  const gcMatMuls = new Map<string, number>()
  const transformConvs = new Set<NodeProto>()
  for (const b of blocks) {
    const s = spatial.get(b.input)
    if (s) gcMatMuls.set(b.attentionTensor, b.channels * s.h * s.w)
    for (const n of contextConvs(g, b)) transformConvs.add(n)
  }
  let flops = 0
  let flopsPerRoi = 0
  for (const n of g.proto.node) {
    let macs = 0
    if (n.op_type === 'Conv' || n.op_type === 'ConvTranspose') {
      const w = g.constant(n.input[1] ?? '')
      // The GC transform runs on the pooled [C,1,1] context, whatever the graph's shapes say.
      const s = transformConvs.has(n)
        ? { h: 1, w: 1 }
        : spatial.get(n.op_type === 'Conv' ? n.output[0]! : n.input[0]!)
      if (w && s) macs = tensorDims(w).reduce((a, b) => a * b, 1) * s.h * s.w
    } else if (n.op_type === 'Gemm' || n.op_type === 'MatMul') {
      const w = g.constant(n.input[1] ?? '')
      if (w) macs = tensorDims(w).reduce((a, b) => a * b, 1)
      else {
        // GC attention pooling: C x HW multiply-adds.
        for (const inp of n.input)
          for (const [att, m] of gcMatMuls) if (reaches(g, att, inp)) macs = m
      }
    }
    if (perRoi.has(n.output[0]!)) flopsPerRoi += macs
    else flops += macs
  }

  const perStage = new Map<string, number>()
  const gcBlocks: GcBlockCard[] = blocks.map((b) => {
    const s = spatial.get(b.input)
    const stage = stageOf(s?.nominal)
    const key = stage ?? '?'
    const indexInStage = perStage.get(key) ?? 0
    perStage.set(key, indexInStage + 1)
    return {
      index: b.index,
      stage,
      indexInStage,
      channels: b.channels,
      hidden: b.hidden,
      ratio: b.hidden > 0 ? Math.round((b.channels / b.hidden) * 100) / 100 : 0,
      fusion: b.fusion,
      layerNorm: b.layerNorm,
      attentionSize: s ? [s.h, s.w] : null,
    }
  })
  const ratios = [...new Set(gcBlocks.map((b) => b.ratio))].sort((a, b) => a - b)
  const card: ModelCard = {
    format,
    formatError,
    opset: opsetOf(model),
    irVersion: num(model.ir_version),
    producer: [model.producer_name, model.producer_version].filter(Boolean).join(' '),
    inputs,
    outputs,
    params,
    flops,
    flopsPerRoi,
    flopsInput: hw,
    gcBlocks,
    gcRatioLabel:
      ratios.length === 0
        ? null
        : ratios.map((r) => `r${r}`).join('/') + (ratios.length > 1 ? ' mixed' : ''),
    classCount: format ? formatSpec(format).classCount(g) : null,
  }
  return { card, blocks }
}

/**
 * The convolutions of a GC block's transform branches (channel_add and channel_mul): every Conv
 * downstream of the attention softmax before the fusion with the block input.
 */
function contextConvs(g: Graph, b: GcBlock): NodeProto[] {
  const found: NodeProto[] = []
  const seen = new Set<NodeProto>()
  const queue = [b.attentionTensor]
  while (queue.length && seen.size < 64) {
    const t = queue.shift()!
    for (const n of g.consumers.get(t) ?? []) {
      if (seen.has(n) || n.input.includes(b.input)) continue
      seen.add(n)
      if (n.op_type === 'Conv') found.push(n)
      queue.push(...n.output)
    }
  }
  return found
}

/** Whether `from` flows into `to` through reshapes only (a few hops). */
function reaches(g: Graph, from: string, to: string): boolean {
  let t = to
  for (let hops = 0; hops < 6; hops++) {
    if (t === from) return true
    const p = g.producer.get(t)
    if (!p || !['Reshape', 'Unsqueeze', 'Squeeze', 'Transpose', 'Identity'].includes(p.op_type))
      return false
    t = p.input[0]!
  }
  return false
}
