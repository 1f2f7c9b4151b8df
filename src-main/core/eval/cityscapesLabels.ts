/**
 * The Cityscapes label definitions (cityscapesScripts `helpers/labels.py`), as data. Evaluation
 * works in label ids (0..33), as the official script does; train ids are only a mapping.
 */
export interface CityscapesLabel {
  name: string
  id: number
  trainId: number
  category: string
  categoryId: number
  hasInstances: boolean
  ignoreInEval: boolean
  color: [number, number, number]
}

const L = (
  name: string,
  id: number,
  trainId: number,
  category: string,
  categoryId: number,
  hasInstances: boolean,
  ignoreInEval: boolean,
  color: [number, number, number],
): CityscapesLabel => ({
  name,
  id,
  trainId,
  category,
  categoryId,
  hasInstances,
  ignoreInEval,
  color,
})

export const CITYSCAPES_LABELS: readonly CityscapesLabel[] = [
  L('unlabeled', 0, 255, 'void', 0, false, true, [0, 0, 0]),
  L('ego vehicle', 1, 255, 'void', 0, false, true, [0, 0, 0]),
  L('rectification border', 2, 255, 'void', 0, false, true, [0, 0, 0]),
  L('out of roi', 3, 255, 'void', 0, false, true, [0, 0, 0]),
  L('static', 4, 255, 'void', 0, false, true, [0, 0, 0]),
  L('dynamic', 5, 255, 'void', 0, false, true, [111, 74, 0]),
  L('ground', 6, 255, 'void', 0, false, true, [81, 0, 81]),
  L('road', 7, 0, 'flat', 1, false, false, [128, 64, 128]),
  L('sidewalk', 8, 1, 'flat', 1, false, false, [244, 35, 232]),
  L('parking', 9, 255, 'flat', 1, false, true, [250, 170, 160]),
  L('rail track', 10, 255, 'flat', 1, false, true, [230, 150, 140]),
  L('building', 11, 2, 'construction', 2, false, false, [70, 70, 70]),
  L('wall', 12, 3, 'construction', 2, false, false, [102, 102, 156]),
  L('fence', 13, 4, 'construction', 2, false, false, [190, 153, 153]),
  L('guard rail', 14, 255, 'construction', 2, false, true, [180, 165, 180]),
  L('bridge', 15, 255, 'construction', 2, false, true, [150, 100, 100]),
  L('tunnel', 16, 255, 'construction', 2, false, true, [150, 120, 90]),
  L('pole', 17, 5, 'object', 3, false, false, [153, 153, 153]),
  L('polegroup', 18, 255, 'object', 3, false, true, [153, 153, 153]),
  L('traffic light', 19, 6, 'object', 3, false, false, [250, 170, 30]),
  L('traffic sign', 20, 7, 'object', 3, false, false, [220, 220, 0]),
  L('vegetation', 21, 8, 'nature', 4, false, false, [107, 142, 35]),
  L('terrain', 22, 9, 'nature', 4, false, false, [152, 251, 152]),
  L('sky', 23, 10, 'sky', 5, false, false, [70, 130, 180]),
  L('person', 24, 11, 'human', 6, true, false, [220, 20, 60]),
  L('rider', 25, 12, 'human', 6, true, false, [255, 0, 0]),
  L('car', 26, 13, 'vehicle', 7, true, false, [0, 0, 142]),
  L('truck', 27, 14, 'vehicle', 7, true, false, [0, 0, 70]),
  L('bus', 28, 15, 'vehicle', 7, true, false, [0, 60, 100]),
  L('caravan', 29, 255, 'vehicle', 7, true, true, [0, 0, 90]),
  L('trailer', 30, 255, 'vehicle', 7, true, true, [0, 0, 110]),
  L('train', 31, 16, 'vehicle', 7, true, false, [0, 80, 100]),
  L('motorcycle', 32, 17, 'vehicle', 7, true, false, [0, 0, 230]),
  L('bicycle', 33, 18, 'vehicle', 7, true, false, [119, 11, 32]),
  L('license plate', -1, -1, 'vehicle', 7, false, true, [0, 0, 142]),
]

/** Labels with an id, indexed by id (0..33): the rows and columns of the script's matrix. */
export const LABEL_BY_ID: readonly CityscapesLabel[] = CITYSCAPES_LABELS.filter((l) => l.id >= 0)
export const LABEL_COUNT = LABEL_BY_ID.length

/** The 19 evaluated classes, in train id order. */
export const EVALUATED_LABELS: readonly CityscapesLabel[] = LABEL_BY_ID.filter(
  (l) => !l.ignoreInEval,
)

/** Categories in the order labels.py first mentions them (the script's dict order). */
export const CITYSCAPES_CATEGORIES: readonly string[] = [
  ...new Set(CITYSCAPES_LABELS.map((l) => l.category)),
]

/**
 * Train id -> label id for predictions written in train ids: the first label with that train id,
 * as labels.py's `trainId2label` resolves it (255 -> 'unlabeled', 0).
 */
export function trainIdToLabelId(trainId: number): number | undefined {
  return CITYSCAPES_LABELS.find((l) => l.trainId === trainId && l.id >= 0)?.id
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
