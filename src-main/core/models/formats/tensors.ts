import { num, TensorType, type ValueInfoProto } from '../onnx'

export type ModelFormat =
  | 'mmdeploy-detection'
  | 'mmdeploy-instance-seg'
  | 'torchvision-detection'
  | 'torchvision-instance-seg'
  | 'mmseg-argmax'
  | 'mmseg-logits'

export type ModelTask = 'detection' | 'instance_segmentation' | 'semantic_segmentation'

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
