/**
 * Comparing COCO evaluations of runs over the same ground truth: which instances a run found
 * that the reference missed (and the reverse), the deltas of COCOeval's numbers, and a paired
 * bootstrap interval of the AP delta over images.
 *
 * Everything here reads the evaluations' own matching (`CocoEvaluation.matchesAll`,
 * `groundTruth.matchedResult50`): nothing is matched again, so the numbers are COCOeval's.
 */
import { AppError } from '../../common/errors'
import { COCO_PARAMS, type CocoEvaluation, type CocoMatchTable } from '../eval/cocoEval'
import { throwIfAborted } from '../eval/errors'
import { numpyMean } from '../eval/numpyMath'
import { drawResample, interval95, seededRandom } from './resample'

/** Throws unless both evaluations scored the same ground truth objects in the same order. */
export function assertSameGroundTruth(reference: CocoEvaluation, run: CocoEvaluation): void {
  const a = reference.groundTruth.annotationIds
  const b = run.groundTruth.annotationIds
  const sameImages =
    reference.imageIds.length === run.imageIds.length &&
    reference.imageIds.every((id, i) => id === run.imageIds[i])
  if (!sameImages || a.length !== b.length || a.some((id, i) => id !== b[i])) {
    throw new AppError(
      'CONFLICT',
      `The evaluations cover different ground truth (${reference.imageIds.length} images / ${a.length} objects vs ${run.imageIds.length} / ${b.length}); only runs over the same images can be compared.`,
    )
  }
  if (reference.iouType !== run.iouType)
    throw new AppError('CONFLICT', `Cannot compare ${reference.iouType} with ${run.iouType}.`)
}

/**
 * Per evaluated ground truth object (the evaluation's order): 1 when COCOeval's matching at IoU
 * 0.5, area "all", maxDets 100 matched it to a detection scoring at least `scoreThreshold`.
 *
 * Matching the detections above the threshold alone gives the same answer: COCOeval matches
 * greedily in descending score, so what a detection matched never depends on lower-scoring ones,
 * and the detections above a threshold are a prefix of that order (also of its top 100).
 * Crowd regions are never "found" (COCOeval ignores them); area "all" ignores nothing else.
 */
export function foundInstances(evaluation: CocoEvaluation, scoreThreshold: number): Uint8Array {
  const { matchesAll, groundTruth } = evaluation
  const scoreOf = new Float64Array(evaluation.detections.outcome50.length)
  for (let s = 0; s < matchesAll.slotDet.length; s++)
    scoreOf[matchesAll.slotDet[s]!] = matchesAll.score[s]!
  const found = new Uint8Array(groundTruth.annotationIds.length)
  for (let g = 0; g < found.length; g++) {
    const d = groundTruth.matchedResult50[g]!
    if (!groundTruth.crowd[g] && d >= 0 && scoreOf[d]! >= scoreThreshold) found[g] = 1
  }
  return found
}

export interface InstanceDifferences {
  scoreThreshold: number
  /** Ground truth indices (the evaluation's order) found by the run and not by the reference. */
  fixed: Int32Array
  /** Found by the reference and not by the run. */
  broken: Int32Array
  foundByReference: number
  foundByRun: number
  /** Non-crowd ground truth objects. */
  instances: number
}

export function instanceDifferences(
  reference: CocoEvaluation,
  run: CocoEvaluation,
  scoreThreshold = 0.5,
): InstanceDifferences {
  assertSameGroundTruth(reference, run)
  const a = foundInstances(reference, scoreThreshold)
  const b = foundInstances(run, scoreThreshold)
  const fixed: number[] = []
  const broken: number[] = []
  let foundByReference = 0
  let foundByRun = 0
  let instances = 0
  for (let g = 0; g < a.length; g++) {
    if (!reference.groundTruth.crowd[g]) instances++
    foundByReference += a[g]!
    foundByRun += b[g]!
    if (b[g] && !a[g]) fixed.push(g)
    else if (a[g] && !b[g]) broken.push(g)
  }
  return {
    scoreThreshold,
    fixed: Int32Array.from(fixed),
    broken: Int32Array.from(broken),
    foundByReference,
    foundByRun,
    instances,
  }
}

/** `run - reference` per COCO stat; null where either is -1 (undefined in COCOeval). */
export function statDeltas(
  reference: readonly number[],
  run: readonly number[],
): (number | null)[] {
  return run.map((value, i) =>
    value === -1 || reference[i] === -1 || reference[i] === undefined
      ? null
      : value - reference[i]!,
  )
}

/**
 * Precision at the 101 recall points for one category (or, with `category` null, the mean over
 * categories with ground truth), area "all", maxDets 100, at IoU `iou` (0.5, 0.75) or averaged
 * over the ten thresholds (`iou` null). Null when the category has no ground truth.
 */
export function precisionCurve(
  evaluation: CocoEvaluation,
  category: number | null,
  iou: number | null,
): number[] | null {
  const [T, R, K, A, M] = evaluation.counts
  const thresholds = COCO_PARAMS.iouThresholds
  const ts = iou === null ? [...Array(T).keys()] : [thresholds.indexOf(iou)]
  if (ts[0] === -1) throw new Error(`IoU ${iou} is not an evaluated threshold`)
  const ks = category === null ? [...Array(K).keys()] : [category]
  const curve: number[] = []
  for (let r = 0; r < R; r++) {
    let sum = 0
    let n = 0
    for (const t of ts) {
      for (const k of ks) {
        const v = evaluation.precision[(((t * R + r) * K + k) * A + 0) * M + (M - 1)]!
        if (v > -1) {
          sum += v
          n++
        }
      }
    }
    if (n === 0) return null
    curve.push(sum / n)
  }
  return curve
}

/**
 * AP@[.5:.95] (COCOeval's stats[0]) of one evaluation re-accumulated over a weighted multiset of
 * its images: image i counts `weights[i]` times. With every weight 1 it is stats[0] exactly.
 *
 * A resample that draws an image twice holds two copies of its detections at equal scores, next
 * to each other in the score order; copies of a true positive form one point of the precision
 * envelope and copies of a false positive only lower precision at an unchanged recall, so each
 * detection is added once with its weight instead of once per copy.
 */
export class ApResampler {
  readonly #table: CocoMatchTable
  /** Per category, its evaluated detections by descending score (COCOeval's stable order). */
  readonly #catStart: Int32Array
  readonly #image: Int32Array
  /** True when the detection is an unignored false positive at every threshold (most are). */
  readonly #pureFp: Uint8Array
  readonly #valid: Uint16Array
  readonly #matched: Uint16Array
  /** Ground truth per (category, image) with any, as flat lists. */
  readonly #posCategory: Int32Array
  readonly #posImage: Int32Array
  readonly #posCount: Int32Array
  readonly #tp: Float64Array
  readonly #fpExtra: Float64Array
  readonly #pointTp: Float64Array
  readonly #pointFp: Float64Array
  readonly #pointCount: Int32Array
  readonly #pointCap: number
  readonly #positives: Float64Array
  readonly #values: Float64Array

  constructor(table: CocoMatchTable) {
    this.#table = table
    const { images: I, categories: K, slotStart, score, matched, ignored } = table
    const T = COCO_PARAMS.iouThresholds.length
    const R = COCO_PARAMS.recallThresholds.length
    const all = (1 << T) - 1
    const slots = slotStart[K * I]!
    this.#catStart = new Int32Array(K + 1)
    this.#image = new Int32Array(slots)
    this.#pureFp = new Uint8Array(slots)
    this.#valid = new Uint16Array(slots)
    this.#matched = new Uint16Array(slots)
    const slotImage = new Int32Array(slots)
    for (let g = 0; g < K * I; g++)
      for (let s = slotStart[g]!; s < slotStart[g + 1]!; s++) slotImage[s] = g % I
    let cap = 1
    for (let k = 0; k < K; k++) {
      const from = slotStart[k * I]!
      const to = slotStart[(k + 1) * I]!
      this.#catStart[k + 1] = to
      // np.argsort(-scores, kind='mergesort') over the category's images concatenated in order.
      const order = Array.from({ length: to - from }, (_, j) => from + j).sort(
        (x, y) => score[y]! - score[x]! || x - y,
      )
      let interesting = 0
      for (let j = 0; j < order.length; j++) {
        const s = order[j]!
        const at = from + j
        const valid = ~ignored[s]! & all
        this.#image[at] = slotImage[s]!
        this.#valid[at] = valid
        this.#matched[at] = matched[s]! & valid
        this.#pureFp[at] = valid === all && (matched[s]! & all) === 0 ? 1 : 0
        if (!this.#pureFp[at]) interesting++
      }
      cap = Math.max(cap, interesting)
    }
    const pc: number[] = []
    const pi: number[] = []
    const pn: number[] = []
    for (let g = 0; g < K * I; g++) {
      if (table.positives[g]! > 0) {
        pc.push(Math.floor(g / I))
        pi.push(g % I)
        pn.push(table.positives[g]!)
      }
    }
    this.#posCategory = Int32Array.from(pc)
    this.#posImage = Int32Array.from(pi)
    this.#posCount = Int32Array.from(pn)
    this.#tp = new Float64Array(T)
    this.#fpExtra = new Float64Array(T)
    this.#pointCap = cap
    this.#pointTp = new Float64Array(T * cap)
    this.#pointFp = new Float64Array(T * cap)
    this.#pointCount = new Int32Array(T)
    this.#positives = new Float64Array(K)
    this.#values = new Float64Array(T * R * K)
  }

  get images(): number {
    return this.#table.images
  }

  /** AP@[.5:.95] over the weighted images; NaN when no image drawn has ground truth. */
  ap(weights: Int32Array): number {
    const K = this.#table.categories
    const T = COCO_PARAMS.iouThresholds.length
    const R = COCO_PARAMS.recallThresholds.length
    const positives = this.#positives
    positives.fill(0)
    for (let j = 0; j < this.#posCount.length; j++)
      positives[this.#posCategory[j]!]! += weights[this.#posImage[j]!]! * this.#posCount[j]!
    let kv = 0
    for (let k = 0; k < K; k++) if (positives[k]! > 0) kv++
    if (kv === 0) return NaN
    // summarize() flattens precision[t, r, k] in C order: keep that order for numpy's mean.
    let slot = 0
    for (let k = 0; k < K; k++) {
      if (positives[k]! === 0) continue
      this.#category(k, weights, positives[k]!, slot, kv)
      slot++
    }
    return numpyMean(this.#values.subarray(0, T * R * kv))
  }

  #category(k: number, weights: Int32Array, positives: number, slot: number, kv: number): void {
    const T = COCO_PARAMS.iouThresholds.length
    const recallThresholds = COCO_PARAMS.recallThresholds
    const R = recallThresholds.length
    const tp = this.#tp
    const fpExtra = this.#fpExtra
    const pointTp = this.#pointTp
    const pointFp = this.#pointFp
    const pointCount = this.#pointCount
    const cap = this.#pointCap
    const image = this.#image
    const pureFp = this.#pureFp
    const valid = this.#valid
    const matched = this.#matched
    tp.fill(0)
    fpExtra.fill(0)
    pointCount.fill(0)
    let fpAll = 0
    for (let j = this.#catStart[k]!; j < this.#catStart[k + 1]!; j++) {
      const w = weights[image[j]!]!
      if (w === 0) continue
      if (pureFp[j]) {
        fpAll += w
        continue
      }
      const v = valid[j]!
      const m = matched[j]!
      for (let t = 0; t < T; t++) {
        if (!((v >> t) & 1)) continue
        if ((m >> t) & 1) {
          tp[t]! += w
          const n = pointCount[t]!++
          pointTp[t * cap + n] = tp[t]!
          pointFp[t * cap + n] = fpAll + fpExtra[t]!
        } else fpExtra[t]! += w
      }
    }
    const values = this.#values
    for (let t = 0; t < T; t++) {
      const n = pointCount[t]!
      const base = t * cap
      // Precision at each true positive, made monotone from the right (reusing pointFp).
      for (let p = 0; p < n; p++) {
        const tps = pointTp[base + p]!
        pointFp[base + p] = tps / (pointFp[base + p]! + tps + Number.EPSILON)
      }
      for (let p = n - 1; p > 0; p--)
        if (pointFp[base + p]! > pointFp[base + p - 1]!) pointFp[base + p - 1] = pointFp[base + p]!
      let p = 0
      for (let r = 0; r < R; r++) {
        const threshold = recallThresholds[r]!
        while (p < n && pointTp[base + p]! / positives < threshold) p++
        values[(t * R + r) * kv + slot] = p < n ? pointFp[base + p]! : 0
      }
    }
  }
}

export interface BootstrapOptions {
  seed: number
  resamples: number
  signal?: AbortSignal
  onProgress?: (done: number, total: number) => void
}

export interface BootstrapResult {
  /** Per run after the first: the 95% percentile interval of AP(run) - AP(first); null if undefined. */
  intervals: ([number, number] | null)[]
  /** The replicates themselves, per run after the first (NaN where a resample had no ground truth). */
  replicates: Float64Array[]
}

/**
 * Paired bootstrap over images of the AP delta of each run against the first: every resample
 * draws the images with replacement once, and every run is re-accumulated on that same draw.
 */
export function bootstrapApDeltas(
  evaluations: readonly CocoEvaluation[],
  options: BootstrapOptions,
): BootstrapResult {
  for (const e of evaluations.slice(1)) assertSameGroundTruth(evaluations[0]!, e)
  const resamplers = evaluations.map((e) => new ApResampler(e.matchesAll))
  const weights = new Int32Array(evaluations[0]!.imageIds.length)
  const random = seededRandom(options.seed)
  const replicates = evaluations.slice(1).map(() => new Float64Array(options.resamples))
  const aps = new Float64Array(evaluations.length)
  for (let b = 0; b < options.resamples; b++) {
    if (b % 16 === 0) throwIfAborted(options.signal)
    drawResample(random, weights)
    for (let r = 0; r < resamplers.length; r++) aps[r] = resamplers[r]!.ap(weights)
    for (let r = 1; r < resamplers.length; r++) replicates[r - 1]![b] = aps[r]! - aps[0]!
    options.onProgress?.(b + 1, options.resamples)
  }
  return { intervals: replicates.map((values) => interval95(values.slice())), replicates }
}
