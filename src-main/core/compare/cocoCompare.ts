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
 * its images: image i counts `weights[i]` times. With every weight 1 it is stats[0] (to the last
 * bits, which numpy's pairwise summation order decides).
 *
 * A resample that draws an image twice holds two copies of its detections at equal scores, next
 * to each other in the score order; copies of a true positive form one point of the precision
 * envelope and copies of a false positive only lower precision at an unchanged recall, so each
 * detection is added once with its weight instead of once per copy.
 */
export class ApResampler {
  readonly #table: CocoMatchTable
  /**
   * Per category, its evaluated detections by descending score (COCOeval's stable order), split
   * in two: the "interesting" ones (true positive or ignored at some threshold) and, before each,
   * the gap of plain false positives (unignored, unmatched at every threshold: most detections).
   * A gap only adds to the false-positive count, so it is a tight sum of image weights; plain
   * false positives after a category's last interesting detection change no precision and are
   * dropped.
   */
  readonly #catStart: Int32Array
  readonly #image: Int32Array
  readonly #valid: Uint16Array
  readonly #matched: Uint16Array
  /** Gap before interesting detection q: `gapImage[gapStart[q] .. gapStart[q + 1])`. */
  readonly #gapStart: Int32Array
  readonly #gapImage: Int32Array
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

  constructor(table: CocoMatchTable) {
    this.#table = table
    const { images: I, categories: K, slotStart, score, matched, ignored } = table
    const T = COCO_PARAMS.iouThresholds.length
    const all = (1 << T) - 1
    const slots = slotStart[K * I]!
    const slotImage = new Int32Array(slots)
    for (let g = 0; g < K * I; g++)
      for (let s = slotStart[g]!; s < slotStart[g + 1]!; s++) slotImage[s] = g % I
    const image: number[] = []
    const valid: number[] = []
    const match: number[] = []
    const gapStart: number[] = [0]
    const gapImage: number[] = []
    this.#catStart = new Int32Array(K + 1)
    let cap = 1
    for (let k = 0; k < K; k++) {
      const from = slotStart[k * I]!
      const to = slotStart[(k + 1) * I]!
      // np.argsort(-scores, kind='mergesort') over the category's images concatenated in order.
      const order = Array.from({ length: to - from }, (_, j) => from + j).sort(
        (x, y) => score[y]! - score[x]! || x - y,
      )
      let gap: number[] = []
      for (const s of order) {
        const v = ~ignored[s]! & all
        const m = matched[s]! & v
        if (v === all && m === 0) {
          gap.push(slotImage[s]!)
          continue
        }
        image.push(slotImage[s]!)
        valid.push(v)
        match.push(m)
        for (const i of gap) gapImage.push(i)
        gapStart.push(gapImage.length)
        gap = []
      }
      this.#catStart[k + 1] = image.length
      cap = Math.max(cap, this.#catStart[k + 1]! - this.#catStart[k]!)
    }
    this.#image = Int32Array.from(image)
    this.#valid = Uint16Array.from(valid)
    this.#matched = Uint16Array.from(match)
    this.#gapStart = Int32Array.from(gapStart)
    this.#gapImage = Int32Array.from(gapImage)
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
    // summarize()'s mean over precision[t, r, k] of the categories with ground truth; summed by
    // category rather than in numpy's pairwise order, which moves only the last bits.
    let sum = 0
    for (let k = 0; k < K; k++)
      if (positives[k]! > 0) sum += this.#category(k, weights, positives[k]!)
    return sum / (T * R * kv)
  }

  /** Sum of this category's precision over the ten thresholds and 101 recall points. */
  #category(k: number, weights: Int32Array, positives: number): number {
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
    const valid = this.#valid
    const matched = this.#matched
    const gapStart = this.#gapStart
    const gapImage = this.#gapImage
    tp.fill(0)
    fpExtra.fill(0)
    pointCount.fill(0)
    let fpAll = 0
    for (let q = this.#catStart[k]!; q < this.#catStart[k + 1]!; q++) {
      for (let g = gapStart[q]!, end = gapStart[q + 1]!; g < end; g++)
        fpAll += weights[gapImage[g]!]!
      const w = weights[image[q]!]!
      if (w === 0) continue
      const v = valid[q]!
      const m = matched[q]!
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
    // Per threshold: the 101 recall points of the precision envelope, summed. One backward pass
    // over the true positives keeps the envelope (max precision to the right) and hands each
    // recall threshold the first point reaching it, as accumulate()'s searchsorted does.
    let sum = 0
    for (let t = 0; t < T; t++) {
      const n = pointCount[t]!
      if (n === 0) continue
      const base = t * cap
      let p = n - 1
      let tps = pointTp[base + p]!
      let envelope = tps / (pointFp[base + p]! + tps + Number.EPSILON)
      let recall = tps / positives
      for (let r = R - 1; r >= 0; r--) {
        const threshold = recallThresholds[r]!
        if (recall < threshold) continue // beyond the last true positive: precision 0
        while (p > 0) {
          const before = pointTp[base + p - 1]!
          const recallBefore = before / positives
          if (recallBefore < threshold) break
          p--
          tps = before
          recall = recallBefore
          const precision = tps / (pointFp[base + p]! + tps + Number.EPSILON)
          if (precision > envelope) envelope = precision
        }
        sum += envelope
      }
    }
    return sum
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
  const replicates = apDeltaReplicates(
    evaluations.map((e) => e.matchesAll),
    options,
  )
  return { intervals: replicates.map((values) => interval95(values.slice())), replicates }
}

/**
 * The replicate AP deltas (each run after the first minus the first) of resamples
 * `shard, shard + shards, ...`; the others stay NaN. Every shard draws the same resamples from
 * the seed and computes only its own, so splitting the work over threads changes nothing.
 */
export function apDeltaReplicates(
  tables: readonly CocoMatchTable[],
  options: BootstrapOptions & { shard?: number; shards?: number },
): Float64Array[] {
  const shard = options.shard ?? 0
  const shards = options.shards ?? 1
  const resamplers = tables.map((t) => new ApResampler(t))
  const weights = new Int32Array(tables[0]!.images)
  const random = seededRandom(options.seed)
  const replicates = tables.slice(1).map(() => new Float64Array(options.resamples).fill(NaN))
  const aps = new Float64Array(tables.length)
  for (let b = 0; b < options.resamples; b++) {
    if (b % 16 === 0) throwIfAborted(options.signal)
    drawResample(random, weights)
    if (b % shards !== shard) continue
    for (let r = 0; r < resamplers.length; r++) aps[r] = resamplers[r]!.ap(weights)
    for (let r = 1; r < resamplers.length; r++) replicates[r - 1]![b] = aps[r]! - aps[0]!
    options.onProgress?.(b + 1, options.resamples)
  }
  return replicates
}

/** Joins the shards' replicates: resample b comes from shard b mod shards. */
export function mergeShards(parts: readonly Float64Array[][]): Float64Array[] {
  const shards = parts.length
  return parts[0]!.map((first, r) => Float64Array.from(first, (_, b) => parts[b % shards]![r]![b]!))
}
