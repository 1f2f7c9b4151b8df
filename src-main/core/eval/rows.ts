/**
 * Evaluation results as flat rows for the store. The store owns the schema; these types are the
 * contract: one summary row per evaluation, one row per category (COCO) or class (Cityscapes), one
 * row per image for the views that sort and filter images. Only a finished evaluation can be turned
 * into rows (every function takes the complete result), so nothing partial is ever stored.
 */
import type { CityscapesClassScore, CityscapesEvaluation } from './cityscapes'
import { cityscapesJsonReport } from './cityscapesReport'
import type { CocoEvaluation } from './cocoEval'
import { COCO_STAT_NAMES } from './cocoEval'
import { cocoJsonReport } from './cocoReport'
import { prCurves } from './prCurves'
import type { TideErrors } from './tide'

export interface EvaluationSummaryRow {
  /** `coco-bbox`, `coco-segm` or `cityscapes`. */
  kind: 'coco-bbox' | 'coco-segm' | 'cityscapes'
  /** The headline number: COCO AP@[.5:.95] or Cityscapes mIoU (0..1); null when undefined. */
  primaryMetric: number | null
  primaryMetricName: 'AP' | 'mIoU'
  imageCount: number
  /**
   * The `--json` document of `gcstudio eval` without its per-image list (those are the image rows):
   * a stable, versionless JSON string later views and reports parse.
   */
  metricsJson: string
  /** Non-fatal notes (e.g. ground truth skipped), JSON array of strings. */
  warningsJson: string
}

export interface CocoCategoryRow {
  categoryId: number
  name: string | null
  /** The twelve COCO numbers for this category; null where COCOeval gives -1. */
  ap: number | null
  ap50: number | null
  ap75: number | null
  apSmall: number | null
  apMedium: number | null
  apLarge: number | null
  ar1: number | null
  ar10: number | null
  ar100: number | null
  arSmall: number | null
  arMedium: number | null
  arLarge: number | null
  groundTruth: number
  detections: number
}

export interface CocoImageRow {
  /** The COCO image id (number, or string for datasets that use strings). */
  imageId: number | string
  fileName: string | null
  /** AP@[.5:.95] of the image alone, averaged over its categories with ground truth; null if none. */
  ap: number | null
  ap50: number | null
  /** At IoU 0.5 among detections scoring at least `scoreThreshold`. */
  truePositives: number
  falsePositives: number
  falseNegatives: number
  scoreThreshold: number
  groundTruth: number
  crowd: number
  detections: number
  maxScore: number | null
  /** Confusion matrix cells this image contributes to: `[row, column, count]` (labels' indices). */
  confusionCells: [number, number, number][]
  /** Categories of its ground truth (crowd regions not counted) and of its counted predictions. */
  categoryIds: number[]
}

/** Stored as the evaluation computes it. */
export type CityscapesClassRow = CityscapesClassScore

export interface CityscapesImageRow {
  /** Cityscapes stem (`frankfurt_000000_000294`) or file name. */
  imageName: string
  groundTruthFile: string | null
  predictionFile: string | null
  mIoU: number | null
  /** JSON array of 19 per-class IoUs in train id order (null where undefined). */
  classIoUJson: string
  evaluatedPixels: number
}

const orNull = (value: number): number | null => (value === -1 ? null : value)

export function cocoEvaluationRows(
  evaluation: CocoEvaluation,
  /** TIDE's breakdown when it was computed, stored in the metrics as `errors`. */
  errors?: TideErrors | null,
): {
  summary: EvaluationSummaryRow
  categories: CocoCategoryRow[]
  images: CocoImageRow[]
} {
  const { perImage, ...report } = cocoJsonReport(evaluation)
  void perImage
  // Per image: ground truth categories, and the predicted ones the confusion matrix counted.
  const imageIndex = new Map(evaluation.imageIds.map((imageId, i) => [imageId, i]))
  const imageCategories = evaluation.imageIds.map(() => new Set<number>())
  const { groundTruth } = evaluation
  groundTruth.imageIds.forEach((imageId, g) => {
    if (!groundTruth.crowd[g])
      imageCategories[imageIndex.get(imageId)!]!.add(groundTruth.categoryIds[g]!)
  })
  const K = evaluation.categoryIds.length
  evaluation.confusion?.imageCells.forEach((cells, i) => {
    for (const [, column] of cells) {
      if (column < K) imageCategories[i]!.add(evaluation.categoryIds[column]!)
    }
  })
  const stat = (stats: number[], name: (typeof COCO_STAT_NAMES)[number]): number | null =>
    orNull(stats[COCO_STAT_NAMES.indexOf(name)]!)
  return {
    summary: {
      kind: evaluation.iouType === 'bbox' ? 'coco-bbox' : 'coco-segm',
      primaryMetric: orNull(evaluation.stats[0]!),
      primaryMetricName: 'AP',
      imageCount: evaluation.imageIds.length,
      metricsJson: JSON.stringify({
        ...report,
        prCurves: prCurves(evaluation),
        ...(errors !== undefined ? { errors } : {}),
      }),
      warningsJson: JSON.stringify(evaluation.warnings),
    },
    categories: evaluation.perCategory.map((c) => ({
      categoryId: c.categoryId,
      name: c.name ?? null,
      ap: stat(c.stats, 'AP'),
      ap50: stat(c.stats, 'AP50'),
      ap75: stat(c.stats, 'AP75'),
      apSmall: stat(c.stats, 'APs'),
      apMedium: stat(c.stats, 'APm'),
      apLarge: stat(c.stats, 'APl'),
      ar1: stat(c.stats, 'AR1'),
      ar10: stat(c.stats, 'AR10'),
      ar100: stat(c.stats, 'AR100'),
      arSmall: stat(c.stats, 'ARs'),
      arMedium: stat(c.stats, 'ARm'),
      arLarge: stat(c.stats, 'ARl'),
      groundTruth: c.groundTruth,
      detections: c.detections,
    })),
    images: evaluation.perImage.map((image, i) => ({
      imageId: image.imageId,
      fileName: image.fileName ?? null,
      ap: image.ap,
      ap50: image.ap50,
      truePositives: image.truePositives,
      falsePositives: image.falsePositives,
      falseNegatives: image.falseNegatives,
      scoreThreshold: evaluation.perImageScoreThreshold,
      groundTruth: image.groundTruth,
      crowd: image.crowd,
      detections: image.detections,
      maxScore: image.maxScore,
      confusionCells: evaluation.confusion?.imageCells[i] ?? [],
      categoryIds: [...(imageCategories[i] ?? [])].sort((a, b) => a - b),
    })),
  }
}

export function cityscapesEvaluationRows(evaluation: CityscapesEvaluation): {
  summary: EvaluationSummaryRow
  classes: CityscapesClassRow[]
  images: CityscapesImageRow[]
} {
  const { perImage, ...report } = cityscapesJsonReport(evaluation)
  void perImage
  return {
    summary: {
      kind: 'cityscapes',
      primaryMetric: evaluation.mIoU,
      primaryMetricName: 'mIoU',
      imageCount: evaluation.images,
      metricsJson: JSON.stringify(report),
      warningsJson: '[]',
    },
    classes: evaluation.classes,
    images: evaluation.perImage.map((image) => ({
      imageName: image.name,
      groundTruthFile: image.groundTruthFile,
      predictionFile: image.predictionFile,
      mIoU: image.mIoU,
      classIoUJson: JSON.stringify(image.classIoU),
      evaluatedPixels: image.evaluatedPixels,
    })),
  }
}
