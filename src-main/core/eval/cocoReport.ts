/**
 * What the CLI prints and writes for a COCO evaluation: pycocotools' `summarize()` lines, and the
 * stable `--json` document scripts read.
 */
import type { CocoEvaluation } from './cocoEval'
import type { CocoConfusionMatrix } from './confusion'
import { COCO_STAT_NAMES } from './cocoEval'
import { formatFixed } from './pythonFormat'
import type { TideErrors } from './tide'

/** The twelve lines `COCOeval.summarize()` prints, character for character. */
export function formatCocoSummary(evaluation: CocoEvaluation): string[] {
  const [m0, m1, m2] = evaluation.params.maxDets as [number, number, number]
  const rows: [boolean, number | null, string, number][] = [
    [true, null, 'all', m2],
    [true, 0.5, 'all', m2],
    [true, 0.75, 'all', m2],
    [true, null, 'small', m2],
    [true, null, 'medium', m2],
    [true, null, 'large', m2],
    [false, null, 'all', m0],
    [false, null, 'all', m1],
    [false, null, 'all', m2],
    [false, null, 'small', m2],
    [false, null, 'medium', m2],
    [false, null, 'large', m2],
  ]
  const thresholds = evaluation.params.iouThresholds
  return rows.map(([ap, iouThr, area, maxDets], i) => {
    const title = (ap ? 'Average Precision' : 'Average Recall').padEnd(18)
    const type = ap ? '(AP)' : '(AR)'
    const iou =
      iouThr === null
        ? `${formatFixed(thresholds[0]!, 2)}:${formatFixed(thresholds[thresholds.length - 1]!, 2)}`
        : formatFixed(iouThr, 2)
    const value = formatFixed(evaluation.stats[i]!, 3)
    return ` ${title} ${type} @[ IoU=${iou.padEnd(9)} | area=${area.padStart(6)} | maxDets=${String(maxDets).padStart(3)} ] = ${value}`
  })
}

/** The `--json` document: a stable interface, so only add fields. */
export interface CocoJsonReport {
  iouType: 'bbox' | 'segm'
  /** COCOeval's 12 numbers in its order; -1 where COCOeval gives -1. */
  stats: number[]
  statNames: string[]
  /** AP@[.5:.95] per category id (area all, maxDets 100), null for categories without ground truth. */
  perCategory: Record<string, number | null>
  /** All twelve numbers per category, null where COCOeval would give -1. */
  perCategoryStats: Record<string, Record<string, number | null>>
  counts: { images: number; categories: number; groundTruth: number; detections: number }
  perImage: {
    imageId: number | string
    fileName: string | null
    ap: number | null
    ap50: number | null
    truePositives: number
    falsePositives: number
    falseNegatives: number
  }[]
  perImageScoreThreshold: number
  confusion: ConfusionJson | null
  warnings: string[]
  /** TIDE's error breakdown (`--errors`): dAP in points, as tidecv computes it. */
  errors?: TideErrors | null
}

const orNull = (value: number): number | null => (value === -1 ? null : value)

export function cocoJsonReport(evaluation: CocoEvaluation): CocoJsonReport {
  const perCategory: Record<string, number | null> = {}
  const perCategoryStats: Record<string, Record<string, number | null>> = {}
  for (const category of evaluation.perCategory) {
    perCategory[String(category.categoryId)] = orNull(category.stats[0]!)
    perCategoryStats[String(category.categoryId)] = Object.fromEntries(
      COCO_STAT_NAMES.map((name, i) => [name, orNull(category.stats[i]!)]),
    )
  }
  const confusion = evaluation.confusion
  return {
    iouType: evaluation.iouType,
    stats: [...evaluation.stats],
    statNames: [...COCO_STAT_NAMES],
    perCategory,
    perCategoryStats,
    counts: {
      images: evaluation.imageIds.length,
      categories: evaluation.categoryIds.length,
      groundTruth: evaluation.groundTruth.annotationIds.length,
      detections: evaluation.detections.outcome50.length,
    },
    perImage: evaluation.perImage.map((image) => ({
      imageId: image.imageId,
      fileName: image.fileName ?? null,
      ap: image.ap,
      ap50: image.ap50,
      truePositives: image.truePositives,
      falsePositives: image.falsePositives,
      falseNegatives: image.falseNegatives,
    })),
    perImageScoreThreshold: evaluation.perImageScoreThreshold,
    confusion: confusion && confusionJson(confusion),
    warnings: [...evaluation.warnings],
  }
}

/** A confusion matrix as the `--json` document (and the stored metrics) write it. */
export interface ConfusionJson {
  iouThreshold: number
  scoreThreshold: number
  /** The categories in COCOeval's order, then 'background' (the last row and column). */
  labels: (number | 'background')[]
  matrix: number[][]
  ignoredDetections: number
}

export function confusionJson(confusion: CocoConfusionMatrix): ConfusionJson {
  return {
    iouThreshold: confusion.iouThreshold,
    scoreThreshold: confusion.scoreThreshold,
    labels: [...confusion.categoryIds, 'background'],
    matrix: confusion.matrix,
    ignoredDetections: confusion.ignoredDetections,
  }
}
