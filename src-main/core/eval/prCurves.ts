/**
 * Precision-recall curves for the evaluation views, read from COCOeval's accumulated `precision`
 * and `scores` arrays (area "all", 100 detections): per category and overall, at IoU 0.5, 0.75
 * and averaged over .5:.95. Each curve has COCO's 101 recall points; the AP at that IoU is the
 * curve's mean, so the charts and the table agree.
 */
import type { CocoEvaluation } from './cocoEval'

export interface PrCurve {
  /** Precision at each of the 101 recall thresholds (0 where that recall is never reached). */
  precision: number[]
  /** Lowest detection score still needed for that point; absent for the averaged curve. */
  score?: number[]
}

export interface PrCurveSet {
  iou50: PrCurve
  iou75: PrCurve
  /** Mean over the ten IoU thresholds, per recall point. */
  mean: PrCurve
}

export interface PrCurves {
  recall: number[]
  overall: PrCurveSet | null
  /** Categories with ground truth, in category id order. */
  categories: ({ categoryId: number; name: string | null } & PrCurveSet)[]
}

/** Six decimals: far below what a chart or a tooltip shows, and a third of the JSON. */
const round = (value: number): number => Math.round(value * 1e6) / 1e6

export function prCurves(evaluation: CocoEvaluation): PrCurves {
  const [T, R, K, A, M] = evaluation.counts
  const { precision, scores } = evaluation
  const thresholds = evaluation.params.iouThresholds
  const t50 = thresholds.findIndex((t) => Math.abs(t - 0.5) < 1e-9)
  const t75 = thresholds.findIndex((t) => Math.abs(t - 0.75) < 1e-9)
  // C order [T, R, K, A, M]; area "all" is a = 0, 100 detections is the last m.
  const at = (t: number, r: number, k: number): number =>
    (((t * R + r) * K + k) * A + 0) * M + M - 1
  const valid = (k: number): boolean => precision[at(0, 0, k)]! > -1

  const curveAt = (k: number, t: number): PrCurve => ({
    precision: Array.from({ length: R }, (_, r) => round(precision[at(t, r, k)]!)),
    score: Array.from({ length: R }, (_, r) => round(scores[at(t, r, k)]!)),
  })
  const meanCurve = (k: number): PrCurve => ({
    precision: Array.from({ length: R }, (_, r) => {
      let sum = 0
      for (let t = 0; t < T; t++) sum += precision[at(t, r, k)]!
      return round(sum / T)
    }),
  })
  const kept = Array.from({ length: K }, (_, k) => k).filter(valid)
  const categories = kept.map((k) => ({
    categoryId: evaluation.categoryIds[k]!,
    name: evaluation.categoryNames[k] ?? null,
    iou50: curveAt(k, t50),
    iou75: curveAt(k, t75),
    mean: meanCurve(k),
  }))
  // Overall: the mean over categories with ground truth at each recall point, as COCO's AP is.
  const average = (pick: (c: PrCurveSet) => PrCurve): PrCurve => ({
    precision: Array.from({ length: R }, (_, r) =>
      round(categories.reduce((sum, c) => sum + pick(c).precision[r]!, 0) / categories.length),
    ),
  })
  return {
    recall: evaluation.params.recallThresholds.map(round),
    overall:
      categories.length === 0
        ? null
        : {
            iou50: average((c) => c.iou50),
            iou75: average((c) => c.iou75),
            mean: average((c) => c.mean),
          },
    categories,
  }
}
