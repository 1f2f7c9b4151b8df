import fs from 'node:fs'
import path from 'node:path'
import protobuf from 'protobufjs'
import { AppError } from '../../common/errors'
import { resourcesDir } from '../paths'

/** The slice of ONNX's protobuf messages the studio reads (field names as in onnx.proto). */
export interface TensorProto {
  name: string
  dims: (number | { toNumber(): number })[]
  data_type: number
  raw_data?: Uint8Array
  float_data?: number[]
  int64_data?: (number | { toNumber(): number })[]
  int32_data?: number[]
}
export interface AttributeProto {
  name: string
  type: number
  i?: number | { toNumber(): number }
  f?: number
  ints?: (number | { toNumber(): number })[]
  floats?: number[]
  s?: Uint8Array
  t?: TensorProto
}
export interface NodeProto {
  name: string
  op_type: string
  domain?: string
  input: string[]
  output: string[]
  attribute: AttributeProto[]
}
export interface ValueInfoProto {
  name: string
  type?: {
    tensor_type?: {
      elem_type?: number
      shape?: { dim: { dim_value?: number | { toNumber(): number }; dim_param?: string }[] }
    }
  }
}
export interface GraphProto {
  name: string
  node: NodeProto[]
  initializer: TensorProto[]
  input: ValueInfoProto[]
  output: ValueInfoProto[]
  value_info: ValueInfoProto[]
}
export interface ModelProto {
  ir_version: number | { toNumber(): number }
  opset_import: { domain?: string; version: number | { toNumber(): number } }[]
  producer_name?: string
  producer_version?: string
  graph: GraphProto
}

export const TensorType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const
export const floatTypes = new Set<number>([
  TensorType.FLOAT,
  TensorType.FLOAT16,
  TensorType.DOUBLE,
  TensorType.BFLOAT16,
])

let modelType: protobuf.Type | undefined
function type(): protobuf.Type {
  if (!modelType) {
    const text = fs.readFileSync(path.join(resourcesDir(), 'onnx', 'onnx.proto'), 'utf8')
    modelType = protobuf.parse(text, { keepCase: true }).root.lookupType('onnx.ModelProto')
  }
  return modelType
}

export const num = (v: number | { toNumber(): number } | undefined | null): number =>
  v === undefined || v === null ? 0 : typeof v === 'number' ? v : v.toNumber()

/** Decodes an ONNX file's bytes, or says why they are not an ONNX model. */
export function decodeModel(bytes: Uint8Array, where: string): ModelProto {
  let model: ModelProto
  try {
    model = type().decode(bytes) as unknown as ModelProto
  } catch (err) {
    throw new AppError(
      'INVALID_INPUT',
      `${where} is not an ONNX model or is truncated (${(err as Error).message}).`,
    )
  }
  if (
    !model.graph ||
    !model.graph.node ||
    model.graph.node.length === 0 ||
    !model.opset_import?.length
  ) {
    throw new AppError(
      'INVALID_INPUT',
      `${where} is not an ONNX model: it has no graph or no opset.`,
    )
  }
  return model
}

export function encodeModel(model: ModelProto): Uint8Array {
  return type()
    .encode(model as unknown as protobuf.Message)
    .finish()
}

export function opsetOf(model: ModelProto): number {
  const def = model.opset_import.find((o) => !o.domain || o.domain === 'ai.onnx')
  return num(def?.version)
}

export function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name)
}
export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = attr(node, name)
  return a?.ints ? a.ints.map(num) : undefined
}
export function attrInt(node: NodeProto, name: string): number | undefined {
  const a = attr(node, name)
  return a && a.i !== undefined ? num(a.i) : undefined
}

export function tensorDims(t: TensorProto): number[] {
  return t.dims.map(num)
}

/** Reads small integer tensors (Reshape targets, axes) whatever their storage. */
export function tensorInts(t: TensorProto): number[] {
  if (t.raw_data && t.raw_data.length > 0) {
    const buf = Buffer.from(t.raw_data.buffer, t.raw_data.byteOffset, t.raw_data.byteLength)
    const out: number[] = []
    if (t.data_type === TensorType.INT64)
      for (let i = 0; i < buf.length; i += 8) out.push(Number(buf.readBigInt64LE(i)))
    else if (t.data_type === TensorType.INT32)
      for (let i = 0; i < buf.length; i += 4) out.push(buf.readInt32LE(i))
    else if (t.data_type === TensorType.FLOAT)
      for (let i = 0; i < buf.length; i += 4) out.push(buf.readFloatLE(i))
    return out
  }
  if (t.int64_data?.length) return t.int64_data.map(num)
  if (t.int32_data?.length) return [...t.int32_data]
  if (t.float_data?.length) return [...t.float_data]
  return []
}

/**
 * A read-only view of a graph with producer/consumer indexes. Weights are found through
 * Identity nodes too: exporters share equal initializers that way.
 */
export class Graph {
  readonly producer = new Map<string, NodeProto>()
  readonly consumers = new Map<string, NodeProto[]>()
  readonly initializers = new Map<string, TensorProto>()
  readonly order = new Map<NodeProto, number>()

  constructor(readonly proto: GraphProto) {
    proto.node.forEach((n, i) => {
      this.order.set(n, i)
      for (const o of n.output) this.producer.set(o, n)
      for (const inp of n.input) {
        if (!inp) continue
        const list = this.consumers.get(inp)
        if (list) list.push(n)
        else this.consumers.set(inp, [n])
      }
    })
    for (const t of proto.initializer) this.initializers.set(t.name, t)
  }

  /** The constant tensor behind a name: an initializer, a Constant node, through Identity. */
  constant(name: string): TensorProto | undefined {
    for (let hops = 0; hops < 8; hops++) {
      const init = this.initializers.get(name)
      if (init) return init
      const p = this.producer.get(name)
      if (!p) return undefined
      if (p.op_type === 'Constant') return attr(p, 'value')?.t
      if (p.op_type !== 'Identity') return undefined
      name = p.input[0]!
    }
    return undefined
  }

  users(name: string): NodeProto[] {
    return this.consumers.get(name) ?? []
  }

  inputNames(): string[] {
    return this.proto.input.map((i) => i.name).filter((n) => !this.initializers.has(n))
  }
}

export function readModelFile(file: string): { bytes: Buffer; model: ModelProto } {
  let bytes: Buffer
  try {
    bytes = fs.readFileSync(file)
  } catch (err) {
    throw new AppError(
      'NOT_FOUND',
      `${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`,
    )
  }
  return { bytes, model: decodeModel(bytes, file) }
}
