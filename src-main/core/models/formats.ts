import { AppError } from '../../common/errors'
import { Graph, num, TensorType, type ValueInfoProto } from './onnx'

export type ModelFormat =
  | 'mmdeploy-detection'
  | 'mmdeploy-instance-seg'
  | 'torchvision-detection'
  | 'torchvision-instance-seg'
  | 'mmseg-argmax'
  | 'mmseg-logits'

export type ModelTask = 'detection' | 'instance_segmentation' | 'semantic_segmentation'

export const taskOf = (f: ModelFormat): ModelTask =>
  f.endsWith('instance-seg')
    ? 'instance_segmentation'
    : f.startsWith('mmseg')
      ? 'semantic_segmentation'
      : 'detection'

export interface TensorInfo {
  name: string
  elemType: string
  /** Dimensions; strings are symbolic (dynamic) axes, null unknown. */
  shape: (number | string | null)[] | null
}

const typeNames: Record<number, string> = {
  [TensorType.FLOAT]: 'float32',
  [TensorType.UINT8]: 'uint8',
  [TensorType.INT8]: 'int8',
  [TensorType.INT32]: 'int32',
  [TensorType.INT64]: 'int64',
  [TensorType.BOOL]: 'bool',
  [TensorType.FLOAT16]: 'float16',
  [TensorType.DOUBLE]: 'float64',
}

export function tensorInfo(v: ValueInfoProto): TensorInfo {
  const t = v.type?.tensor_type
  const dims = t?.shape?.dim
  return {
    name: v.name,
    elemType: typeNames[t?.elem_type ?? 0] ?? `type${t?.elem_type ?? '?'}`,
    shape: dims
      ? dims.map((d) =>
          d.dim_param
            ? d.dim_param
            : d.dim_value !== undefined && d.dim_value !== null
              ? num(d.dim_value)
              : null,
        )
      : null,
  }
}

export const expectedOutputs: Record<ModelFormat, string> = {
  'mmdeploy-detection': 'dets [N,K,5] + labels [N,K] (mmdeploy end2end)',
  'mmdeploy-instance-seg': 'dets [N,K,5] + labels [N,K] + masks [N,K,28,28] (mmdeploy end2end)',
  'torchvision-detection': 'boxes [K,4] + labels [K] + scores [K] (torchvision export)',
  'torchvision-instance-seg':
    'boxes + labels + scores + masks [K,1,H,W] (torchvision Mask R-CNN export)',
  'mmseg-argmax': 'output [N,1,H,W] int64 class ids (mmsegmentation export)',
  'mmseg-logits': 'output [N,K,H,W] float logits (mmsegmentation export without argmax)',
}

/**
 * Which exporter wrote a graph, from its inputs and outputs alone. A graph matching none gets
 * an error listing what it has and what each supported format has.
 */
export function detectFormat(g: Graph): ModelFormat {
  const outs = g.proto.output.map(tensorInfo)
  const names = new Set(outs.map((o) => o.name))
  const has = (...n: string[]) => n.every((x) => names.has(x))
  if (has('dets', 'labels')) return has('masks') ? 'mmdeploy-instance-seg' : 'mmdeploy-detection'
  if (has('boxes', 'labels', 'scores'))
    return has('masks') ? 'torchvision-instance-seg' : 'torchvision-detection'
  if (outs.length === 1) {
    const o = outs[0]!
    const rank = o.shape?.length
    if (rank === 4 || rank === 3) {
      if (o.elemType === 'int64' || o.elemType === 'int32') return 'mmseg-argmax'
      if (o.elemType === 'float32' || o.elemType === 'float16') {
        const k = o.shape?.[1]
        if (rank === 4 && (k === 1 ? false : true)) return 'mmseg-logits'
      }
    }
  }
  const have = outs
    .map((o) => `${o.name} ${o.elemType}[${o.shape?.map((d) => d ?? '?').join(',') ?? '?'}]`)
    .join(', ')
  throw new AppError(
    'UNSUPPORTED',
    `The model's outputs (${have || 'none'}) match no supported format. Expected one of: ${Object.values(expectedOutputs).join('; ')}.`,
  )
}
