/**
 * The Cityscapes label definitions (cityscapesScripts `helpers/labels.py`): 34 label ids plus
 * 'license plate' (-1). Only the 19 labels with a train id 0..18 are evaluated; every other
 * label maps to train id 255 (ignore). Shared by the importer, the evaluator and the renderer's
 * palette, so the three can never disagree.
 */
export interface CityscapesLabel {
  name: string
  id: number
  trainId: number
  category: string
  categoryId: number
  hasInstances: boolean
  ignoreInEval: boolean
  color: readonly [number, number, number]
}

const L = (
  name: string,
  id: number,
  trainId: number,
  category: string,
  categoryId: number,
  hasInstances: boolean,
  ignoreInEval: boolean,
  color: readonly [number, number, number],
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

export const cityscapesLabels: readonly CityscapesLabel[] = [
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

export const IGNORE_TRAIN_ID = 255

/** The 19 evaluated labels, ordered by train id. */
export const cityscapesTrainLabels: readonly CityscapesLabel[] = cityscapesLabels
  .filter((l) => l.trainId >= 0 && l.trainId < 255)
  .sort((a, b) => a.trainId - b.trainId)

/** labelId (0..255) -> trainId, 255 for everything not evaluated. */
export const labelIdToTrainId: Uint8Array = (() => {
  const lut = new Uint8Array(256).fill(IGNORE_TRAIN_ID)
  for (const l of cityscapesLabels) if (l.id >= 0 && l.trainId >= 0) lut[l.id] = l.trainId
  return lut
})()

/** trainId (0..255) -> labelId; 255 (ignore) maps to 0 'unlabeled'. */
export const trainIdToLabelId: Uint8Array = (() => {
  const lut = new Uint8Array(256)
  for (const l of cityscapesTrainLabels) lut[l.trainId] = l.id
  return lut
})()

export const cityscapesLabelById: ReadonlyMap<number, CityscapesLabel> = new Map(
  cityscapesLabels.map((l) => [l.id, l]),
)
