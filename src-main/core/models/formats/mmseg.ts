import { AppError } from '../../../common/errors'
import { adaptSegmentation } from '../../inference/adapters'
import { segmenterClassCount } from '../classes'
import { mmlabPreprocess } from './mmlab'
import type { TensorInfo } from './tensors'
import type { FormatContext, FormatDefaults, ModelFormatSpec } from './types'

/** mmsegmentation's exports: one output [N,1,H,W] of class ids, or [N,K,H,W] logits. */
function defaults(ctx: FormatContext): FormatDefaults {
  const { preprocess, source } = mmlabPreprocess(ctx, 'mmseg')
  return {
    preprocess,
    labelMapping: 'train-id',
    scoreThreshold: 0.05,
    sources: [source, 'labels are train ids (mmseg)'],
  }
}

const single = (outs: TensorInfo[]) =>
  outs.length === 1 && (outs[0]!.shape?.length === 4 || outs[0]!.shape?.length === 3)
    ? outs[0]!
    : null

function adapter(logits: boolean): ModelFormatSpec['adapt'] {
  return (_outputs, primary, g) => {
    if (!primary)
      throw new AppError('INFERENCE_FAILED', 'The segmentation model returned no output.')
    return { detections: null, labels: adaptSegmentation(primary, g, logits) }
  }
}

export const mmsegArgmax: ModelFormatSpec = {
  id: 'mmseg-argmax',
  task: 'semantic_segmentation',
  expectedOutputs: 'output [N,1,H,W] int64 class ids (mmsegmentation export)',
  recognises: (outs) => {
    const o = single(outs)
    return o !== null && (o.elemType === 'int64' || o.elemType === 'int32')
  },
  defaults,
  classCount: (g) => segmenterClassCount(g, false),
  adapt: adapter(false),
}

export const mmsegLogits: ModelFormatSpec = {
  id: 'mmseg-logits',
  task: 'semantic_segmentation',
  expectedOutputs: 'output [N,K,H,W] float logits (mmsegmentation export without argmax)',
  recognises: (outs) => {
    const o = single(outs)
    return (
      o !== null &&
      (o.elemType === 'float32' || o.elemType === 'float16') &&
      o.shape!.length === 4 &&
      o.shape![1] !== 1
    )
  },
  defaults,
  classCount: (g) => segmenterClassCount(g, true),
  adapt: adapter(true),
}
