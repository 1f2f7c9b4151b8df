/**
 * TIDE error breakdown (Bolya et al., "TIDE: A General Toolbox for Identifying Object Detection
 * Errors", ECCV 2020), reproducing tidecv 1.0.1's `TIDE.evaluate` + `get_all_errors` with its
 * defaults: foreground IoU 0.5, background IoU 0.1, 100 detections per image, AP in points.
 *
 * TIDE's AP50 is its own, not COCOeval's: detections are matched per image across classes in
 * score order (any class's ground truth can be the best IoU, the class must agree), the top 100
 * per image (not per category) are kept, crowd regions only ignore unmatched detections of their
 * class with IoU > 0.5, and every class with ground truth or detections counts in the mean, a class
 * with detections but no ground truth as AP 0. Each main error's dAP is the AP gained when only
 * that error type is fixed (negative gains clipped to 0); the special errors fix all false
 * positives (FalsePos) or all false negatives (FalseNeg) at once.
 *
 * Where the order of equal-scored detections decides a number, tidecv's order is kept: images in
 * the ground truth file's order, detections by score then file order, and in the "fixed" AP
 * computations the error-derived points before the untouched true positives.
 */
import {
  type CocoDataset,
  type CocoResult,
  type IouType,
  type PreparedGroundTruth,
  type PreparedResults,
  prepareGroundTruth,
  prepareResults,
} from './cocoData'
import { throwIfAborted } from './errors'
import { formatFixed, formatFixedWidth } from './pythonFormat'
import { type Rle, boxIouAt, rleArea, rleIouWithBoxes, rleToBbox } from './rle'

export const TIDE_MAIN_ERRORS = ['Cls', 'Loc', 'Both', 'Dupe', 'Bkg', 'Miss'] as const
export const TIDE_SPECIAL_ERRORS = ['FalsePos', 'FalseNeg'] as const
export type TideMainError = (typeof TIDE_MAIN_ERRORS)[number]
export type TideSpecialError = (typeof TIDE_SPECIAL_ERRORS)[number]

/** The stored and `--json` shape (see `common/tide.ts` for its schema). */
export interface TideErrors {
  /** TIDE's AP at the foreground IoU, in points (0-100). */
  ap50: number
  main: Record<TideMainError, number>
  special: Record<TideSpecialError, number>
}

export interface TideOptions {
  /** Foreground IoU (tidecv `pos_threshold`), default 0.5. */
  posThreshold?: number
  /** Background IoU (tidecv `background_threshold`), default 0.1. */
  bgThreshold?: number
  /** Detections kept per image (tidecv's COCO loader sets 100). */
  maxDets?: number
  signal?: AbortSignal
}

/** tidecv's `error.fixed`: which class the point goes to, and what it becomes. */
type Fixed =
  | { kind: 'remove' }
  | { kind: 'point'; cls: number; correct: boolean }
  | { kind: 'gt'; cls: number }

interface TideError {
  type: TideMainError
  /** Detection index in the results list (tidecv's prediction `_id`); -1 for Miss. */
  pred: number
  cls: number
  score: number
  /** Whether the detection was an AP data point (not ignored by a crowd region). */
  counted: boolean
  /** For Cls / Loc: the ground truth the fix would match (-1: suppressed from the start). */
  target: number
  targetCls: number
}

/** One class's AP data: points in insertion order (tidecv's dict order) and #ground truth. */
class ApData {
  ids: number[] = []
  scores: number[] = []
  correct: boolean[] = []
  gtPositives = 0

  push(id: number, score: number, correct: boolean): void {
    this.ids.push(id)
    this.scores.push(score)
    this.correct.push(correct)
  }

  isEmpty(): boolean {
    return this.ids.length === 0 && this.gtPositives === 0
  }

  /** tidecv `APDataObject.get_ap`: 101-point interpolated AP, in points. */
  ap(): number {
    if (this.gtPositives === 0) return 0
    const n = this.ids.length
    const scores = this.scores
    const order = new Int32Array(n)
    for (let i = 0; i < n; i++) order[i] = i
    // Score descending, ties in insertion order: Python's stable list.sort.
    order.sort((a, b) => scores[b]! - scores[a]! || a - b)
    const precisions = new Float64Array(n)
    const recalls = new Float64Array(n)
    let tp = 0
    let fp = 0
    for (let i = 0; i < n; i++) {
      if (this.correct[order[i]!]) tp++
      else fp++
      precisions[i] = tp / (tp + fp)
      recalls[i] = tp / this.gtPositives
    }
    for (let i = n - 1; i > 0; i--) {
      if (precisions[i]! > precisions[i - 1]!) precisions[i - 1] = precisions[i]!
    }
    // np.searchsorted(recalls, x / 100, side='left'), the recall points walked in order.
    let sum = 0
    let j = 0
    for (let bar = 0; bar <= 100; bar++) {
      const x = bar / 100
      while (j < n && recalls[j]! < x) j++
      if (j < n) sum += precisions[j]!
    }
    return (sum / 101) * 100
  }
}

/** tidecv `ClassedAPDataObject`: classes in the order they were first touched. */
class ClassedApData {
  readonly byClass = new Map<number, ApData>()

  get(cls: number): ApData {
    let data = this.byClass.get(cls)
    if (!data) {
      data = new ApData()
      this.byClass.set(cls, data)
    }
    return data
  }

  mAP(): number {
    let sum = 0
    let count = 0
    for (const data of this.byClass.values()) {
      if (data.isEmpty()) continue
      sum += data.ap()
      count++
    }
    return count === 0 ? 0 : sum / count
  }
}

/** Image indices (into `gt.imageIds`) in the order the ground truth file lists them. */
export function fileImageOrder(dataset: CocoDataset, gt: PreparedGroundTruth): number[] {
  return dataset.images.map((image) => gt.imageIndexById.get(image.id)!)
}

/**
 * TIDE on data already prepared for COCOeval. `imageOrder` is the ground truth file's image order
 * (`fileImageOrder`); it only matters for detections with equal scores. Returns null when there is
 * nothing to measure (no ground truth object and no detection), where tidecv divides by zero.
 */
export function computeTide(
  gt: PreparedGroundTruth,
  dt: PreparedResults,
  imageOrder: ArrayLike<number>,
  options: TideOptions = {},
): TideErrors | null {
  const pos = options.posThreshold ?? 0.5
  const bg = options.bgThreshold ?? 0.1
  const maxDets = options.maxDets ?? 100
  const segm = gt.iouType === 'segm'
  const I = gt.imageIds.length

  // Ground truth and detections per image, in file order.
  const gtByImage: number[][] = Array.from({ length: I }, () => [])
  for (let g = 0; g < gt.gt.count; g++) gtByImage[gt.gt.image[g]!]!.push(g)
  const dtByImage: number[][] = Array.from({ length: I }, () => [])
  for (let d = 0; d < dt.count; d++) dtByImage[dt.image[d]!]!.push(d)

  const gtMasks = gt.gt.masks
  const dtMasks = dt.masks
  const maskBox = (rle: Rle): number[] => rleToBbox(rle)
  // maskApi's box test needs each mask's box and area: computed once per ground truth object.
  const gtBoxes: (number[] | undefined)[] = segm ? new Array(gt.gt.count) : []
  const gtAreas = new Float64Array(segm ? gt.gt.count : 0)

  const apData = new ClassedApData()
  const errors: TideError[] = []
  /** Per class, how many ground truth objects ended unmatched (tidecv `false_negatives`). */
  const falseNegatives = new Map<number, number>()
  // BestGTMatch state per ground truth object.
  const bestScore = new Float64Array(gt.gt.count).fill(-1)
  const bestPred = new Int32Array(gt.gt.count).fill(-1)
  const usable = new Uint8Array(gt.gt.count)

  for (let step = 0; step < imageOrder.length; step++) {
    if ((step & 255) === 0) throwIfAborted(options.signal)
    const image = imageOrder[step]!
    const all = gtByImage[image]!
    const truths = all.filter((g) => !gt.gt.crowd[g])
    const crowds = all.filter((g) => gt.gt.crowd[g])
    for (const g of truths) apData.get(gt.gt.category[g]!).gtPositives++

    const candidates = dtByImage[image]!
    if (candidates.length === 0) {
      for (const g of truths) {
        const cls = gt.gt.category[g]!
        apData.get(cls)
        falseNegatives.set(cls, (falseNegatives.get(cls) ?? 0) + 1)
        errors.push(missed(g, cls))
      }
      continue
    }
    const preds = candidates.slice().sort((a, b) => dt.score[b]! - dt.score[a]!)
    if (preds.length > maxDets) preds.length = maxDets
    const D = preds.length
    const G = truths.length

    // IoU of every kept detection with every (non-crowd) ground truth, row-major [D, G].
    let dtGeom: { boxes: number[][]; areas: number[] } | null = null
    if (segm) {
      dtGeom = {
        boxes: preds.map((d) => maskBox(dtMasks![d]!)),
        areas: preds.map((d) => rleArea(dtMasks![d]!)),
      }
    }
    const iouWith = (p: number, g: number, crowd: boolean): number => {
      const d = preds[p]!
      if (!segm) return boxIouAt(dt.boxes, d * 4, gt.gt.boxes, g * 4, crowd)
      if (gtBoxes[g] === undefined) {
        gtBoxes[g] = maskBox(gtMasks![g]!)
        gtAreas[g] = rleArea(gtMasks![g]!)
      }
      return rleIouWithBoxes(
        dtMasks![d]!,
        dtGeom!.boxes[p]!,
        dtGeom!.areas[p]!,
        gtMasks![g]!,
        gtBoxes[g],
        gtAreas[g]!,
        crowd,
      )
    }
    const iou = new Float64Array(D * G)
    for (let p = 0; p < D; p++)
      for (let j = 0; j < G; j++) iou[p * G + j] = iouWith(p, truths[j]!, false)
    const sameClass = new Uint8Array(D * G)
    for (let p = 0; p < D; p++) {
      const c = dt.category[preds[p]!]!
      for (let j = 0; j < G; j++) sameClass[p * G + j] = gt.gt.category[truths[j]!]! === c ? 1 : 0
    }

    // Greedy matching in score order, the best same-class IoU first (argmax: first maximum).
    /** 1 matched, 0 unmatched, -1 ignored (tidecv's used = True / False / None). */
    const used = new Int8Array(D)
    const gtUsed = new Uint8Array(G)
    if (G > 0) {
      const buffer = new Float64Array(D * G)
      for (let k = 0; k < D * G; k++) buffer[k] = sameClass[k] ? iou[k]! : 0
      for (let p = 0; p < D; p++) {
        let best = 0
        for (let j = 1; j < G; j++) if (buffer[p * G + j]! > buffer[p * G + best]!) best = j
        if (buffer[p * G + best]! >= pos) {
          used[p] = 1
          gtUsed[best] = 1
          for (let q = 0; q < D; q++) buffer[q * G + best] = 0
        }
      }
    }
    // Crowd regions ignore the unmatched detections of their class they cover (IoU > pos).
    for (const c of crowds) {
      const crowdCls = gt.gt.category[c]!
      for (let p = 0; p < D; p++) {
        if (used[p] !== 1 && iouWith(p, c, true) > pos && dt.category[preds[p]!] === crowdCls) {
          used[p] = -1
        }
      }
    }

    for (let p = 0; p < D; p++) {
      const d = preds[p]!
      const cls = dt.category[d]!
      const score = dt.score[d]!
      if (used[p] !== -1) apData.get(cls).push(d, score, used[p] === 1)
      if (used[p] === 1) continue
      const counted = used[p] !== -1
      if (G === 0) {
        errors.push(predError('Bkg', d, cls, score, counted))
        continue
      }
      // tidecv's tests in its order, each an argmax (first maximum) over this row.
      const row = p * G
      let locIdx = 0
      let locIou = -Infinity
      let clsIdx = 0
      let clsIou = -Infinity
      let dupeIou = -Infinity
      let anyIou = -Infinity
      for (let j = 0; j < G; j++) {
        const v = iou[row + j]!
        const same = sameClass[row + j] === 1
        const asSame = same ? v : 0
        const asOther = same ? 0 : v
        const asDupe = same && gtUsed[j] ? v : 0
        if (asSame > locIou) [locIdx, locIou] = [j, asSame]
        if (asOther > clsIou) [clsIdx, clsIou] = [j, asOther]
        if (asDupe > dupeIou) dupeIou = asDupe
        if (v > anyIou) anyIou = v
      }
      if (bg <= locIou && locIou <= pos) {
        const error = predError('Loc', d, cls, score, counted)
        errors.push(bestMatch(error, truths[locIdx]!, gtUsed[locIdx] === 1))
      } else if (clsIou >= pos) {
        const error = predError('Cls', d, cls, score, counted)
        errors.push(bestMatch(error, truths[clsIdx]!, gtUsed[clsIdx] === 1))
      } else if (dupeIou >= pos) errors.push(predError('Dupe', d, cls, score, counted))
      else errors.push(predError(anyIou <= bg ? 'Bkg' : 'Both', d, cls, score, counted))
    }

    for (let j = 0; j < G; j++) {
      if (gtUsed[j]) continue
      const g = truths[j]!
      const cls = gt.gt.category[g]!
      apData.get(cls)
      falseNegatives.set(cls, (falseNegatives.get(cls) ?? 0) + 1)
      if (!usable[g]) errors.push(missed(g, cls))
    }
  }

  // One object shape for every error, so the fix passes read them monomorphically.
  function predError(
    type: TideMainError,
    pred: number,
    cls: number,
    score: number,
    counted: boolean,
  ): TideError {
    return { type, pred, cls, score, counted, target: -1, targetCls: -1 }
  }

  function missed(g: number, cls: number): TideError {
    return { type: 'Miss', pred: -1, cls, score: 0, counted: false, target: g, targetCls: cls }
  }

  /** tidecv `BestGTMatch`: of the errors a ground truth could fix, the highest score (first) wins. */
  function bestMatch(error: TideError, g: number, gtWasUsed: boolean): TideError {
    if (gtWasUsed) return error
    usable[g] = 1
    if (bestScore[g]! < error.score) {
      bestScore[g] = error.score
      bestPred[g] = error.pred
    }
    error.target = g
    error.targetCls = gt.gt.category[g]!
    return error
  }

  if (apData.byClass.size === 0) return null

  const fixedOf = (error: TideError): Fixed => {
    switch (error.type) {
      case 'Miss':
        return { kind: 'gt', cls: error.cls }
      case 'Cls':
      case 'Loc':
        if (error.target < 0 || bestPred[error.target] !== error.pred) return { kind: 'remove' }
        return {
          kind: 'point',
          cls: error.type === 'Cls' ? error.targetCls : error.cls,
          correct: true,
        }
      default:
        return { kind: 'remove' }
    }
  }
  const fixed = errors.map(fixedOf)

  /** tidecv `TIDERun.fix_errors`, rebuilding the AP data in its order. */
  const fixErrors = (
    condition: (error: TideError) => boolean,
    perfectPrecision: boolean,
    subtractFalseNegatives: boolean,
  ): ClassedApData => {
    const gtPositives = new Map<number, number>()
    for (const [cls, data] of apData.byClass) gtPositives.set(cls, data.gtPositives)
    const out = new ClassedApData()
    for (let e = 0; e < errors.length; e++) {
      const error = errors[e]!
      let cls = error.cls
      let correct = false
      let keep = error.counted
      if (condition(error)) {
        const fix = fixed[e]!
        if (fix.kind === 'gt') gtPositives.set(fix.cls, gtPositives.get(fix.cls)! - 1)
        keep = fix.kind === 'point'
        if (fix.kind === 'point') {
          cls = fix.cls
          correct = fix.correct
        }
      }
      if (!keep) continue
      // FalsePos's transform: true positives first (score 1), every false positive after (0).
      if (perfectPrecision) out.get(cls).push(error.pred, correct ? 1 : 0, correct)
      else out.get(cls).push(error.pred, error.score, correct)
    }
    for (const cls of gtPositives.keys()) {
      const data = apData.byClass.get(cls)!
      for (let i = 0; i < data.ids.length; i++) {
        if (!data.correct[i]) continue
        out.get(cls).push(data.ids[i]!, perfectPrecision ? 1 : data.scores[i]!, true)
      }
    }
    for (const [cls, count] of gtPositives) {
      out.get(cls).gtPositives +=
        count - (subtractFalseNegatives ? (falseNegatives.get(cls) ?? 0) : 0)
    }
    return out
  }

  const ap = apData.mAP()
  const main = {} as Record<TideMainError, number>
  for (const type of TIDE_MAIN_ERRORS) {
    throwIfAborted(options.signal)
    main[type] = Math.max(fixErrors((e) => e.type === type, false, false).mAP() - ap, 0)
  }
  const falsePos = fixErrors(() => false, true, false).mAP()
  const falseNeg = fixErrors(() => false, false, true).mAP()
  return { ap50: ap, main, special: { FalsePos: falsePos - ap, FalseNeg: falseNeg - ap } }
}

/** TIDE straight from COCO JSON, as `tidecv.datasets.COCO` + `COCOResult` read it. */
export function evaluateTide(
  dataset: CocoDataset,
  results: readonly CocoResult[],
  iouType: IouType,
  options: TideOptions = {},
): TideErrors | null {
  const gt = prepareGroundTruth(dataset, iouType)
  const dt = prepareResults(gt, results)
  return computeTide(gt, dt, fileImageOrder(dataset, gt), options)
}

/** tidecv `plotting.print_table`: right-aligned columns, a rule under the header row. */
function printTable(rows: string[][], title: string): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)))
  const divider = '--' + widths.map((w) => '-'.repeat(w)).join('---') + '-'
  const thick = divider.replaceAll('-', '=')
  const leftPad = Math.floor((divider.length - title.length) / 2)
  const lines = [title.padStart(leftPad + title.length), thick]
  rows.forEach((row, r) => {
    lines.push('  ' + row.map((cell, c) => cell.padStart(widths[c]!)).join('   ') + '  ')
    if (r === 0) lines.push(divider)
  })
  lines.push(thick)
  return lines
}

/** The lines tidecv's `summarize()` prints for one run, from its AP line on, character for character. */
export function formatTideSummary(
  errors: TideErrors,
  iouType: IouType,
  posThreshold = 0.5,
): string[] {
  const mode = iouType === 'bbox' ? 'bbox' : 'mask'
  return [
    `${mode} AP @ ${Math.trunc(posThreshold * 100)}: ${formatFixed(errors.ap50, 2)}`,
    '',
    ...printTable(
      [
        ['Type', ...TIDE_MAIN_ERRORS],
        [' dAP', ...TIDE_MAIN_ERRORS.map((type) => formatFixedWidth(errors.main[type], 6, 2))],
      ],
      'Main Errors',
    ),
    '',
    ...printTable(
      [
        ['Type', ...TIDE_SPECIAL_ERRORS],
        [
          ' dAP',
          ...TIDE_SPECIAL_ERRORS.map((type) => formatFixedWidth(errors.special[type], 6, 2)),
        ],
      ],
      'Special Error',
    ),
  ]
}
