/**
 * What the CLI prints and writes for a Cityscapes evaluation: the official script's class and
 * category tables, and the stable `--json` document.
 */
import type { CityscapesEvaluation } from './cityscapes'
import { formatFixedWidth } from './pythonFormat'

const RULE = '-'.repeat(32)
const score = (value: number | null, width = 5): string => formatFixedWidth(value ?? NaN, width, 3)

/** The script's printed class and category tables (without colours), line for line. */
export function formatCityscapesTables(evaluation: CityscapesEvaluation): string {
  const lines: string[] = ['classes          IoU      nIoU', RULE]
  for (const c of evaluation.classes)
    lines.push(`${c.name.padEnd(14)}: ${score(c.iou)}    ${score(c.iiou)}`)
  lines.push(
    RULE,
    `Score Average : ${score(evaluation.mIoU)}    ${score(evaluation.iIoU)}`,
    RULE,
    '',
    '',
  )
  lines.push('categories       IoU      nIoU', RULE)
  for (const c of evaluation.categories)
    lines.push(`${c.name.padEnd(14)}: ${score(c.iou)}    ${score(c.iiou)}`)
  lines.push(
    RULE,
    `Score Average : ${score(evaluation.categoryMIoU)}    ${score(evaluation.categoryIIoU)}`,
    RULE,
    '',
  )
  return lines.join('\n') + '\n'
}

/** The `--json` document: a stable interface, so only add fields. */
export interface CityscapesJsonReport {
  predictionIds: 'label' | 'train'
  /** Mean IoU over the 19 classes with a defined IoU (the script's `averageScoreClasses`). */
  mIoU: number | null
  /** IoU per train id ("0".."18"), null where no pixel of the class is in ground truth or prediction. */
  perClass: Record<string, number | null>
  /** Instance-level IoU (the script's `averageScoreInstClasses`). */
  iIoU: number | null
  perClassInstance: Record<string, number | null>
  classNames: Record<string, string>
  categories: Record<string, { IoU: number | null; iIoU: number | null }>
  categoryMIoU: number | null
  categoryIIoU: number | null
  /** 19 x 19 pixel counts over train ids, rows ground truth, columns prediction. */
  confusionMatrix: number[][]
  /** Per ground truth train id, pixels predicted as an ignored label. */
  predictedIgnored: number[]
  images: number
  pixels: number
  perImage: {
    name: string
    groundTruthFile: string | null
    predictionFile: string | null
    mIoU: number | null
    perClass: Record<string, number | null>
  }[]
}

export function cityscapesJsonReport(evaluation: CityscapesEvaluation): CityscapesJsonReport {
  const byTrainId = <T>(f: (c: CityscapesEvaluation['classes'][number]) => T): Record<string, T> =>
    Object.fromEntries(evaluation.classes.map((c) => [String(c.trainId), f(c)]))
  return {
    predictionIds: evaluation.predictionIds,
    mIoU: evaluation.mIoU,
    perClass: byTrainId((c) => c.iou),
    iIoU: evaluation.iIoU,
    perClassInstance: byTrainId((c) => c.iiou),
    classNames: byTrainId((c) => c.name),
    categories: Object.fromEntries(
      evaluation.categories.map((c) => [c.name, { IoU: c.iou, iIoU: c.iiou }]),
    ),
    categoryMIoU: evaluation.categoryMIoU,
    categoryIIoU: evaluation.categoryIIoU,
    confusionMatrix: evaluation.confusionMatrix,
    predictedIgnored: evaluation.predictedIgnored,
    images: evaluation.images,
    pixels: evaluation.pixels,
    perImage: evaluation.perImage.map((image) => ({
      name: image.name,
      groundTruthFile: image.groundTruthFile,
      predictionFile: image.predictionFile,
      mIoU: image.mIoU,
      perClass: Object.fromEntries(
        evaluation.classes.map((c, i) => [String(c.trainId), image.classIoU[i] ?? null]),
      ),
    })),
  }
}
