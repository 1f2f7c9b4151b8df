import { attr, attrInt, attrInts, Graph, tensorDims, tensorInts, type NodeProto } from './onnx'

/**
 * Spatial size of every 4-D feature map for one input size, propagated through the ops that
 * shape CNN features. It is not a general shape inference: it knows what backbones, necks and
 * heads are made of, which is what stage names (stride), attention sizes and FLOPs need.
 *
 * `nominal` is the stride a feature map stands for: a dilated backbone keeps stride 8 but its
 * c4/c5 convolutions are dilated 2/4, so their features stand for strides 16/32, as do the
 * head features computed from them.
 */
export interface SpatialInfo {
  h: number
  w: number
  /** Stride relative to the input image, as the feature map's size says. */
  stride: number
  /** Stride the features stand for (dilation counted). */
  nominal: number
  /** Per-RoI features (after RoiAlign): sizes are per box, not per image. */
  perRoi: boolean
}

const elementwise = new Set([
  'Relu',
  'Sigmoid',
  'Tanh',
  'LeakyRelu',
  'Clip',
  'HardSigmoid',
  'HardSwish',
  'Mish',
  'Elu',
  'Selu',
  'Gelu',
  'Erf',
  'BatchNormalization',
  'InstanceNormalization',
  'Identity',
  'Cast',
  'Dropout',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Sqrt',
  'Exp',
  'Log',
  'Neg',
  'Abs',
  'Max',
  'Min',
  'Sum',
  'Mean',
  'Where',
  'Concat',
  'PRelu',
  'Softplus',
  'Not',
  'Equal',
  'Greater',
  'Less',
  'And',
  'Or',
  'Floor',
  'Ceil',
  'Round',
  'Reciprocal',
  'Softmax',
  'LogSoftmax',
  'ArgMax',
  // Batch and padding plumbing around the image (in-graph preprocessing): spatial dims stay last.
  'Unsqueeze',
  'Squeeze',
  'Pad',
  'Slice',
  'ScatterND',
])

function windowOut(
  size: number,
  k: number,
  s: number,
  d: number,
  padBegin: number,
  padEnd: number,
  ceil: boolean,
): number {
  const v = (size + padBegin + padEnd - d * (k - 1) - 1) / s + 1
  return Math.max(1, ceil ? Math.ceil(v) : Math.floor(v))
}

export function propagateSpatial(
  g: Graph,
  input: string,
  h: number,
  w: number,
): Map<string, SpatialInfo> {
  const info = new Map<string, SpatialInfo>()
  info.set(input, { h, w, stride: 1, nominal: 1, perRoi: false })
  // Strides are relative to the image the network sees: an in-graph resize sets it anew.
  const image = { h }
  for (const node of g.proto.node) {
    const ins = node.input
      .map((i) => (i ? info.get(i) : undefined))
      .filter((x): x is SpatialInfo => x !== undefined)
    const out = derive(g, node, ins, image)
    if (out) for (const o of node.output) info.set(o, out)
  }
  return info
}

function derive(
  g: Graph,
  node: NodeProto,
  ins: SpatialInfo[],
  image: { h: number },
): SpatialInfo | null {
  const imageH = image.h
  const first = ins[0]
  switch (node.op_type) {
    case 'Conv':
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      if (!first || node.input[0] === undefined || !ins.length) return null
      const base = first
      let k: number[] | undefined
      if (node.op_type === 'Conv') {
        const wt = g.constant(node.input[1] ?? '')
        k = wt ? tensorDims(wt).slice(2) : attrInts(node, 'kernel_shape')
      } else k = attrInts(node, 'kernel_shape')
      if (!k || k.length !== 2) return null
      const s = attrInts(node, 'strides') ?? [1, 1]
      const d = attrInts(node, 'dilations') ?? [1, 1]
      const autoPad = attr(node, 'auto_pad')?.s
        ? Buffer.from(attr(node, 'auto_pad')!.s!).toString()
        : 'NOTSET'
      const ceil = (attrInt(node, 'ceil_mode') ?? 0) === 1
      let oh: number
      let ow: number
      if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
        oh = Math.ceil(base.h / s[0]!)
        ow = Math.ceil(base.w / s[1]!)
      } else {
        const p = attrInts(node, 'pads') ?? [0, 0, 0, 0]
        oh = windowOut(base.h, k[0]!, s[0]!, d[0]!, p[0]!, p[2]!, ceil)
        ow = windowOut(base.w, k[1]!, s[1]!, d[1]!, p[1]!, p[3]!, ceil)
      }
      const stride = base.perRoi ? base.stride : imageH / oh
      const kernel = Math.max(k[0]!, k[1]!)
      const nominal = Math.max(base.nominal * s[0]!, kernel > 1 ? stride * d[0]! : 0)
      return { h: oh, w: ow, stride, nominal, perRoi: base.perRoi }
    }
    case 'ConvTranspose': {
      if (!first) return null
      const s = attrInts(node, 'strides') ?? [1, 1]
      const oh = first.h * s[0]!
      return {
        h: oh,
        w: first.w * s[1]!,
        stride: first.perRoi ? first.stride : imageH / oh,
        nominal: first.nominal / s[0]!,
        perRoi: first.perRoi,
      }
    }
    case 'Gather':
      // Taking one image out of a batch (in-graph preprocessing): the spatial dims stay last.
      return first && node.input[0] && (attrInt(node, 'axis') ?? 0) === 0 ? first : null
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
      return first ? { ...first, h: 1, w: 1 } : null
    case 'Resize':
    case 'Upsample': {
      if (!first) return null
      // Constant scales, or constant sizes; otherwise (sizes read from another tensor's
      // Shape, as FPNs and in-graph preprocessing do) the size is settled by what it is added
      // to, and a preprocessing resize is taken as keeping the image size.
      const scalesName = node.op_type === 'Upsample' ? node.input[1] : node.input[2]
      const sizesName = node.op_type === 'Resize' ? node.input[3] : undefined
      const scales = scalesName ? g.constant(scalesName) : undefined
      const sizes = sizesName ? g.constant(sizesName) : undefined
      let fy = 1
      let fx = 1
      if (scales) {
        const v = tensorInts(scales)
        if (v.length === 4) [fy, fx] = [v[2]!, v[3]!]
      } else if (sizes) {
        const v = tensorInts(sizes)
        if (v.length === 4) [fy, fx] = [v[2]! / first.h, v[3]! / first.w]
      } else if (sizesName && first.stride === 1) {
        // In-graph preprocessing (torchvision's GeneralizedRCNNTransform): the image is scaled
        // by min(min_size / short side, max_size / long side), sizes floored, then batched
        // padded to a multiple of 32 (its size_divisible).
        const t = inGraphResizeTarget(g, sizesName)
        if (t) {
          const f = Math.min(t.min / Math.min(first.h, first.w), t.max / Math.max(first.h, first.w))
          const pad = (v: number) => Math.ceil(Math.floor(v * f) / 32) * 32
          image.h = pad(first.h)
          return { ...first, h: pad(first.h), w: pad(first.w) }
        }
      }
      if (!(fy > 0 && fx > 0)) return null
      const oh = Math.round(first.h * fy)
      return {
        h: oh,
        w: Math.round(first.w * fx),
        stride: first.perRoi ? first.stride : imageH / oh,
        nominal: first.nominal / fy,
        perRoi: first.perRoi,
      }
    }
    case 'RoiAlign':
    case 'MaxRoiPool': {
      const oh = attrInt(node, 'output_height') ?? attrInts(node, 'pooled_shape')?.[0] ?? 7
      const ow = attrInt(node, 'output_width') ?? attrInts(node, 'pooled_shape')?.[1] ?? 7
      return {
        h: oh,
        w: ow,
        stride: first?.stride ?? 0,
        nominal: first?.nominal ?? 0,
        perRoi: true,
      }
    }
    default:
      if (!elementwise.has(node.op_type) || ins.length === 0) return null
      // Broadcasting ops: the larger map wins, with its stride. The stride the result stands
      // for is the deepest of the inputs of that size: a residual add of a dilated branch and
      // its 1x1 shortcut stands for the dilated branch.
      return ins.reduce((a, b) => {
        const big = a.h * a.w >= b.h * b.w ? a : b
        const same = a.h === b.h && a.w === b.w
        return {
          h: Math.max(a.h, b.h),
          w: Math.max(a.w, b.w),
          stride: Math.min(a.stride, b.stride),
          nominal: same ? Math.max(a.nominal, b.nominal) : big.nominal,
          perRoi: a.perRoi || b.perRoi,
        }
      })
  }
}

/**
 * The (min_size, max_size) of a keep-ratio resize computed inside the graph: a Min of two
 * Divs of scalar constants by the image's sides, a few nodes above the Resize's sizes.
 */
function inGraphResizeTarget(g: Graph, sizes: string): { min: number; max: number } | null {
  const queue: [string, number][] = [[sizes, 0]]
  const seen = new Set<string>()
  while (queue.length) {
    const [t, depth] = queue.shift()!
    if (seen.has(t) || depth > 10) continue
    seen.add(t)
    const node = g.producer.get(t)
    if (!node) continue
    if (node.op_type === 'Min' && node.input.length === 2) {
      const consts = node.input.map((i) => scalarNumerator(g, i))
      if (consts.every((c) => c !== null)) {
        const [a, b] = consts as number[]
        return { min: Math.min(a!, b!), max: Math.max(a!, b!) }
      }
    }
    for (const i of node.input) if (i) queue.push([i, depth + 1])
  }
  return null
}

/** The scalar constant a tensor is divided from (through casts): c in c / x. */
function scalarNumerator(g: Graph, name: string): number | null {
  let t = name
  for (let hops = 0; hops < 4; hops++) {
    const p = g.producer.get(t)
    if (!p) return null
    // c / x, or as exporters also write it, c * Reciprocal(x).
    let c: string | undefined
    if (p.op_type === 'Div') c = p.input[0]
    else if (p.op_type === 'Mul')
      c = p.input.find(
        (i) => g.producer.get(p.input.find((j) => j !== i) ?? '')?.op_type === 'Reciprocal',
      )
    if (p.op_type === 'Div' || p.op_type === 'Mul') {
      const k = c ? g.constant(c) : undefined
      if (!k) return null
      const v = tensorInts(k) // reads float tensors too
      return v.length === 1 && v[0]! > 0 ? v[0]! : null
    }
    if (p.op_type !== 'Cast' && p.op_type !== 'Identity') return null
    t = p.input[0]!
  }
  return null
}

/** c2..c5 by the stride a feature map stands for; null when it is not a ResNet stage stride. */
export function stageOf(nominal: number | undefined): 'c2' | 'c3' | 'c4' | 'c5' | null {
  if (!nominal) return null
  const k = Math.round(Math.log2(nominal))
  if (Math.abs(nominal - 2 ** k) / nominal > 0.15) return null
  return ({ 2: 'c2', 3: 'c3', 4: 'c4', 5: 'c5' } as const)[k as 2 | 3 | 4 | 5] ?? null
}
