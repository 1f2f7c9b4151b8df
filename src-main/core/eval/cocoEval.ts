/**
 * COCO detection evaluation for `bbox` and `segm`, reproducing pycocotools' `COCOeval`
 * (`evaluate`, `accumulate`, `summarize`) number for number.
 *
 * The algorithm is COCOeval's; the data layout is not. Detections live in flat typed arrays in
 * COCOeval's own order (category, then image, then score-sorted rank) and each one's match state
 * at the ten IoU thresholds is a pair of bit sets, so a COCO val-sized run needs tens of megabytes
 * and no per-detection objects.
 */
import {
  type CocoDataset,
  type CocoId,
  type CocoResult,
  type IouType,
  type MaskGeometry,
  type PreparedGroundTruth,
  type PreparedResults,
  maskGeometry,
  prepareGroundTruth,
  prepareResults,
} from './cocoData'
import {
  type CocoConfusionMatrix,
  type ConfusionOptions,
  computeConfusionMatrix,
} from './confusion'
import { throwIfAborted } from './errors'
import { linspace, numpyMean } from './numpyMath'
import { type Rle, boxIouAt, rleIouGivenBoxOverlap } from './rle'

export interface AreaRange {
  label: 'all' | 'small' | 'medium' | 'large'
  min: number
  max: number
}

export interface CocoParams {
  /** `np.linspace(.5, .95, 10)`: the exact doubles matter for `iou >= t`. */
  iouThresholds: Float64Array
  /** `np.linspace(0, 1, 101)`. */
  recallThresholds: Float64Array
  maxDets: readonly [number, number, number]
  /** Bounds are inclusive on both sides: an area of exactly 32^2 is both small and medium. */
  areaRanges: readonly AreaRange[]
}

export const COCO_PARAMS: CocoParams = {
  iouThresholds: linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1),
  recallThresholds: linspace(0.0, 1.0, Math.round((1.0 - 0.0) / 0.01) + 1),
  maxDets: [1, 10, 100],
  areaRanges: [
    { label: 'all', min: 0 ** 2, max: 1e5 ** 2 },
    { label: 'small', min: 0 ** 2, max: 32 ** 2 },
    { label: 'medium', min: 32 ** 2, max: 96 ** 2 },
    { label: 'large', min: 96 ** 2, max: 1e5 ** 2 },
  ],
}

export { COCO_STAT_NAMES } from '../../common/cocoStats'

/** What happened to one detection at one IoU threshold (area range "all", maxDets 100). */
export const DetectionOutcome = {
  /** Beyond the 100 highest-scoring detections of its image and category: COCOeval drops it. */
  notEvaluated: 0,
  truePositive: 1,
  falsePositive: 2,
  /** Matched a crowd region (or, outside area "all", unmatched and out of range): not counted. */
  ignored: 3,
} as const
export type DetectionOutcomeCode = (typeof DetectionOutcome)[keyof typeof DetectionOutcome]

export interface CocoCategoryResult {
  categoryId: number
  name: string | undefined
  /** The 12 summary numbers restricted to this category; -1 where COCOeval would give -1. */
  stats: number[]
  /** Non-crowd ground truth objects. */
  groundTruth: number
  detections: number
}

export interface CocoImageResult {
  imageId: CocoId
  fileName: string | undefined
  /** Non-crowd ground truth objects (all categories). */
  groundTruth: number
  crowd: number
  detections: number
  /**
   * AP@[.5:.95] of this image alone: COCOeval's accumulate over the image's detections (area
   * "all", 100 per category), averaged over its categories with ground truth; null without any.
   */
  ap: number | null
  ap50: number | null
  /** At IoU 0.5 over detections scoring at least `perImageScoreThreshold` (area "all"). */
  truePositives: number
  falsePositives: number
  falseNegatives: number
  /** Highest score among the image's detections; null without any. */
  maxScore: number | null
}

/** Arrays parallel to the results list, in input order. */
export interface CocoDetectionOutcomes {
  outcome50: Uint8Array
  outcome75: Uint8Array
  /** Annotation id of the matched ground truth (crowd included), NaN when unmatched. */
  matchedGt50: Float64Array
  matchedGt75: Float64Array
}

/** Arrays parallel to the evaluated ground truth, in annotation file order. */
export interface CocoGroundTruthOutcomes {
  annotationIds: Float64Array
  imageIds: CocoId[]
  categoryIds: Int32Array
  crowd: Uint8Array
  /** Results index of the detection matched at IoU .5 / .75, -1 when missed (crowd: the last). */
  matchedResult50: Int32Array
  matchedResult75: Int32Array
}

export interface CocoEvaluation {
  iouType: IouType
  params: {
    iouThresholds: number[]
    recallThresholds: number[]
    maxDets: number[]
    areaRanges: AreaRange[]
  }
  imageIds: CocoId[]
  categoryIds: number[]
  categoryNames: (string | undefined)[]
  stats: number[]
  /** `[T, R, K, A, M]`, the shape of `precision` and `scores` (C order), as COCOeval's `counts`. */
  counts: [number, number, number, number, number]
  precision: Float64Array
  /** `[T, K, A, M]`. */
  recall: Float64Array
  scores: Float64Array
  perCategory: CocoCategoryResult[]
  perImage: CocoImageResult[]
  perImageScoreThreshold: number
  detections: CocoDetectionOutcomes
  groundTruth: CocoGroundTruthOutcomes
  confusion: CocoConfusionMatrix | null
  /** The matching accumulate() reads at area "all", maxDets 100 (comparisons re-accumulate it). */
  matchesAll: CocoMatchTable
  warnings: string[]
}

/**
 * COCOeval's evaluated detections at area "all" and maxDets 100, grouped as `evalImgs` is
 * (category k, image i: group `k * images + i`), each group's detections by descending score.
 * Enough to re-run accumulate() over any multiset of images without matching again.
 */
export interface CocoMatchTable {
  images: number
  categories: number
  /** First slot of each group; length `categories * images + 1`. */
  slotStart: Int32Array
  /** Results index of each slot's detection. */
  slotDet: Int32Array
  score: Float64Array
  /** Bit t: matched / ignored at `iouThresholds[t]`. */
  matched: Uint16Array
  ignored: Uint16Array
  /** Non-ignored ground truth per group (accumulate's `npig`, split by image). */
  positives: Int32Array
}

export interface CocoEvaluateOptions {
  iouType: IouType
  /** Score a detection needs to count in the per-image TP/FP/FN columns (default 0.5). */
  perImageScoreThreshold?: number
  /** Thresholds of the confusion matrix (default IoU 0.5, score 0.5); false skips it. */
  confusion?: ConfusionOptions | false
  /**
   * false skips the per-category and per-image results (`perCategory` and `perImage` are then
   * empty), for callers that only print the twelve summary numbers. Default true.
   */
  details?: boolean
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
}

/** Evaluates a COCO results list against a COCO instances object. */
export function evaluateCoco(
  dataset: CocoDataset,
  results: readonly CocoResult[],
  options: CocoEvaluateOptions,
): CocoEvaluation {
  const gt = prepareGroundTruth(dataset, options.iouType)
  throwIfAborted(options.signal)
  const dt = prepareResults(gt, results)
  throwIfAborted(options.signal)
  return evaluatePrepared(gt, dt, options)
}

/** Group members by `category * images + image`, keeping input order within a group (stable). */
function groupBy(
  count: number,
  category: Int32Array,
  image: Int32Array,
  images: number,
  groups: number,
): { start: Int32Array; items: Int32Array } {
  const start = new Int32Array(groups + 1)
  for (let i = 0; i < count; i++) start[category[i]! * images + image[i]! + 1]!++
  for (let g = 0; g < groups; g++) start[g + 1]! += start[g]!
  const fill = start.slice(0, groups)
  const items = new Int32Array(count)
  for (let i = 0; i < count; i++) items[fill[category[i]! * images + image[i]!]!++] = i
  return { start, items }
}

export function evaluatePrepared(
  gt: PreparedGroundTruth,
  dt: PreparedResults,
  options: CocoEvaluateOptions,
): CocoEvaluation {
  const p = COCO_PARAMS
  const { signal, onProgress } = options
  const I = gt.imageIds.length
  const K = gt.categoryIds.length
  const T = p.iouThresholds.length
  const R = p.recallThresholds.length
  const A = p.areaRanges.length
  const M = p.maxDets.length
  const progressTotal = 2 * K
  onProgress?.(0, progressTotal)

  // evaluate(): per image and category. The work is split into small methods called once per
  // group, so V8 optimises them within the first evaluation instead of after several.
  const matcher = new GroupMatcher(gt, dt)
  for (let k = 0; k < K; k++) {
    throwIfAborted(signal)
    for (let i = 0; i < I; i++) matcher.evaluateGroup(k, i)
    onProgress?.(k + 1, progressTotal)
  }

  // accumulate()
  const accumulator = new Accumulator(matcher, dt.score, K, I)
  for (let k = 0; k < K; k++) {
    throwIfAborted(signal)
    accumulator.accumulateCategory(k)
    onProgress?.(K + k + 1, progressTotal)
  }
  const { precision, recall, scores } = accumulator

  const counts: [number, number, number, number, number] = [T, R, K, A, M]
  const stats = summarizeDetections(precision, recall, counts, null)
  const details = options.details !== false
  const perCategory = details ? perCategoryResults(gt, dt, precision, recall, counts) : []

  // Per-detection and per-ground-truth outcomes at area "all".
  const { slots, slotDet, matchedBits, ignoredBits, slotGt50, slotGt75, t50, t75 } = matcher
  const gtIds = gt.gt.annotationIds
  const outcome50 = new Uint8Array(dt.count)
  const outcome75 = new Uint8Array(dt.count)
  const matchedGt50 = new Float64Array(dt.count).fill(NaN)
  const matchedGt75 = new Float64Array(dt.count).fill(NaN)
  for (let s = 0; s < slots; s++) {
    const d = slotDet[s]!
    outcome50[d] = outcomeAt(matchedBits[s]!, ignoredBits[s]!, t50)
    outcome75[d] = outcomeAt(matchedBits[s]!, ignoredBits[s]!, t75)
    if (slotGt50[s]! >= 0) matchedGt50[d] = gtIds[slotGt50[s]!]!
    if (slotGt75[s]! >= 0) matchedGt75[d] = gtIds[slotGt75[s]!]!
  }

  const perImageScoreThreshold = options.perImageScoreThreshold ?? 0.5
  const perImage = details ? perImageResults(gt, dt, matcher, perImageScoreThreshold) : []

  const confusion =
    options.confusion === false
      ? null
      : computeConfusionMatrix(gt, dt, options.confusion ?? {}, matcher.maskGeometry())

  return {
    iouType: gt.iouType,
    params: {
      iouThresholds: Array.from(p.iouThresholds),
      recallThresholds: Array.from(p.recallThresholds),
      maxDets: [...p.maxDets],
      areaRanges: p.areaRanges.map((range) => ({ ...range })),
    },
    imageIds: gt.imageIds,
    categoryIds: gt.categoryIds,
    categoryNames: gt.categoryNames,
    stats,
    counts,
    precision,
    recall,
    scores,
    perCategory,
    perImage,
    perImageScoreThreshold,
    detections: { outcome50, outcome75, matchedGt50, matchedGt75 },
    groundTruth: {
      annotationIds: gt.gt.annotationIds,
      imageIds: Array.from(gt.gt.image, (i) => gt.imageIds[i]!),
      categoryIds: Int32Array.from(gt.gt.category, (k) => gt.categoryIds[k]!),
      crowd: gt.gt.crowd,
      matchedResult50: matcher.gtDet50,
      matchedResult75: matcher.gtDet75,
    },
    confusion,
    matchesAll: matchTable(gt, dt, matcher),
    warnings: gt.warnings,
  }
}

/** `values[indices[i]]` for every i (a plain loop: cheaper than a callback while code is cold). */
function gather(values: Float64Array, indices: Int32Array): Float64Array {
  const out = new Float64Array(indices.length)
  for (let i = 0; i < indices.length; i++) out[i] = values[indices[i]!]!
  return out
}

function matchTable(
  gt: PreparedGroundTruth,
  dt: PreparedResults,
  matcher: GroupMatcher,
): CocoMatchTable {
  const I = gt.imageIds.length
  const K = gt.categoryIds.length
  const all = COCO_PARAMS.areaRanges[0]!
  const positives = new Int32Array(K * I)
  for (let g = 0; g < gt.gt.count; g++) {
    const area = gt.gt.area[g]!
    if (!gt.gt.crowd[g] && area >= all.min && area <= all.max)
      positives[gt.gt.category[g]! * I + gt.gt.image[g]!]!++
  }
  // Area "all" is range 0, so its bits are the first `slots` entries.
  return {
    images: I,
    categories: K,
    slotStart: matcher.slotStart,
    slotDet: matcher.slotDet,
    score: gather(dt.score, matcher.slotDet),
    matched: matcher.matchedBits.slice(0, matcher.slots),
    ignored: matcher.ignoredBits.slice(0, matcher.slots),
    positives,
  }
}

/**
 * COCOeval `evaluate()`: IoUs per image and category (`computeIoU`) and greedy matching per area
 * range and IoU threshold (`evaluateImg`), stored per evaluated detection ("slot") as bit sets.
 */
class GroupMatcher {
  readonly images: number
  readonly gtStart: Int32Array
  readonly gtItems: Int32Array
  /** Slots: the evaluated detections (the first maxDets[-1] of each group) in COCOeval's order. */
  readonly slotStart: Int32Array
  readonly slotDet: Int32Array
  /** Rank of the slot's detection within its image and category (score order). */
  readonly slotRank: Int32Array
  readonly slots: number
  /** Bit t: the slot's state at iouThresholds[t]; one array per area range, `a * slots + s`. */
  readonly matchedBits: Uint16Array
  readonly ignoredBits: Uint16Array
  readonly slotGt50: Int32Array
  readonly slotGt75: Int32Array
  readonly gtDet50: Int32Array
  readonly gtDet75: Int32Array
  /** Non-ignored ground truth per category and area range: accumulate's `npig`. */
  readonly npig: Float64Array
  readonly t50: number
  readonly t75: number

  readonly #segm: boolean
  readonly #gtCrowd: Uint8Array
  readonly #gtArea: Float64Array
  readonly #gtIds: Float64Array
  readonly #dtArea: Float64Array
  readonly #gtBoxes: Float64Array
  readonly #dtBoxes: Float64Array
  readonly #gtMasks: Rle[] | null
  readonly #dtMasks: Rle[] | null
  readonly #geometry: MaskGeometry | null
  readonly #thresholds: Float64Array
  readonly #areaMin: Float64Array
  readonly #areaMax: Float64Array
  #ious = new Float64Array(1024)
  #gtOrder = new Int32Array(64)
  #gtIgnored = new Uint8Array(64)
  #gtTaken = new Uint8Array(64)

  constructor(gt: PreparedGroundTruth, dt: PreparedResults) {
    const p = COCO_PARAMS
    const I = gt.imageIds.length
    const K = gt.categoryIds.length
    const A = p.areaRanges.length
    const maxDet = p.maxDets[p.maxDets.length - 1]!
    const groups = K * I
    this.images = I
    const gtGroups = groupBy(gt.gt.count, gt.gt.category, gt.gt.image, I, groups)
    this.gtStart = gtGroups.start
    this.gtItems = gtGroups.items
    const dtGroups = groupBy(dt.count, dt.category, dt.image, I, groups)
    sortGroupsByScore(dtGroups, dt.score)

    this.slotStart = new Int32Array(groups + 1)
    for (let g = 0; g < groups; g++) {
      this.slotStart[g + 1] =
        this.slotStart[g]! + Math.min(maxDet, dtGroups.start[g + 1]! - dtGroups.start[g]!)
    }
    this.slots = this.slotStart[groups]!
    this.slotDet = new Int32Array(this.slots)
    this.slotRank = new Int32Array(this.slots)
    for (let g = 0; g < groups; g++) {
      const from = dtGroups.start[g]!
      for (let s = this.slotStart[g]!, r = 0; s < this.slotStart[g + 1]!; s++, r++) {
        this.slotDet[s] = dtGroups.items[from + r]!
        this.slotRank[s] = r
      }
    }
    this.matchedBits = new Uint16Array(A * this.slots)
    this.ignoredBits = new Uint16Array(A * this.slots)
    this.slotGt50 = new Int32Array(this.slots).fill(-1)
    this.slotGt75 = new Int32Array(this.slots).fill(-1)
    this.gtDet50 = new Int32Array(gt.gt.count).fill(-1)
    this.gtDet75 = new Int32Array(gt.gt.count).fill(-1)
    this.npig = new Float64Array(K * A)
    this.t50 = thresholdIndex(p.iouThresholds, 0.5)
    this.t75 = thresholdIndex(p.iouThresholds, 0.75)
    this.#thresholds = p.iouThresholds.map((t) => Math.min(t, 1 - 1e-10))
    this.#areaMin = Float64Array.from(p.areaRanges, (r) => r.min)
    this.#areaMax = Float64Array.from(p.areaRanges, (r) => r.max)

    this.#segm = gt.iouType === 'segm'
    this.#gtCrowd = gt.gt.crowd
    this.#gtArea = gt.gt.area
    this.#gtIds = gt.gt.annotationIds
    this.#dtArea = dt.area
    this.#gtBoxes = gt.gt.boxes
    this.#dtBoxes = dt.boxes
    this.#gtMasks = gt.gt.masks
    this.#dtMasks = dt.masks
    this.#geometry = this.#segm ? maskGeometry(gt, dt) : null
  }

  maskGeometry(): MaskGeometry | null {
    return this.#geometry
  }

  evaluateGroup(k: number, i: number): void {
    const group = k * this.images + i
    const gFrom = this.gtStart[group]!
    const G = this.gtStart[group + 1]! - gFrom
    const sFrom = this.slotStart[group]!
    const D = this.slotStart[group + 1]! - sFrom
    if (G === 0 && D === 0) return
    if (this.#gtOrder.length < G) {
      this.#gtOrder = new Int32Array(G * 2)
      this.#gtIgnored = new Uint8Array(G * 2)
      this.#gtTaken = new Uint8Array(G * 2)
    }
    if (G > 0 && D > 0) {
      if (this.#ious.length < D * G) this.#ious = new Float64Array(D * G * 2)
      if (this.#segm) this.#maskIous(gFrom, G, sFrom, D)
      else this.#boxIous(gFrom, G, sFrom, D)
    }
    for (let a = 0; a < this.#areaMin.length; a++) this.#matchArea(k, a, gFrom, G, sFrom, D)
  }

  /** computeIoU for boxes: D x G, ground truth in file order. */
  #boxIous(gFrom: number, G: number, sFrom: number, D: number): void {
    const ious = this.#ious
    for (let d = 0; d < D; d++) {
      const det = this.slotDet[sFrom + d]!
      for (let j = 0; j < G; j++) {
        const g = this.gtItems[gFrom + j]!
        ious[d * G + j] = boxIouAt(
          this.#dtBoxes,
          det * 4,
          this.#gtBoxes,
          g * 4,
          this.#gtCrowd[g] === 1,
        )
      }
    }
  }

  /** computeIoU for masks (maskApi rleIou: box test first, then the run-length walk). */
  #maskIous(gFrom: number, G: number, sFrom: number, D: number): void {
    const ious = this.#ious
    const geometry = this.#geometry!
    for (let d = 0; d < D; d++) {
      const det = this.slotDet[sFrom + d]!
      for (let j = 0; j < G; j++) {
        const g = this.gtItems[gFrom + j]!
        const crowd = this.#gtCrowd[g] === 1
        let iou = boxIouAt(geometry.dtBoxes, det * 4, geometry.gtBoxes, g * 4, crowd)
        if (iou > 0) {
          iou = rleIouGivenBoxOverlap(
            this.#dtMasks![det]!,
            geometry.dtAreas[det]!,
            this.#gtMasks![g]!,
            geometry.gtAreas[g]!,
            crowd,
          )
        }
        ious[d * G + j] = iou
      }
    }
  }

  /** evaluateImg for one area range: greedy matching at every IoU threshold. */
  #matchArea(k: number, a: number, gFrom: number, G: number, sFrom: number, D: number): void {
    const min = this.#areaMin[a]!
    const max = this.#areaMax[a]!
    const gtOrder = this.#gtOrder
    const gtIgnored = this.#gtIgnored
    const gtTaken = this.#gtTaken
    const gtCrowd = this.#gtCrowd
    const gtItems = this.gtItems
    const ious = this.#ious
    // Ignored ground truth sorted last, stably.
    let n = 0
    for (let j = 0; j < G; j++) {
      const g = gtItems[gFrom + j]!
      const area = this.#gtArea[g]!
      const ignored = gtCrowd[g] === 1 || area < min || area > max
      gtIgnored[j] = ignored ? 1 : 0
      if (!ignored) gtOrder[n++] = j
    }
    this.npig[k * this.#areaMin.length + a]! += n
    for (let j = 0; j < G; j++) if (gtIgnored[j]) gtOrder[n++] = j

    const bitsBase = a * this.slots + sFrom
    const matchedBits = this.matchedBits
    const ignoredBits = this.ignoredBits
    const T = this.#thresholds.length
    if (G > 0 && D > 0) {
      for (let t = 0; t < T; t++) {
        gtTaken.fill(0, 0, G)
        const bit = 1 << t
        const threshold = this.#thresholds[t]!
        for (let d = 0; d < D; d++) {
          let best = threshold
          let m = -1
          for (let o = 0; o < G; o++) {
            const j = gtOrder[o]!
            // A matched ground truth is taken, unless it is a crowd region.
            if (gtTaken[j] && !gtCrowd[gtItems[gFrom + j]!]) continue
            // Matched to a real object already: ignored ones cannot beat it.
            if (m > -1 && gtIgnored[m] === 0 && gtIgnored[j] === 1) break
            const iou = ious[d * G + j]!
            if (iou < best) continue
            best = iou
            m = j
          }
          if (m === -1) continue
          const g = gtItems[gFrom + m]!
          gtTaken[m] = 1
          // COCOeval keeps the matched id and later tests it for truth: id 0 is "unmatched".
          if (this.#gtIds[g] !== 0) matchedBits[bitsBase + d]! |= bit
          if (gtIgnored[m]) ignoredBits[bitsBase + d]! |= bit
          if (a === 0) this.#recordMatch(t, sFrom + d, g)
        }
      }
    }
    // Unmatched detections outside the area range are ignored.
    const all = (1 << T) - 1
    for (let d = 0; d < D; d++) {
      const area = this.#dtArea[this.slotDet[sFrom + d]!]!
      if (area < min || area > max) ignoredBits[bitsBase + d]! |= ~matchedBits[bitsBase + d]! & all
    }
  }

  #recordMatch(t: number, slot: number, g: number): void {
    if (t === this.t50) {
      this.slotGt50[slot] = g
      this.gtDet50[g] = this.slotDet[slot]!
    } else if (t === this.t75) {
      this.slotGt75[slot] = g
      this.gtDet75[g] = this.slotDet[slot]!
    }
  }
}

/**
 * Within each image-and-category group, detections by descending score, ties in results order:
 * COCOeval's np.argsort(-score, kind='mergesort'). Groups are mostly tiny, so insertion sort.
 */
function sortGroupsByScore(
  groups: { start: Int32Array; items: Int32Array },
  score: Float64Array,
): void {
  const { start, items } = groups
  for (let g = 0; g + 1 < start.length; g++) {
    const from = start[g]!
    const to = start[g + 1]!
    if (to - from > 64) {
      const sorted = Array.from(items.subarray(from, to)).sort(
        (a, b) => score[b]! - score[a]! || a - b,
      )
      items.set(sorted, from)
      continue
    }
    for (let i = from + 1; i < to; i++) {
      const item = items[i]!
      const s = score[item]!
      let j = i - 1
      // Items arrive in results order, so moving only past strictly lower scores keeps ties stable.
      while (j >= from && score[items[j]!]! < s) {
        items[j + 1] = items[j]!
        j--
      }
      items[j + 1] = item
    }
  }
}

/**
 * The slots of groups `groupFrom..groupTo` (each already by descending score, ties in results
 * order) as one list by descending score, ties in list order: a stable sort of the concatenation,
 * done by merging neighbouring runs pairwise.
 */
function mergeSortedRuns(
  slotStart: Int32Array,
  groupFrom: number,
  groupTo: number,
  slotDet: Int32Array,
  score: Float64Array,
): Int32Array {
  const from = slotStart[groupFrom]!
  const n = slotStart[groupTo]! - from
  let items = new Int32Array(n)
  let keys = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    items[i] = from + i
    keys[i] = score[slotDet[from + i]!]!
  }
  // Run boundaries (offsets into items), empty groups dropped.
  const bounds = new Int32Array(groupTo - groupFrom + 1)
  let runs = 0
  for (let g = groupFrom; g < groupTo; g++) {
    if (slotStart[g + 1]! > slotStart[g]!) bounds[runs++] = slotStart[g]! - from
  }
  bounds[runs] = n
  let nextItems = new Int32Array(n)
  let nextKeys = new Float64Array(n)
  while (runs > 1) {
    let merged = 0
    for (let r = 0; r < runs; r += 2) {
      const lo = bounds[r]!
      const mid = bounds[r + 1]!
      const hi = r + 2 <= runs ? bounds[r + 2]! : mid
      let a = lo
      let b = mid
      let o = lo
      // Equal scores keep the left run's item first: stable.
      while (a < mid && b < hi) {
        if (keys[b]! > keys[a]!) {
          nextItems[o] = items[b]!
          nextKeys[o++] = keys[b++]!
        } else {
          nextItems[o] = items[a]!
          nextKeys[o++] = keys[a++]!
        }
      }
      while (a < mid) {
        nextItems[o] = items[a]!
        nextKeys[o++] = keys[a++]!
      }
      while (b < hi) {
        nextItems[o] = items[b]!
        nextKeys[o++] = keys[b++]!
      }
      bounds[merged++] = lo
    }
    bounds[merged] = n
    runs = merged
    ;[items, nextItems] = [nextItems, items]
    ;[keys, nextKeys] = [nextKeys, keys]
  }
  return items
}

/**
 * COCOeval `accumulate()`: per category, area range and maxDets, the detections of all images by
 * descending score (stable), then per IoU threshold the precision/recall curve sampled at the 101
 * recall thresholds.
 */
class Accumulator {
  readonly precision: Float64Array
  readonly recall: Float64Array
  readonly scores: Float64Array
  readonly #matcher: GroupMatcher
  readonly #score: Float64Array
  readonly #K: number
  readonly #I: number
  #pr = new Float64Array(1024)
  #rc = new Float64Array(1024)
  #sortedScores = new Float64Array(1024)
  #sortedMatched = new Uint16Array(1024)
  #sortedIgnored = new Uint16Array(1024)

  constructor(matcher: GroupMatcher, score: Float64Array, K: number, I: number) {
    const p = COCO_PARAMS
    const T = p.iouThresholds.length
    const R = p.recallThresholds.length
    const A = p.areaRanges.length
    const M = p.maxDets.length
    this.precision = new Float64Array(T * R * K * A * M).fill(-1)
    this.recall = new Float64Array(T * K * A * M).fill(-1)
    this.scores = new Float64Array(T * R * K * A * M).fill(-1)
    this.#matcher = matcher
    this.#score = score
    this.#K = K
    this.#I = I
  }

  accumulateCategory(k: number): void {
    const p = COCO_PARAMS
    const { slotStart, slotDet, slotRank } = this.#matcher
    const score = this.#score
    // np.argsort(-dtScores, kind='mergesort') over the images' detections concatenated in order.
    const sortedAll = mergeSortedRuns(slotStart, k * this.#I, (k + 1) * this.#I, slotDet, score)
    // The slots hold the first maxDets[-1] of each image, so the last limit keeps them all.
    const last = p.maxDets.length - 1
    this.#accumulateMaxDets(k, last, sortedAll)
    for (let m = 0; m < last; m++) {
      const limit = p.maxDets[m]!
      // Filtering a stably sorted list keeps it stably sorted: the same order as sorting the
      // first `limit` detections of each image.
      const sorted = new Int32Array(sortedAll.length)
      let n = 0
      for (let i = 0; i < sortedAll.length; i++) {
        if (slotRank[sortedAll[i]!]! < limit) sorted[n++] = sortedAll[i]!
      }
      // A limit no image reaches leaves the same list, so the same curves.
      if (n === sortedAll.length) this.#copyMaxDets(k, last, m)
      else this.#accumulateMaxDets(k, m, sorted.subarray(0, n))
    }
  }

  /** The precision, scores and recall cells of maxDets index `from` copied to index `to`. */
  #copyMaxDets(k: number, from: number, to: number): void {
    const p = COCO_PARAMS
    const T = p.iouThresholds.length
    const R = p.recallThresholds.length
    const A = p.areaRanges.length
    const M = p.maxDets.length
    const K = this.#K
    for (let t = 0; t < T; t++) {
      for (let a = 0; a < A; a++) {
        const cell = ((t * K + k) * A + a) * M
        this.recall[cell + to] = this.recall[cell + from]!
        for (let r = 0; r < R; r++) {
          const c = (((t * R + r) * K + k) * A + a) * M
          this.precision[c + to] = this.precision[c + from]!
          this.scores[c + to] = this.scores[c + from]!
        }
      }
    }
  }

  #accumulateMaxDets(k: number, m: number, sorted: Int32Array): void {
    const nd = sorted.length
    if (this.#pr.length < nd) {
      this.#pr = new Float64Array(nd * 2)
      this.#rc = new Float64Array(nd * 2)
      this.#sortedScores = new Float64Array(nd * 2)
      this.#sortedMatched = new Uint16Array(nd * 2)
      this.#sortedIgnored = new Uint16Array(nd * 2)
    }
    const { slotDet, matchedBits, ignoredBits, slots, npig } = this.#matcher
    for (let i = 0; i < nd; i++) this.#sortedScores[i] = this.#score[slotDet[sorted[i]!]!]!
    const A = COCO_PARAMS.areaRanges.length
    const T = COCO_PARAMS.iouThresholds.length
    for (let a = 0; a < A; a++) {
      const positives = npig[k * A + a]!
      if (positives === 0) continue
      const bitsBase = a * slots
      for (let i = 0; i < nd; i++) {
        this.#sortedMatched[i] = matchedBits[bitsBase + sorted[i]!]!
        this.#sortedIgnored[i] = ignoredBits[bitsBase + sorted[i]!]!
      }
      for (let t = 0; t < T; t++) this.#curve(k, a, m, t, nd, positives)
    }
  }

  /** One precision/recall curve: cumulative TP/FP, monotone precision, sampled recall points. */
  #curve(k: number, a: number, m: number, t: number, nd: number, positives: number): void {
    const p = COCO_PARAMS
    const K = this.#K
    const A = p.areaRanges.length
    const M = p.maxDets.length
    const R = p.recallThresholds.length
    const recallThresholds = p.recallThresholds
    const pr = this.#pr
    const rc = this.#rc
    const matched = this.#sortedMatched
    const ignored = this.#sortedIgnored
    let tp = 0
    let fp = 0
    for (let i = 0; i < nd; i++) {
      if (!((ignored[i]! >> t) & 1)) {
        if ((matched[i]! >> t) & 1) tp++
        else fp++
      }
      rc[i] = tp / positives
      pr[i] = tp / (fp + tp + Number.EPSILON)
    }
    this.recall[((t * K + k) * A + a) * M + m] = nd ? rc[nd - 1]! : 0
    for (let i = nd - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!
    // searchsorted(rc, recThrs, side='left'), walking both sorted arrays together; cells past the
    // last detection stay 0 (COCOeval's zeros, left when its loop raises IndexError).
    const stride = K * A * M
    let cell = ((t * R * K + k) * A + a) * M + m
    let i = 0
    for (let r = 0; r < R; r++, cell += stride) {
      const threshold = recallThresholds[r]!
      while (i < nd && rc[i]! < threshold) i++
      if (i >= nd) {
        for (; r < R; r++, cell += stride) {
          this.precision[cell] = 0
          this.scores[cell] = 0
        }
        return
      }
      this.precision[cell] = pr[i]!
      this.scores[cell] = this.#sortedScores[i]!
    }
  }
}

function thresholdIndex(thresholds: Float64Array, value: number): number {
  // summarize() finds thresholds with `np.where(iouThr == p.iouThrs)`: exact equality.
  const index = thresholds.indexOf(value)
  if (index < 0) throw new Error(`IoU threshold ${value} is not one of the evaluated thresholds`)
  return index
}

function outcomeAt(matched: number, ignored: number, t: number): DetectionOutcomeCode {
  if ((ignored >> t) & 1) return DetectionOutcome.ignored
  return (matched >> t) & 1 ? DetectionOutcome.truePositive : DetectionOutcome.falsePositive
}

/**
 * COCOeval `summarize()` for detections. With `category` set, the same twelve means restricted to
 * one category (detectron2's per-category AP is `stats[0]` of this).
 */
export function summarizeDetections(
  precision: Float64Array,
  recall: Float64Array,
  counts: [number, number, number, number, number],
  category: number | null,
): number[] {
  const [T, R, K, A, M] = counts
  const p = COCO_PARAMS
  const kFrom = category ?? 0
  const kTo = category === null ? K : category + 1
  const values = new Float64Array(T * R * (kTo - kFrom))
  const one = (ap: boolean, iouThr: number | null, area: string, maxDets: number): number => {
    const a = p.areaRanges.findIndex((r) => r.label === area)
    const m = p.maxDets.indexOf(maxDets)
    const tFrom = iouThr === null ? 0 : thresholdIndex(p.iouThresholds, iouThr)
    const tTo = iouThr === null ? T : tFrom + 1
    let n = 0
    // Gathered in C order of s[t, r, k] (or s[t, k]), as `s[s > -1]` flattens them.
    for (let t = tFrom; t < tTo; t++) {
      if (ap) {
        for (let r = 0; r < R; r++) {
          for (let k = kFrom; k < kTo; k++) {
            const v = precision[(((t * R + r) * K + k) * A + a) * M + m]!
            if (v > -1) values[n++] = v
          }
        }
      } else {
        for (let k = kFrom; k < kTo; k++) {
          const v = recall[((t * K + k) * A + a) * M + m]!
          if (v > -1) values[n++] = v
        }
      }
    }
    return n === 0 ? -1 : numpyMean(values.subarray(0, n))
  }
  const [m0, m1, m2] = p.maxDets
  return [
    one(true, null, 'all', m2),
    one(true, 0.5, 'all', m2),
    one(true, 0.75, 'all', m2),
    one(true, null, 'small', m2),
    one(true, null, 'medium', m2),
    one(true, null, 'large', m2),
    one(false, null, 'all', m0),
    one(false, null, 'all', m1),
    one(false, null, 'all', m2),
    one(false, null, 'small', m2),
    one(false, null, 'medium', m2),
    one(false, null, 'large', m2),
  ]
}

function perCategoryResults(
  gt: PreparedGroundTruth,
  dt: PreparedResults,
  precision: Float64Array,
  recall: Float64Array,
  counts: [number, number, number, number, number],
): CocoCategoryResult[] {
  const perCategory = gt.categoryIds.map((categoryId, k) => ({
    categoryId,
    name: gt.categoryNames[k],
    stats: summarizeDetections(precision, recall, counts, k),
    groundTruth: 0,
    detections: 0,
  }))
  for (let g = 0; g < gt.gt.count; g++) {
    if (!gt.gt.crowd[g]) perCategory[gt.gt.category[g]!]!.groundTruth++
  }
  for (let d = 0; d < dt.count; d++) perCategory[dt.category[d]!]!.detections++
  return perCategory
}

function perImageResults(
  gt: PreparedGroundTruth,
  dt: PreparedResults,
  matcher: GroupMatcher,
  scoreThreshold: number,
): CocoImageResult[] {
  const I = gt.imageIds.length
  const K = gt.categoryIds.length
  const results: CocoImageResult[] = gt.imageIds.map((imageId, i) => ({
    imageId,
    fileName: gt.imageFileNames[i],
    groundTruth: 0,
    crowd: 0,
    detections: 0,
    ap: null,
    ap50: null,
    truePositives: 0,
    falsePositives: 0,
    falseNegatives: 0,
    maxScore: null as number | null,
  }))
  for (let g = 0; g < gt.gt.count; g++) {
    const image = results[gt.gt.image[g]!]!
    if (gt.gt.crowd[g]) image.crowd++
    else image.groundTruth++
  }
  for (let d = 0; d < dt.count; d++) {
    const image = results[dt.image[d]!]!
    image.detections++
    if (image.maxScore === null || dt.score[d]! > image.maxScore) image.maxScore = dt.score[d]!
  }

  const images = new ImageAp(matcher, dt.score, gt.gt.crowd, scoreThreshold)
  for (let k = 0; k < K; k++) for (let i = 0; i < I; i++) images.addGroup(k, i, results[i]!)
  for (let i = 0; i < I; i++) {
    if (images.apCount[i]! > 0) {
      results[i]!.ap = images.apSum[i]! / images.apCount[i]!
      results[i]!.ap50 = images.ap50Sum[i]! / images.apCount[i]!
    }
  }
  return results
}

/** Per-image AP (the accumulate algorithm on one image and category) and TP/FP/FN counts. */
class ImageAp {
  readonly apSum: Float64Array
  readonly ap50Sum: Float64Array
  readonly apCount: Int32Array
  readonly #matcher: GroupMatcher
  readonly #score: Float64Array
  readonly #crowd: Uint8Array
  readonly #scoreThreshold: number
  readonly #pr: Float64Array
  readonly #rc: Float64Array

  constructor(
    matcher: GroupMatcher,
    score: Float64Array,
    crowd: Uint8Array,
    scoreThreshold: number,
  ) {
    this.#matcher = matcher
    this.#score = score
    this.#crowd = crowd
    this.#scoreThreshold = scoreThreshold
    this.apSum = new Float64Array(matcher.images)
    this.ap50Sum = new Float64Array(matcher.images)
    this.apCount = new Int32Array(matcher.images)
    const maxDet = COCO_PARAMS.maxDets[COCO_PARAMS.maxDets.length - 1]!
    this.#pr = new Float64Array(maxDet)
    this.#rc = new Float64Array(maxDet)
  }

  addGroup(k: number, i: number, image: CocoImageResult): void {
    const { gtStart, gtItems, slotStart, slotDet, matchedBits, ignoredBits, t50 } = this.#matcher
    const group = k * this.#matcher.images + i
    let positives = 0
    for (let j = gtStart[group]!; j < gtStart[group + 1]!; j++) {
      if (!this.#crowd[gtItems[j]!]) positives++
    }
    const from = slotStart[group]!
    const nd = slotStart[group + 1]! - from
    // TP/FP/FN at IoU .5 above the score threshold; matching is greedy by score, so lower scoring
    // detections never change what a higher scoring one matched.
    let matchedAbove = 0
    for (let s = from; s < from + nd; s++) {
      if (this.#score[slotDet[s]!]! < this.#scoreThreshold) continue
      if ((ignoredBits[s]! >> t50) & 1) continue
      if ((matchedBits[s]! >> t50) & 1) {
        image.truePositives++
        matchedAbove++
      } else image.falsePositives++
    }
    image.falseNegatives += positives - matchedAbove
    if (positives === 0) return
    const T = COCO_PARAMS.iouThresholds.length
    let apTotal = 0
    for (let t = 0; t < T; t++) {
      const ap = this.#curveAp(from, nd, t, positives)
      apTotal += ap
      if (t === t50) this.ap50Sum[i]! += ap
    }
    this.apSum[i]! += apTotal / T
    this.apCount[i]!++
  }

  #curveAp(from: number, nd: number, t: number, positives: number): number {
    const { matchedBits, ignoredBits } = this.#matcher
    const recallThresholds = COCO_PARAMS.recallThresholds
    const R = recallThresholds.length
    const pr = this.#pr
    const rc = this.#rc
    let tp = 0
    let fp = 0
    for (let s = 0; s < nd; s++) {
      const slot = from + s
      if (!((ignoredBits[slot]! >> t) & 1)) {
        if ((matchedBits[slot]! >> t) & 1) tp++
        else fp++
      }
      rc[s] = tp / positives
      pr[s] = tp / (fp + tp + Number.EPSILON)
    }
    for (let s = nd - 1; s > 0; s--) if (pr[s]! > pr[s - 1]!) pr[s - 1] = pr[s]!
    let sum = 0
    let s = 0
    for (let r = 0; r < R; r++) {
      while (s < nd && rc[s]! < recallThresholds[r]!) s++
      if (s >= nd) break
      sum += pr[s]!
    }
    return sum / R
  }
}
