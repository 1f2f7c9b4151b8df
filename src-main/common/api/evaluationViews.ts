/**
 * What the evaluation views read: the typed parts of a stored COCO evaluation's `metrics` (TIDE
 * errors, PR curves, confusion matrix) and the per-image list behind the charts. The metrics
 * stay a free-form record in `EvaluationDetail`; `parseCocoMetrics` checks the parts a view draws,
 * so the renderer needs no casts and an older evaluation without them reads as "not computed".
 */
import { z } from 'zod'
import { method } from './method'

const id = z.number().int().positive()

export const TIDE_MAIN_ERROR_NAMES = ['Cls', 'Loc', 'Both', 'Dupe', 'Bkg', 'Miss'] as const
export const TIDE_SPECIAL_ERROR_NAMES = ['FalsePos', 'FalseNeg'] as const

/** TIDE's breakdown as tidecv 1.0.1 computes it: dAP in AP points (0-100). */
export const TideErrors = z.object({
  ap50: z.number(),
  main: z.object({
    Cls: z.number(),
    Loc: z.number(),
    Both: z.number(),
    Dupe: z.number(),
    Bkg: z.number(),
    Miss: z.number(),
  }),
  special: z.object({ FalsePos: z.number(), FalseNeg: z.number() }),
})
export type TideErrors = z.infer<typeof TideErrors>

const PrCurve = z.object({
  precision: z.array(z.number()),
  score: z.array(z.number()).optional(),
})
const PrCurveSet = z.object({ iou50: PrCurve, iou75: PrCurve, mean: PrCurve })
export const PrCurves = z.object({
  recall: z.array(z.number()),
  overall: PrCurveSet.nullable(),
  categories: z.array(
    PrCurveSet.extend({ categoryId: z.number().int(), name: z.string().nullable() }),
  ),
})
export type PrCurves = z.infer<typeof PrCurves>
export type PrCurveKey = keyof z.infer<typeof PrCurveSet>

export const CocoConfusion = z.object({
  iouThreshold: z.number(),
  scoreThreshold: z.number(),
  /** Category ids, then 'background' (last row: false positives; last column: missed objects). */
  labels: z.array(z.union([z.number().int(), z.literal('background')])),
  matrix: z.array(z.array(z.number())),
  ignoredDetections: z.number().int(),
})
export type CocoConfusion = z.infer<typeof CocoConfusion>

/** The parts of a COCO evaluation's metrics the views draw; each null when not stored. */
export interface CocoMetricsView {
  stats: number[] | null
  errors: TideErrors | null
  prCurves: PrCurves | null
  confusion: CocoConfusion | null
}

export function parseCocoMetrics(metrics: Record<string, unknown> | null): CocoMetricsView {
  const part = <T>(schema: z.ZodType<T>, value: unknown): T | null => {
    const parsed = schema.safeParse(value)
    return parsed.success ? parsed.data : null
  }
  return {
    stats: part(z.array(z.number()), metrics?.stats),
    errors: part(TideErrors, metrics?.errors),
    prCurves: part(PrCurves, metrics?.prCurves),
    confusion: part(CocoConfusion, metrics?.confusion),
  }
}

/** Cityscapes: 19x19 pixel counts over train ids, and the class names by train id. */
export function parseCityscapesConfusion(
  metrics: Record<string, unknown> | null,
): { matrix: number[][]; classNames: Record<string, string> } | null {
  const parsed = z
    .object({
      confusionMatrix: z.array(z.array(z.number())),
      classNames: z.record(z.string(), z.string()),
    })
    .safeParse(metrics)
  return parsed.success
    ? { matrix: parsed.data.confusionMatrix, classNames: parsed.data.classNames }
    : null
}

export const EvaluationImageOrder = z.enum(['ap', 'ap50', 'fp', 'fn', 'score', 'miou'])
export type EvaluationImageOrder = z.infer<typeof EvaluationImageOrder>

export const EvaluationImageRow = z.object({
  imageId: id,
  fileName: z.string(),
  ap: z.number().nullable(),
  ap50: z.number().nullable(),
  tp: z.number().int().nullable(),
  fp: z.number().int().nullable(),
  fn: z.number().int().nullable(),
  miou: z.number().nullable(),
  /** Highest detection score in the image (COCO), null without detections. */
  maxScore: z.number().nullable(),
})
export type EvaluationImageRow = z.infer<typeof EvaluationImageRow>

export const evaluationViewMethods = {
  'evaluations:imageList': method(
    z
      .object({
        id,
        order: EvaluationImageOrder.default('ap'),
        direction: z.enum(['asc', 'desc']).default('asc'),
        /** Only images with this category in ground truth or among the predictions counted. */
        categoryId: z.number().int().optional(),
        /** Only images behind this confusion matrix cell (indices into its labels). */
        cell: z
          .object({ row: z.number().int().min(0), column: z.number().int().min(0) })
          .strict()
          .optional(),
        /** The score threshold of that cell's matrix (default: the stored matrix's). */
        scoreThreshold: z.number().min(0).max(1).optional(),
      })
      .strict(),
    z.object({ total: z.number().int(), rows: z.array(EvaluationImageRow) }),
    'Every per-image row of an evaluation in one order (nulls last), optionally filtered by category or confusion matrix cell.',
  ),
  'evaluations:confusion': method(
    z.object({ id, scoreThreshold: z.number().min(0).max(1) }).strict(),
    CocoConfusion,
    'The confusion matrix of a COCO evaluation recomputed at another score threshold (IoU 0.5), from the run and the ground truth it was evaluated against.',
  ),
} as const
