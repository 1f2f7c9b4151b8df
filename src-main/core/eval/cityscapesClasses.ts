/**
 * The views of the shared Cityscapes label table (`common/cityscapesLabels.ts`, from
 * cityscapesScripts' labels.py) that evaluation needs. Evaluation works in label ids (0..33), as
 * the official script does; train ids are only a mapping.
 */
import { type CityscapesLabel, cityscapesLabels } from '../../common/cityscapesLabels'

export type { CityscapesLabel }

/** Labels with an id, indexed by id (0..33): the rows and columns of the script's matrix. */
export const LABEL_BY_ID: readonly CityscapesLabel[] = cityscapesLabels
  .filter((l) => l.id >= 0)
  .sort((a, b) => a.id - b.id)
export const LABEL_COUNT = LABEL_BY_ID.length

/** The 19 evaluated classes, in label id order (which is also train id order). */
export const EVALUATED_LABELS: readonly CityscapesLabel[] = LABEL_BY_ID.filter(
  (l) => !l.ignoreInEval,
)

/** Categories in the order labels.py first mentions them (the script's dict order). */
export const CITYSCAPES_CATEGORIES: readonly string[] = [
  ...new Set(cityscapesLabels.map((l) => l.category)),
]

/** Labels of a category that have an id (what the script's category sums range over). */
export function labelsOfCategory(category: string): readonly CityscapesLabel[] {
  return cityscapesLabels.filter((l) => l.category === category && l.id >= 0)
}

/**
 * Train id -> label id for predictions written in train ids: the first label with that train id,
 * as labels.py's `trainId2label` resolves it (255 -> 'unlabeled', 0); undefined for values that
 * are not train ids (19..254).
 */
export function labelIdForTrainId(trainId: number): number | undefined {
  return cityscapesLabels.find((l) => l.trainId === trainId && l.id >= 0)?.id
}

/**
 * Average instance size per class used to weight iIoU: the constants in
 * evalPixelLevelSemanticLabeling.py (`args.avgClassSize`), measured once on the Cityscapes
 * training set. The official numbers use these, not sizes measured on the evaluated set.
 */
export const CITYSCAPES_AVG_CLASS_SIZE: Readonly<Record<string, number>> = {
  bicycle: 4672.3249222261,
  caravan: 36771.8241758242,
  motorcycle: 6298.7200839748,
  rider: 3930.4788056518,
  bus: 35732.1511111111,
  train: 67583.7075812274,
  car: 12794.0202738185,
  person: 3462.4756337644,
  truck: 27855.1264367816,
  trailer: 16926.9763313609,
}
