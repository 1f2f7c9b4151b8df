/**
 * Small ONNX graphs written with the studio's own protobuf schema (core/models/onnx.ts), for
 * the inference tests that need a model to behave in one exact way: a fixed input size, the
 * torchvision exporter's "zero detections" failure, a given number of classes. Each graph is a
 * few nodes on constants, so the expected answer is known exactly; they are written at test time
 * into a temporary folder instead of being committed as binaries.
 */
import fs from 'node:fs'
import path from 'node:path'
import {
  encodeModel,
  TensorType,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '../../src-main/core/models/onnx'

type Dim = number | string

const valueInfo = (name: string, elem: number, dims: Dim[]): ValueInfoProto => ({
  name,
  type: {
    tensor_type: {
      elem_type: elem,
      shape: {
        dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })),
      },
    },
  },
})

function floats(name: string, dims: number[], values: number[]): TensorProto {
  return {
    name,
    dims,
    data_type: TensorType.FLOAT,
    raw_data: new Uint8Array(Float32Array.from(values).buffer),
  }
}

function int64s(name: string, dims: number[], values: number[]): TensorProto {
  return {
    name,
    dims,
    data_type: TensorType.INT64,
    raw_data: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer),
  }
}

const int = (name: string, value: number): AttributeProto => ({ name, type: 2, i: value })

const node = (
  op_type: string,
  input: string[],
  output: string[],
  attribute: AttributeProto[] = [],
): NodeProto => ({ name: output[0]!, op_type, input, output, attribute })

function model(
  nodes: NodeProto[],
  initializer: TensorProto[],
  input: ValueInfoProto[],
  output: ValueInfoProto[],
  opset = 17,
): Uint8Array {
  const m: ModelProto = {
    ir_version: 8,
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'gcstudio-test',
    graph: { name: 'g', node: nodes, initializer, input, output, value_info: [] },
  }
  return encodeModel(m)
}

/**
 * A torchvision-style detector (one CHW image in; boxes, labels, scores out). With `fixedSize`
 * the input is static [3, h, w], as `torch.onnx.export` writes it without dynamic axes; it
 * detects one box at `box` (in the input tensor's frame) with label `label`, score 0.9.
 * With `quirk`, an image darker than 0.5 on average yields no box and then fails in a
 * ReduceMax over the empty box list, as torchvision's exported postprocessing does
 * (pytorch/vision#2251, #2380: "Input shape:{0,4}").
 */
export function torchvisionDetector(opts: {
  fixedSize?: [number, number]
  quirk?: boolean
  /** Mean brightness (0..1) under which the quirk graph detects nothing. */
  quirkBelow?: number
  box?: [number, number, number, number]
  label?: number
  /** Classifier logits K (background included), so the card can count the classes. */
  classes?: number
  /** A weight of this many float32 zeros the graph sums (a large model for the benchmarks). */
  padFloats?: number
}): Uint8Array {
  const [h, w] = opts.fixedSize ?? ['height', 'width']
  const box = opts.box ?? [8, 8, 40, 40]
  const k = opts.classes ?? 6
  const init = [
    floats('box_c', [1, 4], box),
    int64s('label_c', [1], [opts.label ?? 1]),
    floats('score_c', [1], [0.9]),
    // A classifier head: feature [1,8] x W [8,k] -> Softmax, as roi_heads' box predictor.
    floats(
      'cls_w',
      [8, k],
      Array.from({ length: 8 * k }, (_, i) => (i % 7) / 7),
    ),
    floats('feat', [1, 8], [1, 1, 1, 1, 1, 1, 1, 1]),
  ]
  const nodes = [
    node('ReduceMean', ['image'], ['mean'], [int('keepdims', 0)]),
    node('Gemm', ['feat', 'cls_w'], ['cls_logits']),
    node('Softmax', ['cls_logits'], ['cls_prob'], [int('axis', -1)]),
    node('ReduceMax', ['cls_prob'], ['cls_max'], [int('keepdims', 0)]),
    node('Mul', ['mean', 'cls_max'], ['touch_a']),
  ]
  if (opts.padFloats) {
    init.push({
      name: 'pad',
      dims: [opts.padFloats],
      data_type: TensorType.FLOAT,
      raw_data: new Uint8Array(opts.padFloats * 4),
    })
    nodes.push(
      node('ReduceSum', ['pad'], ['pad_sum'], [int('keepdims', 0)]),
      node('Add', ['touch_a', 'pad_sum'], ['touch']),
    )
  } else nodes.push(node('Identity', ['touch_a'], ['touch']))
  if (opts.quirk) {
    init.push(
      floats('half', [], [opts.quirkBelow ?? 0.5]),
      int64s('zero', [1], [0]),
      int64s('axis0', [1], [0]),
      int64s('flat_shape', [2], [0, -1]),
    )
    // k = 1 when the image is bright, else 0: the detections are sliced to k rows.
    nodes.push(
      node('Greater', ['mean', 'half'], ['bright']),
      node('Cast', ['bright'], ['k0'], [int('to', TensorType.INT64)]),
      node('Unsqueeze', ['k0', 'axis0'], ['k']),
      node('Slice', ['box_c', 'zero', 'k', 'axis0'], ['boxes_k']),
      node('Slice', ['label_c', 'zero', 'k', 'axis0'], ['labels']),
      node('Slice', ['score_c', 'zero', 'k', 'axis0'], ['scores_k']),
      // The exporter's failing step: a per-detection flatten, view(n, -1), which onnxruntime
      // cannot do when n is 0 (the -1 is then undetermined).
      node('Reshape', ['boxes_k', 'flat_shape'], ['box_flat']),
      node('ReduceSum', ['box_flat'], ['box_sum'], [int('keepdims', 0)]),
      node('Mul', ['box_sum', 'touch'], ['t2']),
      node('Mul', ['t2', 'zero_f'], ['t3']),
      node('Add', ['boxes_k', 't3'], ['boxes']),
      node('Add', ['scores_k', 't3'], ['scores']),
    )
    init.push(floats('zero_f', [], [0]))
  } else {
    nodes.push(
      node('Mul', ['touch', 'zero_f'], ['t3']),
      node('Add', ['box_c', 't3'], ['boxes']),
      node('Identity', ['label_c'], ['labels']),
      node('Add', ['score_c', 't3'], ['scores']),
    )
    init.push(floats('zero_f', [], [0]))
  }
  return model(
    nodes,
    init,
    [valueInfo('image', TensorType.FLOAT, [3, h, w])],
    [
      valueInfo('boxes', TensorType.FLOAT, ['n', 4]),
      valueInfo('labels', TensorType.INT64, ['n']),
      valueInfo('scores', TensorType.FLOAT, ['n']),
    ],
  )
}

/**
 * An mmseg export with `classes` output classes: logits [1,K,H,W] (or their ArgMax), class
 * `cls` everywhere. The class count is the channel count of the last convolution, as in a real
 * decode head.
 */
export function mmsegModel(opts: { classes: number; cls: number; argmax?: boolean }): Uint8Array {
  const k = opts.classes
  const weight = Array.from({ length: k * 3 }, () => 0)
  const bias = Array.from({ length: k }, (_, i) => (i === opts.cls ? 1 : 0))
  const init = [floats('conv_seg.weight', [k, 3, 1, 1], weight), floats('conv_seg.bias', [k], bias)]
  const nodes = [node('Conv', ['input', 'conv_seg.weight', 'conv_seg.bias'], ['logits'])]
  if (opts.argmax)
    nodes.push(node('ArgMax', ['logits'], ['output'], [int('axis', 1), int('keepdims', 1)]))
  else nodes.push(node('Identity', ['logits'], ['output']))
  return model(
    nodes,
    init,
    [valueInfo('input', TensorType.FLOAT, [1, 3, 'height', 'width'])],
    [
      opts.argmax
        ? valueInfo('output', TensorType.INT64, [1, 1, 'height', 'width'])
        : valueInfo('output', TensorType.FLOAT, [1, k, 'height', 'width']),
    ],
    11,
  )
}

export function writeModel(dir: string, name: string, bytes: Uint8Array, sidecar?: object): string {
  const file = path.join(dir, name)
  fs.writeFileSync(file, bytes)
  if (sidecar) fs.writeFileSync(file.replace(/\.onnx$/, '.gcstudio.json'), JSON.stringify(sidecar))
  return file
}
