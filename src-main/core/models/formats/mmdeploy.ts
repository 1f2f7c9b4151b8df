import { adaptMmdeploy } from '../../inference/adapters'
import { detectorClassCount } from '../classes'
import { mmlabPreprocess } from './mmlab'
import type { TensorInfo } from './tensors'
import type { FormatContext, FormatDefaults, ModelFormatSpec } from './types'

/** mmdeploy end2end detection: `dets` [N,K,5] and `labels` [N,K] (and `masks` [N,K,28,28]). */
const has = (outs: TensorInfo[], ...names: string[]) =>
  names.every((n) => outs.some((o) => o.name === n))

function defaults(ctx: FormatContext): FormatDefaults {
  const { preprocess, source } = mmlabPreprocess(ctx, 'mmdet')
  return {
    preprocess,
    labelMapping: 'index',
    scoreThreshold: ctx.mmdeploy?.scoreThreshold ?? 0.05,
    sources: [source, 'labels index the dataset categories in id order (mmdet)'],
  }
}

const adapt: ModelFormatSpec['adapt'] = (outputs, _primary, g, o) => ({
  detections: adaptMmdeploy(outputs, g, o),
  labels: null,
})

export const mmdeployInstanceSeg: ModelFormatSpec = {
  id: 'mmdeploy-instance-seg',
  task: 'instance_segmentation',
  expectedOutputs: 'dets [N,K,5] + labels [N,K] + masks [N,K,28,28] (mmdeploy end2end)',
  recognises: (outs) => has(outs, 'dets', 'labels', 'masks'),
  defaults,
  classCount: detectorClassCount,
  adapt,
}

export const mmdeployDetection: ModelFormatSpec = {
  id: 'mmdeploy-detection',
  task: 'detection',
  expectedOutputs: 'dets [N,K,5] + labels [N,K] (mmdeploy end2end)',
  recognises: (outs) => has(outs, 'dets', 'labels') && !has(outs, 'masks'),
  defaults,
  classCount: detectorClassCount,
  adapt,
}
