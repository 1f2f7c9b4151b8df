/**
 * A detection confusion matrix. COCOeval has none, so this is the studio's own definition, written
 * down here because researchers will compare it with other tools':
 *
 * Per image, detections scoring at least `scoreThreshold` are taken highest score first (ties in
 * results order). Each is matched to the untaken non-crowd ground truth of its own category with
 * the highest IoU >= `iouThreshold` (a diagonal cell); failing that, to the untaken non-crowd
 * ground truth of another category with the highest IoU >= `iouThreshold` (an off-diagonal
 * cell: a class confusion); failing that, it is ignored if it overlaps a crowd region of its own
 * category by >= `iouThreshold` (COCO's crowd IoU, intersection over the detection's area), else
 * it lands in the background row. Ground truth left unmatched lands in the background column.
 * IoU is box IoU for bbox evaluation and mask IoU for segm, computed exactly as COCOeval does.
 */
import type { MaskGeometry, PreparedGroundTruth, PreparedResults } from './cocoData'
import { type Rle, boxIouAt, rleIouGivenBoxOverlap } from './rle'

export interface ConfusionOptions {
  iouThreshold?: number
  scoreThreshold?: number
}

export interface CocoConfusionMatrix {
  iouThreshold: number
  scoreThreshold: number
  /** Row and column labels: the categories in COCOeval's order; the last row/column is background. */
  categoryIds: number[]
  /**
   * `(K+1) x (K+1)`: `matrix[groundTruthCategory][predictedCategory]`. Row K counts detections that
   * matched nothing (false positives); column K counts ground truth no detection matched.
   */
  matrix: number[][]
  /** Detections that matched no object but lay on a crowd region of their category. */
  ignoredDetections: number
  /**
   * The same counts per image (COCOeval's image order): `[row, column, count]` for each non-zero
   * cell, so a view can list the images behind a cell.
   */
  imageCells: [number, number, number][][]
}

export function computeConfusionMatrix(
  gt: PreparedGroundTruth,
  dt: PreparedResults,
  options: ConfusionOptions,
  /** Mask boxes and areas (segm), as the evaluation computed them; null for bbox. */
  geometry: MaskGeometry | null,
): CocoConfusionMatrix {
  const iouThreshold = options.iouThreshold ?? 0.5
  const scoreThreshold = options.scoreThreshold ?? 0.5
  const K = gt.categoryIds.length
  const I = gt.imageIds.length
  const matrix = Array.from({ length: K + 1 }, () => new Array<number>(K + 1).fill(0))

  const gtByImage = bucket(gt.gt.count, (g) => gt.gt.image[g]!, I)
  const kept: number[] = []
  for (let d = 0; d < dt.count; d++) if (dt.score[d]! >= scoreThreshold) kept.push(d)
  const dtByImage = bucket(kept.length, (j) => dt.image[kept[j]!]!, I)

  const pairIou = new PairIou(gt, dt, geometry)
  const gtCrowd = gt.gt.crowd
  const gtCategory = gt.gt.category

  let ignoredDetections = 0
  const imageCells: [number, number, number][][] = []
  for (let i = 0; i < I; i++) {
    const cells = new Map<number, number>()
    const count = (row: number, column: number): void => {
      matrix[row]![column]!++
      const key = row * (K + 1) + column
      cells.set(key, (cells.get(key) ?? 0) + 1)
    }
    const gts = gtByImage[i]!
    const dets = dtByImage[i]!.map((j) => kept[j]!)
    dets.sort((a, b) => dt.score[b]! - dt.score[a]! || a - b)
    const taken = new Uint8Array(gts.length)
    for (const d of dets) {
      const category = dt.category[d]!
      let bestSame = -1
      let bestSameIou = iouThreshold
      let bestOther = -1
      let bestOtherIou = iouThreshold
      let onCrowd = false
      for (let j = 0; j < gts.length; j++) {
        const g = gts[j]!
        const crowd = gtCrowd[g] === 1
        const sameCategory = gtCategory[g] === category
        if (crowd) {
          if (sameCategory && !onCrowd && pairIou.iou(d, g, true) >= iouThreshold) onCrowd = true
          continue
        }
        if (taken[j]) continue
        const value = pairIou.iou(d, g, false)
        if (sameCategory) {
          if (value >= bestSameIou && (bestSame < 0 || value > bestSameIou)) {
            bestSame = j
            bestSameIou = value
          }
        } else if (value >= bestOtherIou && (bestOther < 0 || value > bestOtherIou)) {
          bestOther = j
          bestOtherIou = value
        }
      }
      const match = bestSame >= 0 ? bestSame : bestOther
      if (match >= 0) {
        taken[match] = 1
        count(gt.gt.category[gts[match]!]!, category)
      } else if (onCrowd) ignoredDetections++
      else count(K, category)
    }
    gts.forEach((g, j) => {
      if (!taken[j] && !gt.gt.crowd[g]) count(gt.gt.category[g]!, K)
    })
    imageCells.push(
      [...cells].map(
        ([key, n]) => [Math.floor(key / (K + 1)), key % (K + 1), n] as [number, number, number],
      ),
    )
  }
  return {
    iouThreshold,
    scoreThreshold,
    categoryIds: [...gt.categoryIds],
    matrix,
    ignoredDetections,
    imageCells,
  }
}

/** Box IoU, or mask IoU with maskApi's box test first (boxes and areas from the evaluation). */
class PairIou {
  readonly #dtBoxes: Float64Array
  readonly #gtBoxes: Float64Array
  readonly #geometry: MaskGeometry | null
  readonly #dtMasks: Rle[] | null
  readonly #gtMasks: Rle[] | null

  constructor(gt: PreparedGroundTruth, dt: PreparedResults, geometry: MaskGeometry | null) {
    this.#dtBoxes = geometry ? geometry.dtBoxes : dt.boxes
    this.#gtBoxes = geometry ? geometry.gtBoxes : gt.gt.boxes
    this.#geometry = geometry
    this.#dtMasks = dt.masks
    this.#gtMasks = gt.gt.masks
  }

  iou(d: number, g: number, crowd: boolean): number {
    const box = boxIouAt(this.#dtBoxes, d * 4, this.#gtBoxes, g * 4, crowd)
    if (!this.#geometry || !(box > 0)) return box
    return rleIouGivenBoxOverlap(
      this.#dtMasks![d]!,
      this.#geometry.dtAreas[d]!,
      this.#gtMasks![g]!,
      this.#geometry.gtAreas[g]!,
      crowd,
    )
  }
}

function bucket(count: number, keyOf: (i: number) => number, buckets: number): number[][] {
  const out = Array.from({ length: buckets }, () => [] as number[])
  for (let i = 0; i < count; i++) out[keyOf(i)]!.push(i)
  return out
}
