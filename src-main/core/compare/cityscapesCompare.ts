/**
 * Comparing Cityscapes runs over the same images: each run's official evaluation (the
 * cityscapesScripts numbers, through `CityscapesAccumulator`), pixels fixed and broken per class
 * against the reference run, per-image IoU deltas, and a paired bootstrap of the mIoU delta that
 * re-accumulates per-image, per-class intersection and union counts.
 */
import { AppError } from '../../common/errors'
import {
  CityscapesAccumulator,
  type CityscapesEvaluation,
  type CityscapesIdKind,
} from '../eval/cityscapes'
import {
  EVALUATED_LABELS,
  LABEL_BY_ID,
  LABEL_COUNT,
  labelIdForTrainId,
} from '../eval/cityscapesClasses'
import { throwIfAborted } from '../eval/errors'
import type { LabelImage } from '../eval/png'
import { drawResample, interval95, seededRandom } from './resample'

const C = EVALUATED_LABELS.length

export interface CityscapesCompareImage {
  /** Cityscapes stem or file name: what errors name. */
  name: string
  groundTruth: LabelImage
  instances: LabelImage | null
  /** One per run, in the comparison's order (the first is the reference). */
  predictions: LabelImage[]
}

export interface CityscapesImageDifference {
  name: string
  /** Per run: this image's mIoU alone (the script's per-image formula); null when undefined. */
  mIoU: (number | null)[]
  /** Per run after the first, per evaluated class (train id order): pixels it labels right and the reference wrong. */
  fixedPixels: number[][]
  brokenPixels: number[][]
  /** Per run after the first, per class: IoU(run) - IoU(reference) on this image; null where either is undefined. */
  deltaIoU: (number | null)[][]
}

/**
 * Per image and run, per evaluated class: true positives, pixels of the class's ground truth
 * (tp + fn) and false positives on other evaluated ground truth, as the script counts them.
 */
export interface CityscapesCounts {
  images: number
  runs: number
  /** `[(image * runs + run) * C * 3 + class * 3 + {0: tp, 1: gtPixels, 2: fp}]`. */
  counts: Float64Array
}

/** Prediction value -> label id, -1 for values that are not labels (the accumulator rejects those). */
function predictionLut(kind: CityscapesIdKind): Int16Array {
  const lut = new Int16Array(65536).fill(-1)
  if (kind === 'label') for (const label of LABEL_BY_ID) lut[label.id] = label.id
  else for (let t = 0; t < 256; t++) lut[t] = labelIdForTrainId(t) ?? -1
  return lut
}

/** Label id -> evaluated class index (train id), -1 for ignored labels. */
const CLASS_OF_LABEL = (() => {
  const out = new Int8Array(LABEL_COUNT).fill(-1)
  EVALUATED_LABELS.forEach((l, c) => (out[l.id] = c))
  return out
})()

export class CityscapesComparison {
  readonly #accumulators: CityscapesAccumulator[]
  readonly #luts: Int16Array[]
  readonly #runs: number
  readonly #counts: number[] = []
  readonly #images: CityscapesImageDifference[] = []

  constructor(predictionIds: readonly CityscapesIdKind[]) {
    if (predictionIds.length < 2)
      throw new AppError('INVALID_INPUT', 'A comparison needs two runs or more.')
    this.#runs = predictionIds.length
    this.#accumulators = predictionIds.map(
      (kind) => new CityscapesAccumulator({ predictionIds: kind }),
    )
    this.#luts = predictionIds.map(predictionLut)
  }

  /** Adds one image; the accumulators check it first, so a bad prediction adds nothing. */
  add(image: CityscapesCompareImage): CityscapesImageDifference {
    const R = this.#runs
    if (image.predictions.length !== R)
      throw new AppError(
        'INVALID_INPUT',
        `${image.name}: ${image.predictions.length} predictions for ${R} runs`,
      )
    const results = image.predictions.map((prediction, r) =>
      this.#accumulators[r]!.add({
        name: image.name,
        groundTruth: image.groundTruth,
        instances: image.instances,
        prediction,
      }),
    )
    const gt = image.groundTruth.data
    const pixels = gt.length
    const counts = new Float64Array(R * C * 3)
    const fixed = Array.from({ length: R - 1 }, () => new Array<number>(C).fill(0))
    const broken = Array.from({ length: R - 1 }, () => new Array<number>(C).fill(0))
    const correct = new Uint8Array(R)
    for (let i = 0; i < pixels; i++) {
      const g = gt[i]!
      const gc = CLASS_OF_LABEL[g]!
      if (gc < 0) continue
      for (let r = 0; r < R; r++) {
        const p = this.#luts[r]![image.predictions[r]!.data[i]!]!
        const base = r * C * 3
        counts[base + gc * 3 + 1]!++
        if (p === g) {
          counts[base + gc * 3]!++
          correct[r] = 1
        } else {
          correct[r] = 0
          const pc = CLASS_OF_LABEL[p]!
          if (pc >= 0) counts[base + pc * 3 + 2]!++
        }
      }
      for (let r = 1; r < R; r++) {
        if (correct[r] && !correct[0]) fixed[r - 1]![gc]!++
        else if (!correct[r] && correct[0]) broken[r - 1]![gc]!++
      }
    }
    for (const v of counts) this.#counts.push(v)
    const difference: CityscapesImageDifference = {
      name: image.name,
      mIoU: results.map((r) => r.mIoU),
      fixedPixels: fixed,
      brokenPixels: broken,
      deltaIoU: results.slice(1).map((r) =>
        r.classIoU.map((v, c) => {
          const ref = results[0]!.classIoU[c]
          return v === null || ref === null || ref === undefined ? null : v - ref
        }),
      ),
    }
    this.#images.push(difference)
    return difference
  }

  finish(): {
    evaluations: CityscapesEvaluation[]
    images: CityscapesImageDifference[]
    counts: CityscapesCounts
  } {
    return {
      evaluations: this.#accumulators.map((a) => a.finish()),
      images: this.#images,
      counts: {
        images: this.#images.length,
        runs: this.#runs,
        counts: Float64Array.from(this.#counts),
      },
    }
  }
}

/**
 * mIoU of one run over a weighted multiset of images (image i counted `weights[i]` times): the
 * script's per-class IoU from summed counts, averaged over classes where it is defined.
 */
export function resampledMIoU(counts: CityscapesCounts, run: number, weights: Int32Array): number {
  const sums = new Float64Array(C * 3)
  const stride = counts.runs * C * 3
  for (let i = 0; i < counts.images; i++) {
    const w = weights[i]!
    if (w === 0) continue
    const base = i * stride + run * C * 3
    for (let j = 0; j < C * 3; j++) sums[j]! += w * counts.counts[base + j]!
  }
  let sum = 0
  let defined = 0
  for (let c = 0; c < C; c++) {
    const tp = sums[c * 3]!
    const denominator = sums[c * 3 + 1]! + sums[c * 3 + 2]!
    if (denominator === 0) continue
    sum += tp / denominator
    defined++
  }
  return defined === 0 ? NaN : sum / defined
}

/** Paired bootstrap over images of each run's mIoU delta against the first run. */
export function bootstrapMIoUDeltas(
  counts: CityscapesCounts,
  options: {
    seed: number
    resamples: number
    signal?: AbortSignal
    onProgress?: (done: number, total: number) => void
  },
): { intervals: ([number, number] | null)[]; replicates: Float64Array[] } {
  const weights = new Int32Array(counts.images)
  const random = seededRandom(options.seed)
  const replicates = Array.from(
    { length: counts.runs - 1 },
    () => new Float64Array(options.resamples),
  )
  for (let b = 0; b < options.resamples; b++) {
    if (b % 16 === 0) throwIfAborted(options.signal)
    drawResample(random, weights)
    const reference = resampledMIoU(counts, 0, weights)
    for (let r = 1; r < counts.runs; r++)
      replicates[r - 1]![b] = resampledMIoU(counts, r, weights) - reference
    options.onProgress?.(b + 1, options.resamples)
  }
  return { intervals: replicates.map((v) => interval95(v.slice())), replicates }
}
