import type { PreprocessSpec } from '../../../common/models'
import type { FormatContext } from './types'

const imagenet = {
  mean: [123.675, 116.28, 103.53] as [number, number, number],
  std: [58.395, 57.12, 57.375] as [number, number, number],
}

/**
 * OpenMMLab preprocessing (mmdet, mmseg): from mmdeploy's pipeline.json when the export came
 * with it, else the graph's fixed input size, else the codebase's defaults.
 */
export function mmlabPreprocess(
  ctx: FormatContext,
  codebase: 'mmdet' | 'mmseg',
): { preprocess: PreprocessSpec; source: string } {
  const { mmdeploy: mm, staticHw } = ctx
  const seg = codebase === 'mmseg'
  const resize: PreprocessSpec['resize'] = mm?.resize
    ? { mode: mm.resize.keepRatio ? 'keep_ratio' : 'fixed', scale: mm.resize.size }
    : staticHw
      ? { mode: 'fixed', scale: staticHw }
      : seg
        ? { mode: 'keep_ratio', scale: [2048, 1024] }
        : { mode: 'keep_ratio', scale: [1333, 800] }
  return {
    preprocess: {
      resize,
      mean: mm?.mean ?? imagenet.mean,
      std: mm?.std ?? imagenet.std,
      padDivisor: mm ? mm.padDivisor : seg ? 0 : 32,
      unitRange: false,
      channelOrder: mm && !mm.toRgb ? 'bgr' : 'rgb',
      ...(staticHw && resize.mode === 'keep_ratio' ? { padTo: staticHw } : {}),
    },
    source: mm
      ? 'preprocessing from mmdeploy pipeline.json'
      : staticHw
        ? `input fixed at ${staticHw[0]}x${staticHw[1]} by the graph`
        : `${codebase} defaults (keep-ratio ${resize.scale.join('x')}, ImageNet mean/std${seg ? '' : ', pad to 32'})`,
  }
}
