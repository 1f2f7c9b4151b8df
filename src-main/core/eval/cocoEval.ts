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
  type PreparedGroundTruth,
  type PreparedResults,
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
import { boxIouAt, rleArea, rleIouWithBoxes, rleToBbox } from './rle'

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

/** The 12 summary numbers in COCOeval's order. */
export const COCO_STAT_NAMES = [
  'AP',
  'AP50',
  'AP75',
  'APs',
  'APm',
  'APl',
  'AR1',
  'AR10',
  'AR100',
  'ARs',
  'ARm',
  'ARl',
] as const

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
  warnings: string[]
}

export interface CocoEvaluateOptions {
  iouType: IouType
  /** Score a detection needs to count in the per-image TP/FP/FN columns (default 0.5). */
  perImageScoreThreshold?: number
  /** Thresholds of the confusion matrix (default IoU 0.5, score 0.5); false skips it. */
  confusion?: ConfusionOptions | false
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
  const A = p.areaRanges.length
  const T = p.iouThresholds.length
  const R = p.recallThresholds.length
  const M = p.maxDets.length
  const maxDet = p.maxDets[M - 1]!
  const groups = K * I
  const progressTotal = 2 * K
  onProgress?.(0, progressTotal)

  const gtGroups = groupBy(gt.gt.count, gt.gt.category, gt.gt.image, I, groups)
  const dtGroups = groupBy(dt.count, dt.category, dt.image, I, groups)

  // Within a group COCOeval sorts detections with np.argsort(-score, kind='mergesort'): stable.
  const dtScore = dt.score
  for (let g = 0; g < groups; g++) {
    const from = dtGroups.start[g]!
    const to = dtGroups.start[g + 1]!
    if (to - from > 1) {
      const sorted = Array.from(dtGroups.items.subarray(from, to)).sort(
        (a, b) => dtScore[b]! - dtScore[a]! || a - b,
      )
      dtGroups.items.set(sorted, from)
    }
  }

  // Slots: the evaluated detections (the first maxDet of each group), in COCOeval's order.
  const slotStart = new Int32Array(groups + 1)
  for (let g = 0; g < groups; g++) {
    slotStart[g + 1] = slotStart[g]! + Math.min(maxDet, dtGroups.start[g + 1]! - dtGroups.start[g]!)
  }
  const slots = slotStart[groups]!
  const slotDet = new Int32Array(slots)
  const slotRank = new Int32Array(slots)
  for (let g = 0; g < groups; g++) {
    const from = dtGroups.start[g]!
    const base = slotStart[g]!
    for (let s = base, r = 0; s < slotStart[g + 1]!; s++, r++) {
      slotDet[s] = dtGroups.items[from + r]!
      slotRank[s] = r
    }
  }

  // Bit t of matched/ignored: the detection's state at iouThresholds[t], per area range.
  const matchedBits = new Uint16Array(A * slots)
  const ignoredBits = new Uint16Array(A * slots)
  const slotGt50 = new Int32Array(slots).fill(-1)
  const slotGt75 = new Int32Array(slots).fill(-1)
  const gtDet50 = new Int32Array(gt.gt.count).fill(-1)
  const gtDet75 = new Int32Array(gt.gt.count).fill(-1)
  /** Non-ignored ground truth per category and area range: accumulate's `npig`. */
  const npig = new Float64Array(K * A)
  const t50 = thresholdIndex(p.iouThresholds, 0.5)
  const t75 = thresholdIndex(p.iouThresholds, 0.75)

  const segm = gt.iouType === 'segm'
  const gtMasks = gt.gt.masks
  const dtMasks = dt.masks
  const gtMaskBoxes = segm ? gtMasks!.map(rleToBbox) : null
  const gtMaskAreas = segm ? Float64Array.from(gtMasks!, rleArea) : null
  const dtMaskBoxes = segm ? new Array<number[]>(dt.count) : null
  const dtMaskAreas = segm ? new Float64Array(dt.count) : null
  if (segm) {
    for (let s = 0; s < slots; s++) {
      const d = slotDet[s]!
      const mask = dtMasks![d]!
      dtMaskBoxes![d] = rleToBbox(mask)
      dtMaskAreas![d] = rleArea(mask)
    }
  }

  let ious = new Float64Array(1024)
  let gtOrder = new Int32Array(64)
  let gtIgnored = new Uint8Array(64)
  let gtTaken = new Uint8Array(64)
  const gtBoxes = gt.gt.boxes
  const dtBoxes = dt.boxes
  const gtCrowd = gt.gt.crowd
  const gtArea = gt.gt.area
  const gtIds = gt.gt.annotationIds
  const dtArea = dt.area
  const ceiling = 1 - 1e-10

  for (let k = 0; k < K; k++) {
    throwIfAborted(signal)
    for (let i = 0; i < I; i++) {
      const group = k * I + i
      const gFrom = gtGroups.start[group]!
      const G = gtGroups.start[group + 1]! - gFrom
      const sFrom = slotStart[group]!
      const D = slotStart[group + 1]! - sFrom
      if (G === 0 && D === 0) continue

      // computeIoU: D x G, ground truth in file order.
      if (ious.length < D * G) ious = new Float64Array(D * G * 2)
      if (gtOrder.length < G) {
        gtOrder = new Int32Array(G * 2)
        gtIgnored = new Uint8Array(G * 2)
        gtTaken = new Uint8Array(G * 2)
      }
      for (let d = 0; d < D; d++) {
        const det = slotDet[sFrom + d]!
        for (let j = 0; j < G; j++) {
          const g = gtGroups.items[gFrom + j]!
          ious[d * G + j] = segm
            ? rleIouWithBoxes(
                dtMasks![det]!,
                dtMaskBoxes![det]!,
                dtMaskAreas![det]!,
                gtMasks![g]!,
                gtMaskBoxes![g]!,
                gtMaskAreas![g]!,
                gtCrowd[g] === 1,
              )
            : boxIouAt(dtBoxes, det * 4, gtBoxes, g * 4, gtCrowd[g] === 1)
        }
      }

      for (let a = 0; a < A; a++) {
        const { min, max } = p.areaRanges[a]!
        // evaluateImg: ignored ground truth sorted last, stably.
        let n = 0
        for (let j = 0; j < G; j++) {
          const g = gtGroups.items[gFrom + j]!
          const ignored = gtCrowd[g] === 1 || gtArea[g]! < min || gtArea[g]! > max
          gtIgnored[j] = ignored ? 1 : 0
          if (!ignored) gtOrder[n++] = j
        }
        npig[k * A + a]! += n
        for (let j = 0; j < G; j++) if (gtIgnored[j]) gtOrder[n++] = j

        const bitsBase = a * slots + sFrom
        for (let d = 0; d < D; d++) {
          matchedBits[bitsBase + d] = 0
          ignoredBits[bitsBase + d] = 0
        }
        if (G > 0 && D > 0) {
          for (let t = 0; t < T; t++) {
            gtTaken.fill(0, 0, G)
            const bit = 1 << t
            const threshold = Math.min(p.iouThresholds[t]!, ceiling)
            for (let d = 0; d < D; d++) {
              let best = threshold
              let m = -1
              for (let o = 0; o < G; o++) {
                const j = gtOrder[o]!
                if (gtTaken[j] && !gtCrowd[gtGroups.items[gFrom + j]!]) continue
                if (m > -1 && gtIgnored[m] === 0 && gtIgnored[j] === 1) break
                const iou = ious[d * G + j]!
                if (iou < best) continue
                best = iou
                m = j
              }
              if (m === -1) continue
              const g = gtGroups.items[gFrom + m]!
              gtTaken[m] = 1
              // COCOeval keeps the matched id and later tests it for truth: id 0 is "unmatched".
              if (gtIds[g] !== 0) matchedBits[bitsBase + d]! |= bit
              if (gtIgnored[m]) ignoredBits[bitsBase + d]! |= bit
              if (a === 0) {
                if (t === t50) {
                  slotGt50[sFrom + d] = g
                  gtDet50[g] = slotDet[sFrom + d]!
                } else if (t === t75) {
                  slotGt75[sFrom + d] = g
                  gtDet75[g] = slotDet[sFrom + d]!
                }
              }
            }
          }
        }
        // Unmatched detections outside the area range are ignored.
        for (let d = 0; d < D; d++) {
          const area = dtArea[slotDet[sFrom + d]!]!
          if (area < min || area > max) {
            ignoredBits[bitsBase + d]! |= ~matchedBits[bitsBase + d]! & ((1 << T) - 1)
          }
        }
      }
    }
    onProgress?.(k + 1, progressTotal)
  }

  // accumulate
  const precision = new Float64Array(T * R * K * A * M).fill(-1)
  const recall = new Float64Array(T * K * A * M).fill(-1)
  const scores = new Float64Array(T * R * K * A * M).fill(-1)
  const recallThresholds = p.recallThresholds
  let pr = new Float64Array(1024)
  let rc = new Float64Array(1024)
  let sortedScores = new Float64Array(1024)
  let sortedMatched = new Uint16Array(1024)
  let sortedIgnored = new Uint16Array(1024)
  for (let k = 0; k < K; k++) {
    throwIfAborted(signal)
    const from = slotStart[k * I]!
    const to = slotStart[(k + 1) * I]!
    // np.argsort(-dtScores, kind='mergesort') over the images' detections concatenated in order.
    const sortedAll = Int32Array.from(
      Array.from({ length: to - from }, (_, s) => from + s).sort(
        (x, y) => dtScore[slotDet[y]!]! - dtScore[slotDet[x]!]! || x - y,
      ),
    )
    for (let m = 0; m < M; m++) {
      const limit = p.maxDets[m]!
      const sorted = limit >= maxDet ? sortedAll : sortedAll.filter((s) => slotRank[s]! < limit)
      const nd = sorted.length
      if (pr.length < nd) {
        pr = new Float64Array(nd * 2)
        rc = new Float64Array(nd * 2)
        sortedScores = new Float64Array(nd * 2)
        sortedMatched = new Uint16Array(nd * 2)
        sortedIgnored = new Uint16Array(nd * 2)
      }
      for (let i = 0; i < nd; i++) sortedScores[i] = dtScore[slotDet[sorted[i]!]!]!
      for (let a = 0; a < A; a++) {
        const positives = npig[k * A + a]!
        if (positives === 0) continue
        const bitsBase = a * slots
        for (let i = 0; i < nd; i++) {
          sortedMatched[i] = matchedBits[bitsBase + sorted[i]!]!
          sortedIgnored[i] = ignoredBits[bitsBase + sorted[i]!]!
        }
        for (let t = 0; t < T; t++) {
          let tp = 0
          let fp = 0
          for (let i = 0; i < nd; i++) {
            if (!((sortedIgnored[i]! >> t) & 1)) {
              if ((sortedMatched[i]! >> t) & 1) tp++
              else fp++
            }
            rc[i] = tp / positives
            pr[i] = tp / (fp + tp + Number.EPSILON)
          }
          recall[((t * K + k) * A + a) * M + m] = nd ? rc[nd - 1]! : 0
          for (let i = nd - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!
          // searchsorted(rc, recThrs, side='left'), walking both sorted arrays together; cells
          // past the last detection stay 0 (COCOeval's zeros, filled when its loop raises).
          const stride = K * A * M
          let cell = ((t * R * K + k) * A + a) * M + m
          let i = 0
          for (let r = 0; r < R; r++, cell += stride) {
            const threshold = recallThresholds[r]!
            while (i < nd && rc[i]! < threshold) i++
            if (i >= nd) {
              for (; r < R; r++, cell += stride) {
                precision[cell] = 0
                scores[cell] = 0
              }
              break
            }
            precision[cell] = pr[i]!
            scores[cell] = sortedScores[i]!
          }
        }
      }
    }
    onProgress?.(K + k + 1, progressTotal)
  }

  const counts: [number, number, number, number, number] = [T, R, K, A, M]
  const stats = summarizeDetections(precision, recall, counts, null)
  const perCategory = gt.categoryIds.map((categoryId, k) => ({
    categoryId,
    name: gt.categoryNames[k],
    stats: summarizeDetections(precision, recall, counts, k),
    groundTruth: 0,
    detections: 0,
  }))
  for (let g = 0; g < gt.gt.count; g++)
    if (!gtCrowd[g]) perCategory[gt.gt.category[g]!]!.groundTruth++
  for (let d = 0; d < dt.count; d++) perCategory[dt.category[d]!]!.detections++

  // Per-detection and per-ground-truth outcomes at area "all".
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
  const perImage = perImageResults(gt, dt, {
    slotStart,
    slotDet,
    matchedBits,
    ignoredBits,
    gtGroups,
    t50,
    scoreThreshold: perImageScoreThreshold,
  })

  const confusion =
    options.confusion === false ? null : computeConfusionMatrix(gt, dt, options.confusion ?? {})

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
      matchedResult50: gtDet50,
      matchedResult75: gtDet75,
    },
    confusion,
    warnings: gt.warnings,
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
  const areaIndex = (label: string): number => p.areaRanges.findIndex((r) => r.label === label)
  const maxIndex = (maxDets: number): number => p.maxDets.indexOf(maxDets)
  const one = (ap: boolean, iouThr: number | null, area: string, maxDets: number): number => {
    const a = areaIndex(area)
    const m = maxIndex(maxDets)
    const ts = iouThr === null ? [...Array(T).keys()] : [thresholdIndex(p.iouThresholds, iouThr)]
    const ks = category === null ? [...Array(K).keys()] : [category]
    const values: number[] = []
    // Gathered in C order of s[t, r, k] (or s[t, k]), as `s[s > -1]` flattens them.
    for (const t of ts) {
      if (ap) {
        for (let r = 0; r < R; r++) {
          for (const k of ks) {
            const v = precision[(((t * R + r) * K + k) * A + a) * M + m]!
            if (v > -1) values.push(v)
          }
        }
      } else {
        for (const k of ks) {
          const v = recall[((t * K + k) * A + a) * M + m]!
          if (v > -1) values.push(v)
        }
      }
    }
    return values.length === 0 ? -1 : numpyMean(values)
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

interface PerImageInputs {
  slotStart: Int32Array
  slotDet: Int32Array
  matchedBits: Uint16Array
  ignoredBits: Uint16Array
  gtGroups: { start: Int32Array; items: Int32Array }
  t50: number
  scoreThreshold: number
}

function perImageResults(
  gt: PreparedGroundTruth,
  dt: PreparedResults,
  inputs: PerImageInputs,
): CocoImageResult[] {
  const { slotStart, slotDet, matchedBits, ignoredBits, gtGroups, t50, scoreThreshold } = inputs
  const p = COCO_PARAMS
  const I = gt.imageIds.length
  const K = gt.categoryIds.length
  const T = p.iouThresholds.length
  const R = p.recallThresholds.length
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
  }))
  for (let g = 0; g < gt.gt.count; g++) {
    const image = results[gt.gt.image[g]!]!
    if (gt.gt.crowd[g]) image.crowd++
    else image.groundTruth++
  }
  for (let d = 0; d < dt.count; d++) results[dt.image[d]!]!.detections++

  const apSum = new Float64Array(I)
  const ap50Sum = new Float64Array(I)
  const apCount = new Int32Array(I)
  const pr = new Float64Array(p.maxDets[2])
  const rc = new Float64Array(p.maxDets[2])
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < I; i++) {
      const group = k * I + i
      let positives = 0
      for (let j = gtGroups.start[group]!; j < gtGroups.start[group + 1]!; j++) {
        if (!gt.gt.crowd[gtGroups.items[j]!]) positives++
      }
      const from = slotStart[group]!
      const nd = slotStart[group + 1]! - from
      const image = results[i]!
      // TP/FP/FN at IoU .5 above the score threshold; matching is greedy by score, so lower
      // scoring detections never change what a higher scoring one matched.
      let matchedAbove = 0
      for (let s = from; s < from + nd; s++) {
        if (dt.score[slotDet[s]!]! < scoreThreshold) continue
        if ((ignoredBits[s]! >> t50) & 1) continue
        if ((matchedBits[s]! >> t50) & 1) {
          image.truePositives++
          matchedAbove++
        } else image.falsePositives++
      }
      image.falseNegatives += positives - matchedAbove
      if (positives === 0) continue
      let apTotal = 0
      for (let t = 0; t < T; t++) {
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
          while (s < nd && rc[s]! < p.recallThresholds[r]!) s++
          if (s >= nd) break
          sum += pr[s]!
        }
        apTotal += sum / R
        if (t === t50) ap50Sum[i]! += sum / R
      }
      apSum[i]! += apTotal / T
      apCount[i]!++
    }
  }
  for (let i = 0; i < I; i++) {
    if (apCount[i]! > 0) {
      results[i]!.ap = apSum[i]! / apCount[i]!
      results[i]!.ap50 = ap50Sum[i]! / apCount[i]!
    }
  }
  return results
}
