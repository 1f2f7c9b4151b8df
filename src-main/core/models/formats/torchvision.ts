import { adaptTorchvision } from '../../inference/adapters'
import { detectorClassCount } from '../classes'
import type { TensorInfo } from './tensors'
import type { FormatContext, FormatDefaults, ModelFormatSpec } from './types'

/** torchvision's detection exports: `boxes` [K,4], `labels` [K], `scores` [K] (+ `masks`). */
const has = (outs: TensorInfo[], ...names: string[]) =>
  names.every((n) => outs.some((o) => o.name === n))

function defaults({ staticHw }: FormatContext): FormatDefaults {
  // Resize and normalisation are inside the graph; an export without dynamic axes takes only
  // the size it was traced at, so images are resized to it (outputs are scaled back).
  return {
    preprocess: {
      resize: staticHw ? { mode: 'fixed', scale: staticHw } : { mode: 'none', scale: [1, 1] },
      mean: [0, 0, 0],
      std: [1, 1, 1],
      padDivisor: 0,
      unitRange: true,
      channelOrder: 'rgb',
    },
    labelMapping: 'category-id',
    scoreThreshold: 0.05,
    sources: [
      staticHw
        ? `torchvision export with its input fixed at ${staticHw[0]}x${staticHw[1]}: images are resized to it; normalisation inside the graph; labels are category ids`
        : 'torchvision export: resize and normalisation inside the graph; labels are category ids',
    ],
  }
}

/**
 * torchvision's exported postprocessing fails on an empty detection list (pytorch/vision#2251,
 * #2380): a node over the per-detection tensors (a flatten, a reduction) that onnxruntime
 * refuses because their first dimension is 0 ("Input shape:{0,4}", "Can't reduce on dim with
 * value of 0"). Only that is an empty result.
 */
export function isEmptyDetectionsFailure(message: string): boolean {
  return (
    /while running \w+ node/.test(message) &&
    (/[Ii]nput[ _]shape:\s*\{0[,}]/.test(message) ||
      /Can't reduce on dim with value of 0/.test(message))
  )
}

const adapt: ModelFormatSpec['adapt'] = (outputs, _primary, g, o) => ({
  detections: adaptTorchvision(outputs, g, o),
  labels: null,
})

export const torchvisionInstanceSeg: ModelFormatSpec = {
  id: 'torchvision-instance-seg',
  task: 'instance_segmentation',
  expectedOutputs: 'boxes + labels + scores + masks [K,1,H,W] (torchvision Mask R-CNN export)',
  recognises: (outs) => has(outs, 'boxes', 'labels', 'scores', 'masks'),
  defaults,
  classCount: detectorClassCount,
  adapt,
  emptyResultFailure: isEmptyDetectionsFailure,
}

export const torchvisionDetection: ModelFormatSpec = {
  id: 'torchvision-detection',
  task: 'detection',
  expectedOutputs: 'boxes [K,4] + labels [K] + scores [K] (torchvision export)',
  recognises: (outs) => has(outs, 'boxes', 'labels', 'scores') && !has(outs, 'masks'),
  defaults,
  classCount: detectorClassCount,
  adapt,
  emptyResultFailure: isEmptyDetectionsFailure,
}
