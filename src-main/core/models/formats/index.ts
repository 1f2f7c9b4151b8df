/**
 * The model formats the studio reads, one module each: which exporter wrote a graph, how to
 * feed it, how to read its outputs. Everything that depends on the format asks here; adding a
 * format is one module in this folder and one line in `formats` below.
 */
import { AppError } from '../../../common/errors'
import type { Graph } from '../onnx'
import { mmdeployDetection, mmdeployInstanceSeg } from './mmdeploy'
import { mmsegArgmax, mmsegLogits } from './mmseg'
import { tensorInfo, type ModelFormat, type ModelTask } from './tensors'
import { torchvisionDetection, torchvisionInstanceSeg } from './torchvision'
import type { ModelFormatSpec } from './types'

export { tensorInfo, type ModelFormat, type ModelTask, type TensorInfo } from './tensors'
export type { ModelFormatSpec } from './types'

/** In recognition order: a format with masks before the same without. */
export const formats: readonly ModelFormatSpec[] = [
  mmdeployInstanceSeg,
  mmdeployDetection,
  torchvisionInstanceSeg,
  torchvisionDetection,
  mmsegArgmax,
  mmsegLogits,
]

export function formatSpec(id: ModelFormat): ModelFormatSpec {
  const f = formats.find((x) => x.id === id)
  if (!f) throw new AppError('UNSUPPORTED', `Unknown model format "${id}".`)
  return f
}

export const taskOf = (f: ModelFormat): ModelTask => formatSpec(f).task

/**
 * Which exporter wrote a graph, from its outputs alone. A graph matching none gets an error
 * listing what it has and what each supported format has.
 */
export function detectFormat(g: Graph): ModelFormat {
  const outs = g.proto.output.map(tensorInfo)
  const found = formats.find((f) => f.recognises(outs))
  if (found) return found.id
  const have = outs
    .map((o) => `${o.name} ${o.elemType}[${o.shape?.map((d) => d ?? '?').join(',') ?? '?'}]`)
    .join(', ')
  throw new AppError(
    'UNSUPPORTED',
    `The model's outputs (${have || 'none'}) match no supported format. Expected one of: ${formats.map((f) => f.expectedOutputs).join('; ')}.`,
  )
}
