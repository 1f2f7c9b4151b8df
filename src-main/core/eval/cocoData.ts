/**
 * Reading COCO ground truth and detection results into compact typed arrays, with pycocotools'
 * `COCO()` / `loadRes` semantics and strict validation of what the user brings.
 *
 * Ground truth is taken as pycocotools takes it (annotations whose image or category is not in the
 * file are skipped, and counted in `warnings`); results are checked entry by entry and the first bad
 * entry stops the evaluation with an `EvalError` naming it.
 */
import { EvalError } from './errors'
import {
  type Box,
  type Rle,
  type Segmentation,
  rleArea,
  rleFromBox,
  rleToBboxInto,
  segmentationToRle,
} from './rle'

export type IouType = 'bbox' | 'segm'
/** COCO uses integers; some converters write strings. Both sort as pycocotools' `np.unique` does. */
export type CocoId = number | string

export interface CocoImage {
  id: CocoId
  width: number
  height: number
  file_name?: string
  [key: string]: unknown
}

export interface CocoAnnotation {
  id: number
  image_id: CocoId
  category_id: number
  bbox?: number[]
  area: number
  iscrowd?: number | boolean
  segmentation?: Segmentation
  [key: string]: unknown
}

export interface CocoCategory {
  id: number
  name?: string
  supercategory?: string
  [key: string]: unknown
}

export interface CocoDataset {
  images: CocoImage[]
  annotations: CocoAnnotation[]
  categories: CocoCategory[]
  [key: string]: unknown
}

/** One entry of a COCO results file. */
export interface CocoResult {
  image_id: CocoId
  category_id: number
  score: number
  bbox?: number[]
  segmentation?: Segmentation
  [key: string]: unknown
}

export interface PreparedGroundTruth {
  iouType: IouType
  /** Sorted as `np.unique` sorts them: COCOeval's image order. */
  imageIds: CocoId[]
  imageIndexById: Map<CocoId, number>
  imageHeights: Int32Array
  imageWidths: Int32Array
  imageFileNames: (string | undefined)[]
  /** Sorted ascending: COCOeval's category order (the K axis of precision). */
  categoryIds: number[]
  categoryIndexById: Map<number, number>
  categoryNames: (string | undefined)[]
  /** Evaluated ground truth objects, in annotation file order. */
  gt: {
    count: number
    annotationIds: Float64Array
    /** Index into `dataset.annotations`. */
    sourceIndex: Int32Array
    image: Int32Array
    category: Int32Array
    area: Float64Array
    crowd: Uint8Array
    boxes: Float64Array
    /** Present for segm evaluation. */
    masks: Rle[] | null
    /** `rleToBbox` and `rleArea` of each mask, four / one to a mask (segm evaluation). */
    maskBoxes: Float64Array | null
    maskAreas: Float64Array | null
  }
  warnings: string[]
}

export interface PreparedResults {
  count: number
  /** COCOeval's detection id: position in the results list + 1 (loadRes). */
  image: Int32Array
  category: Int32Array
  score: Float64Array
  /** `w*h` for results with boxes, the mask area otherwise, as loadRes sets it. */
  area: Float64Array
  boxes: Float64Array
  /** Present for segm evaluation. */
  masks: Rle[] | null
  /** `rleToBbox` and `rleArea` of each mask, four / one to a mask (segm evaluation). */
  maskBoxes: Float64Array | null
  maskAreas: Float64Array | null
}

/** rleToBbox and rleArea of every mask, for the mask IoUs. */
function maskBoxesAndAreas(masks: readonly Rle[]): { boxes: Float64Array; areas: Float64Array } {
  const boxes = new Float64Array(masks.length * 4)
  const areas = new Float64Array(masks.length)
  for (let i = 0; i < masks.length; i++) {
    rleToBboxInto(masks[i]!, boxes, i * 4)
    areas[i] = rleArea(masks[i]!)
  }
  return { boxes, areas }
}

function describeId(id: unknown): string {
  return typeof id === 'string' ? JSON.stringify(id) : String(id)
}

function isCocoId(id: unknown): id is CocoId {
  return (typeof id === 'number' && Number.isFinite(id)) || typeof id === 'string'
}

/** `np.unique` order: numbers ascending, strings by code point; the two cannot be mixed. */
function compareIds(a: CocoId, b: CocoId): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  return a < b ? -1 : a > b ? 1 : 0
}

function requireArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new EvalError('EVAL_BAD_INPUT', `Ground truth has no "${what}" array`)
  }
  return value
}

/**
 * The entry being read, as errors name it (`annotations[3] (id 4, image 7)`, `results[3] (image
 * 7)`) with its details: built only when an error is thrown, not for every entry.
 */
class Entry {
  constructor(
    readonly list: 'annotations' | 'results',
    readonly index: number,
    readonly imageId: unknown,
    readonly annotationId?: number,
  ) {}

  get where(): string {
    const image = `image ${describeId(this.imageId)}`
    return this.annotationId === undefined
      ? `${this.list}[${this.index}] (${image})`
      : `${this.list}[${this.index}] (id ${this.annotationId}, ${image})`
  }

  get details(): Record<string, unknown> {
    return this.annotationId === undefined
      ? { index: this.index, imageId: this.imageId }
      : { index: this.index, annotationId: this.annotationId, imageId: this.imageId }
  }
}

function readBox(value: unknown, entry: Entry): Box {
  if (!Array.isArray(value) || value.length !== 4) {
    throw new EvalError(
      'EVAL_BAD_BOX',
      `${entry.where}: bbox must be [x, y, width, height]`,
      entry.details,
    )
  }
  const [x, y, w, h] = value as unknown[]
  if (![x, y, w, h].every((n) => typeof n === 'number' && Number.isFinite(n))) {
    throw new EvalError(
      'EVAL_BAD_BOX',
      `${entry.where}: bbox ${JSON.stringify(value)} has a value that is not a finite number`,
      entry.details,
    )
  }
  if ((w as number) < 0 || (h as number) < 0) {
    throw new EvalError(
      'EVAL_BAD_BOX',
      `${entry.where}: bbox ${JSON.stringify(value)} has a negative width or height`,
      entry.details,
    )
  }
  return [x as number, y as number, w as number, h as number]
}

function maskFor(segmentation: unknown, height: number, width: number, entry: Entry): Rle {
  // Images need no size for bbox evaluation; an RLE then keeps its own (as pycocotools does).
  const sizeKnown = height > 0 && width > 0
  if (!sizeKnown && Array.isArray(segmentation)) {
    throw new EvalError(
      'EVAL_BAD_INPUT',
      `${entry.where}: its image has no width and height, which polygons need to be rasterised`,
      entry.details,
    )
  }
  let rle: Rle
  try {
    rle = segmentationToRle(segmentation, height, width)
  } catch (error) {
    if (error instanceof EvalError) {
      throw new EvalError(error.reason, `${entry.where}: ${error.message}`, {
        ...error.details,
        ...entry.details,
      })
    }
    throw error
  }
  if (sizeKnown && (rle.height !== height || rle.width !== width)) {
    throw new EvalError(
      'EVAL_MASK_SIZE',
      `${entry.where}: mask size ${rle.height}x${rle.width} differs from the image's ${height}x${width}`,
      entry.details,
    )
  }
  return rle
}

/**
 * Indexes a COCO instances file for evaluation. For `segm` every evaluated annotation's
 * segmentation is rasterised here (pycocotools does it in `COCOeval._prepare`).
 */
export function prepareGroundTruth(dataset: CocoDataset, iouType: IouType): PreparedGroundTruth {
  if (dataset === null || typeof dataset !== 'object' || Array.isArray(dataset)) {
    throw new EvalError('EVAL_BAD_INPUT', 'Ground truth must be a COCO instances object')
  }
  const images = requireArray(dataset.images, 'images') as CocoImage[]
  const annotations = requireArray(dataset.annotations ?? [], 'annotations') as CocoAnnotation[]
  const categories = requireArray(dataset.categories, 'categories') as CocoCategory[]
  const warnings: string[] = []

  const seenImages = new Set<CocoId>()
  let idKind: string | undefined
  images.forEach((image, index) => {
    const id = image?.id
    if (!isCocoId(id)) {
      throw new EvalError('EVAL_BAD_INPUT', `images[${index}] has no valid id`, { index })
    }
    if (idKind !== undefined && typeof id !== idKind) {
      throw new EvalError(
        'EVAL_BAD_INPUT',
        `images[${index}] id ${describeId(id)} mixes string and number image ids`,
        { index },
      )
    }
    idKind = typeof id
    if (seenImages.has(id)) {
      throw new EvalError(
        'EVAL_DUPLICATE_ID',
        `images[${index}] repeats image id ${describeId(id)}`,
        {
          index,
          imageId: id,
        },
      )
    }
    seenImages.add(id)
    if (iouType === 'segm') {
      for (const key of ['width', 'height'] as const) {
        const value = image[key]
        if (!Number.isInteger(value) || value <= 0) {
          throw new EvalError(
            'EVAL_BAD_INPUT',
            `images[${index}] (id ${describeId(id)}) needs a positive integer ${key} for mask evaluation`,
            { index, imageId: id },
          )
        }
      }
    }
  })
  const imageOrder = images
    .map((_, i) => i)
    .sort((a, b) => compareIds(images[a]!.id, images[b]!.id))
  const imageIds = imageOrder.map((i) => images[i]!.id)
  const imageIndexById = new Map<CocoId, number>()
  imageIds.forEach((id, i) => imageIndexById.set(id, i))
  const imageHeights = Int32Array.from(imageOrder, (i) => images[i]!.height | 0)
  const imageWidths = Int32Array.from(imageOrder, (i) => images[i]!.width | 0)
  const imageFileNames = imageOrder.map((i) => images[i]!.file_name)

  const seenCategories = new Set<number>()
  categories.forEach((category, index) => {
    const id = category?.id
    if (typeof id !== 'number' || !Number.isFinite(id)) {
      throw new EvalError('EVAL_BAD_INPUT', `categories[${index}] has no numeric id`, { index })
    }
    if (seenCategories.has(id)) {
      throw new EvalError('EVAL_DUPLICATE_ID', `categories[${index}] repeats category id ${id}`, {
        index,
        categoryId: id,
      })
    }
    seenCategories.add(id)
  })
  const categoryOrder = categories
    .map((_, i) => i)
    .sort((a, b) => categories[a]!.id - categories[b]!.id)
  const categoryIds = categoryOrder.map((i) => categories[i]!.id)
  const categoryNames = categoryOrder.map((i) => categories[i]!.name)
  const categoryIndexById = new Map<number, number>()
  categoryIds.forEach((id, i) => categoryIndexById.set(id, i))

  const n = annotations.length
  const annotationIds = new Float64Array(n)
  const sourceIndex = new Int32Array(n)
  const image = new Int32Array(n)
  const category = new Int32Array(n)
  const area = new Float64Array(n)
  const crowd = new Uint8Array(n)
  const boxes = new Float64Array(n * 4)
  const masks: Rle[] | null = iouType === 'segm' ? [] : null
  const seenAnnotations = new Set<number>()
  let count = 0
  let unknownImage = 0
  let unknownCategory = 0
  for (let index = 0; index < n; index++) {
    const ann = annotations[index]!
    if (ann === null || typeof ann !== 'object') {
      throw new EvalError('EVAL_BAD_INPUT', `annotations[${index}] is not an object`, { index })
    }
    const id = ann.id
    if (typeof id !== 'number' || !Number.isFinite(id)) {
      throw new EvalError('EVAL_BAD_INPUT', `annotations[${index}] has no numeric id`, { index })
    }
    if (seenAnnotations.has(id)) {
      throw new EvalError(
        'EVAL_DUPLICATE_ID',
        `annotations[${index}] repeats annotation id ${id}`,
        {
          index,
          annotationId: id,
        },
      )
    }
    seenAnnotations.add(id)
    const imageIndex = imageIndexById.get(ann.image_id)
    if (imageIndex === undefined) {
      unknownImage++
      continue
    }
    const categoryIndex = categoryIndexById.get(ann.category_id)
    if (categoryIndex === undefined) {
      unknownCategory++
      continue
    }
    const entry = new Entry('annotations', index, ann.image_id, id)
    if (typeof ann.area !== 'number' || !Number.isFinite(ann.area)) {
      throw new EvalError('EVAL_BAD_INPUT', `${entry.where} has no numeric area`, entry.details)
    }
    if (iouType === 'bbox' || ann.bbox !== undefined) {
      const box = readBox(ann.bbox, entry)
      boxes.set(box, count * 4)
    }
    if (masks) {
      masks.push(
        maskFor(ann.segmentation, imageHeights[imageIndex]!, imageWidths[imageIndex]!, entry),
      )
    }
    annotationIds[count] = id
    sourceIndex[count] = index
    image[count] = imageIndex
    category[count] = categoryIndex
    area[count] = ann.area
    // pycocotools sets ignore from iscrowd alone (any `ignore` field is overwritten).
    crowd[count] = ann.iscrowd ? 1 : 0
    count++
  }
  if (unknownImage > 0) {
    warnings.push(
      `${unknownImage} ground truth annotation(s) name an image not in "images"; skipped`,
    )
  }
  if (unknownCategory > 0) {
    warnings.push(
      `${unknownCategory} ground truth annotation(s) name a category not in "categories"; skipped`,
    )
  }
  for (let g = 0; g < count; g++) {
    if (annotationIds[g] === 0) {
      // COCOeval stores the matched ground truth id and tests it for truth, so a match to id 0
      // counts as a false positive. We reproduce the numbers; the user should renumber.
      warnings.push(
        'A ground truth annotation has id 0: COCOeval can never count a detection matched to it as a true positive. Renumber annotation ids from 1.',
      )
      break
    }
  }
  const geometry = masks && maskBoxesAndAreas(masks)
  return {
    iouType,
    imageIds,
    imageIndexById,
    imageHeights,
    imageWidths,
    imageFileNames,
    categoryIds,
    categoryIndexById,
    categoryNames,
    gt: {
      count,
      annotationIds: annotationIds.slice(0, count),
      sourceIndex: sourceIndex.slice(0, count),
      image: image.slice(0, count),
      category: category.slice(0, count),
      area: area.slice(0, count),
      crowd: crowd.slice(0, count),
      boxes: boxes.slice(0, count * 4),
      masks,
      maskBoxes: geometry && geometry.boxes,
      maskAreas: geometry && geometry.areas,
    },
    warnings,
  }
}

/**
 * pycocotools `COCO.loadRes`, strict. The first entry decides the kind, as in loadRes: with a
 * non-empty `bbox` every entry's area is `w*h` (even for segm evaluation) and a missing
 * segmentation becomes the box polygon; otherwise every entry needs a segmentation, whose mask
 * area becomes its area and whose box comes from `rleToBbox` when absent.
 */
export function prepareResults(
  gt: PreparedGroundTruth,
  results: readonly CocoResult[],
): PreparedResults {
  if (!Array.isArray(results)) {
    throw new EvalError('EVAL_BAD_INPUT', 'Results must be a JSON array of detections')
  }
  const n = results.length
  const image = new Int32Array(n)
  const category = new Int32Array(n)
  const score = new Float64Array(n)
  const area = new Float64Array(n)
  const boxes = new Float64Array(n * 4)
  const wantMasks = gt.iouType === 'segm'
  const masks: Rle[] | null = wantMasks ? new Array<Rle>(n) : null
  const maskBoxes = wantMasks ? new Float64Array(n * 4) : null
  const maskAreas = wantMasks ? new Float64Array(n) : null
  const first = results[0] as Partial<CocoResult> | undefined
  const boxMode =
    first !== undefined &&
    first !== null &&
    typeof first === 'object' &&
    'bbox' in first &&
    !(Array.isArray(first.bbox) && first.bbox.length === 0)
  for (let index = 0; index < n; index++) {
    const result = results[index] as CocoResult
    if (result === null || typeof result !== 'object') {
      throw new EvalError('EVAL_BAD_INPUT', `results[${index}] is not an object`, { index })
    }
    const imageIndex = gt.imageIndexById.get(result.image_id)
    if (imageIndex === undefined) {
      throw new EvalError(
        'EVAL_UNKNOWN_IMAGE',
        `results[${index}] names image_id ${describeId(result.image_id)}, which is not in the ground truth`,
        { index, imageId: result.image_id },
      )
    }
    const categoryIndex = gt.categoryIndexById.get(result.category_id)
    if (categoryIndex === undefined) {
      throw new EvalError(
        'EVAL_UNKNOWN_CATEGORY',
        `results[${index}] (image ${describeId(result.image_id)}) names category_id ${describeId(result.category_id)}, which is not in the ground truth`,
        { index, imageId: result.image_id, categoryId: result.category_id },
      )
    }
    const entry = new Entry('results', index, result.image_id)
    if (typeof result.score !== 'number' || !Number.isFinite(result.score)) {
      throw new EvalError('EVAL_BAD_SCORE', `${entry.where} has no finite score`, entry.details)
    }
    image[index] = imageIndex
    category[index] = categoryIndex
    score[index] = result.score
    const height = gt.imageHeights[imageIndex]!
    const width = gt.imageWidths[imageIndex]!
    if (boxMode) {
      const box = readBox(result.bbox, entry)
      boxes[index * 4] = box[0]
      boxes[index * 4 + 1] = box[1]
      boxes[index * 4 + 2] = box[2]
      boxes[index * 4 + 3] = box[3]
      area[index] = box[2] * box[3]
      if (masks) {
        const mask =
          result.segmentation === undefined
            ? rleFromBox(box, height, width)
            : maskFor(result.segmentation, height, width, entry)
        masks[index] = mask
        rleToBboxInto(mask, maskBoxes!, index * 4)
        maskAreas![index] = rleArea(mask)
      }
    } else {
      if (result.segmentation === undefined) {
        throw new EvalError(
          'EVAL_BAD_SEGMENTATION',
          `${entry.where} has neither bbox nor segmentation (the first result has no bbox, so every result needs a segmentation)`,
          entry.details,
        )
      }
      const mask = maskFor(result.segmentation, height, width, entry)
      area[index] = rleArea(mask)
      if (result.bbox === undefined) rleToBboxInto(mask, boxes, index * 4)
      else boxes.set(readBox(result.bbox, entry), index * 4)
      if (masks) {
        masks[index] = mask
        maskAreas![index] = area[index]!
        if (result.bbox === undefined) {
          for (let c = index * 4; c < index * 4 + 4; c++) maskBoxes![c] = boxes[c]!
        } else rleToBboxInto(mask, maskBoxes!, index * 4)
      }
    }
  }
  return { count: n, image, category, score, area, boxes, masks, maskBoxes, maskAreas }
}

/** Boxes and areas of masks, computed once and shared with the confusion matrix. */
export interface MaskGeometry {
  gtBoxes: Float64Array
  gtAreas: Float64Array
  dtBoxes: Float64Array
  dtAreas: Float64Array
}

/**
 * Mask boxes and areas as COCOeval computes them (the confusion matrix's box test needs them),
 * made once where the masks were made (prepareGroundTruth / prepareResults); null for bbox.
 */
export function maskGeometry(gt: PreparedGroundTruth, dt: PreparedResults): MaskGeometry | null {
  if (!gt.gt.maskBoxes || !gt.gt.maskAreas || !dt.maskBoxes || !dt.maskAreas) return null
  return {
    gtBoxes: gt.gt.maskBoxes,
    gtAreas: gt.gt.maskAreas,
    dtBoxes: dt.maskBoxes,
    dtAreas: dt.maskAreas,
  }
}
