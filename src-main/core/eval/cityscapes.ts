/**
 * Cityscapes pixel-level semantic labelling evaluation, reproducing cityscapesScripts'
 * `evalPixelLevelSemanticLabeling.py`: one confusion matrix over the whole set in label-id space
 * (so a prediction of an ignored label on a road pixel is a road false negative but nobody's false
 * positive, exactly as the script counts it), per-class IoU over the 19 evaluated classes and their
 * mean (NaN classes skipped), iIoU for the instance classes from the instanceIds images, and the
 * category-level scores.
 */
import { readFile, readdir } from 'node:fs/promises'
import { basename, join, relative } from 'node:path'
import {
  CITYSCAPES_AVG_CLASS_SIZE,
  CITYSCAPES_CATEGORIES,
  EVALUATED_LABELS,
  LABEL_BY_ID,
  LABEL_COUNT,
  labelIdForTrainId,
  labelsOfCategory,
} from './cityscapesClasses'
import { EvalError, throwIfAborted } from './errors'
import { type LabelImage, decodeLabelPng } from './png'

/** What the prediction PNGs hold: label ids (the official format, default) or train ids. */
export type CityscapesIdKind = 'label' | 'train'

export interface CityscapesImageInput {
  /** Shown in errors and per-image rows: the Cityscapes stem or the file name. */
  name: string
  groundTruth: LabelImage
  /** The `_instanceIds` image; without it the image adds nothing to iIoU. */
  instances: LabelImage | null
  prediction: LabelImage
  groundTruthFile?: string
  predictionFile?: string
}

export interface CityscapesClassScore {
  trainId: number
  labelId: number
  name: string
  category: string
  iou: number | null
  /** Instance-weighted IoU; null for classes without instances or without data. */
  iiou: number | null
}

export interface CityscapesCategoryScore {
  name: string
  iou: number | null
  iiou: number | null
}

export interface CityscapesImageResult {
  name: string
  groundTruthFile: string | null
  predictionFile: string | null
  width: number
  height: number
  /** IoU per train id on this image alone (the script's formula), null where undefined. */
  classIoU: (number | null)[]
  /** Mean of the defined per-class IoUs of this image, as the script averages. */
  mIoU: number | null
  /** Pixels whose ground truth is an evaluated class. */
  evaluatedPixels: number
}

export interface CityscapesEvaluation {
  predictionIds: CityscapesIdKind
  images: number
  pixels: number
  classes: CityscapesClassScore[]
  /** `averageScoreClasses`: mean IoU over classes with a defined IoU. */
  mIoU: number | null
  /** `averageScoreInstClasses`: mean iIoU over instance classes with a defined iIoU. */
  iIoU: number | null
  /** Categories other than `void`, in labels.py order. */
  categories: CityscapesCategoryScore[]
  categoryMIoU: number | null
  categoryIIoU: number | null
  /**
   * 19 x 19 over train ids: rows ground truth, columns prediction. Pixels whose ground truth is
   * ignored are not counted; pixels predicted as an ignored label are in `predictedIgnored`.
   */
  confusionMatrix: number[][]
  /** Per ground truth train id: pixels predicted as an ignored label (still false negatives). */
  predictedIgnored: number[]
  /** The script's own matrix over label ids 0..33 (its `confMatrix`). */
  labelConfusionMatrix: number[][]
  perImage: CityscapesImageResult[]
}

export interface CityscapesOptions {
  predictionIds?: CityscapesIdKind
  /** Override the script's average instance sizes (label name -> pixels). */
  averageInstanceSize?: Readonly<Record<string, number>>
}

const N = LABEL_COUNT
const nan = (value: number): number | null => (Number.isNaN(value) ? null : value)

/** The instance categories of the script: every label with an id has instances. */
const INSTANCE_CATEGORIES = CITYSCAPES_CATEGORIES.filter((category) => {
  const labels = labelsOfCategory(category)
  return labels.length > 0 && labels.every((l) => l.hasInstances)
}).map((name) => ({ name, labelIds: labelsOfCategory(name).map((l) => l.id) }))

interface InstanceTally {
  tp: number
  fn: number
  tpWeighted: number
  fnWeighted: number
}

const emptyTally = (): InstanceTally => ({ tp: 0, fn: 0, tpWeighted: 0, fnWeighted: 0 })

/**
 * Accumulates images one at a time (so a directory of 500 full-size images never sits in memory)
 * and produces the evaluation at the end. Each image is checked completely before it is counted.
 */
export class CityscapesAccumulator {
  readonly predictionIds: CityscapesIdKind
  #avgSize: Readonly<Record<string, number>>
  #matrix = new Float64Array(N * N)
  #imageMatrix = new Float64Array(N * N)
  #classTally = new Map<string, InstanceTally>()
  #categoryTally = new Map<string, InstanceTally>()
  #perImage: CityscapesImageResult[] = []
  #pixels = 0
  #predictionLut: Int16Array
  // Per instance id scratch (instance ids are 16-bit).
  #size = new Float64Array(65536)
  #tp = new Float64Array(65536)
  #categoryTp = new Float64Array(65536)

  constructor(options: CityscapesOptions = {}) {
    this.predictionIds = options.predictionIds ?? 'label'
    this.#avgSize = options.averageInstanceSize ?? CITYSCAPES_AVG_CLASS_SIZE
    for (const label of LABEL_BY_ID) {
      if (label.hasInstances && !label.ignoreInEval) this.#classTally.set(label.name, emptyTally())
    }
    for (const category of INSTANCE_CATEGORIES) this.#categoryTally.set(category.name, emptyTally())
    // Prediction value -> label id, or -1 for values outside the label set.
    this.#predictionLut = new Int16Array(65536).fill(-1)
    if (this.predictionIds === 'label') {
      for (const label of LABEL_BY_ID) this.#predictionLut[label.id] = label.id
    } else {
      for (let trainId = 0; trainId < 256; trainId++) {
        this.#predictionLut[trainId] = labelIdForTrainId(trainId) ?? -1
      }
    }
  }

  /** Adds one image pair; throws (and adds nothing) if anything about it is wrong. */
  add(input: CityscapesImageInput): CityscapesImageResult {
    const { name, groundTruth: gt, prediction: pred, instances } = input
    if (pred.width !== gt.width || pred.height !== gt.height) {
      throw new EvalError(
        'EVAL_IMAGE_SIZE',
        `${input.predictionFile ?? name}: prediction is ${pred.width}x${pred.height} but its ground truth ${input.groundTruthFile ?? name} is ${gt.width}x${gt.height}`,
        { image: name },
      )
    }
    if (instances && (instances.width !== gt.width || instances.height !== gt.height)) {
      throw new EvalError(
        'EVAL_IMAGE_SIZE',
        `${name}: instanceIds image is ${instances.width}x${instances.height} but labelIds is ${gt.width}x${gt.height}`,
        { image: name },
      )
    }
    const pixels = gt.width * gt.height
    const lut = this.#predictionLut
    const predicted = new Uint8Array(pixels)
    const image = this.#imageMatrix
    image.fill(0)
    for (let i = 0; i < pixels; i++) {
      const g = gt.data[i]!
      const p = lut[pred.data[i]!]!
      if (g >= N || p < 0) {
        const x = i % gt.width
        const y = (i - x) / gt.width
        if (g >= N) {
          throw new EvalError(
            'EVAL_LABEL_OUT_OF_SET',
            `${input.groundTruthFile ?? name}: ground truth has label id ${g} at (x=${x}, y=${y}), not a Cityscapes label id (0-${N - 1})`,
            { image: name, x, y, value: g },
          )
        }
        const allowed =
          this.predictionIds === 'label' ? `a label id (0-${N - 1})` : 'a train id (0-18 or 255)'
        throw new EvalError(
          'EVAL_LABEL_OUT_OF_SET',
          `${input.predictionFile ?? name}: prediction has value ${pred.data[i]} at (x=${x}, y=${y}), not ${allowed}`,
          { image: name, x, y, value: pred.data[i] },
        )
      }
      predicted[i] = p
      image[g * N + p]!++
    }

    // Instance statistics for this image, gathered first so a bad instance id adds nothing.
    const instanceUpdates: {
      label: string
      category: string | null
      tp: number
      size: number
      categoryTp: number
    }[] = []
    if (instances) {
      const size = this.#size
      const tp = this.#tp
      const categoryTp = this.#categoryTp
      const touched: number[] = []
      const categoryOf = new Int8Array(N).fill(-1)
      INSTANCE_CATEGORIES.forEach((category, c) => {
        for (const id of category.labelIds) categoryOf[id] = c
      })
      for (let i = 0; i < pixels; i++) {
        const v = instances.data[i]!
        if (v <= 1000) continue
        if (size[v] === 0) touched.push(v)
        size[v]!++
        const labelId = Math.floor(v / 1000)
        const p = predicted[i]!
        if (p === labelId) tp[v]!++
        if (labelId < N && categoryOf[p]! >= 0 && categoryOf[p] === categoryOf[labelId])
          categoryTp[v]!++
      }
      touched.sort((a, b) => a - b)
      try {
        for (const v of touched) {
          const labelId = Math.floor(v / 1000)
          const label = LABEL_BY_ID[labelId]
          if (!label) {
            throw new EvalError(
              'EVAL_LABEL_OUT_OF_SET',
              `${name}: instanceIds value ${v} names label id ${labelId}, not a Cityscapes label`,
              { image: name, value: v },
            )
          }
          if (label.ignoreInEval) continue
          if (!label.hasInstances) {
            throw new EvalError(
              'EVAL_LABEL_OUT_OF_SET',
              `${name}: instanceIds value ${v} is an instance of '${label.name}', which has no instances`,
              { image: name, value: v },
            )
          }
          const category = INSTANCE_CATEGORIES.find((c) => c.name === label.category)
          instanceUpdates.push({
            label: label.name,
            category: category ? category.name : null,
            tp: tp[v]!,
            size: size[v]!,
            categoryTp: categoryTp[v]!,
          })
        }
      } finally {
        for (const v of touched) size[v] = tp[v] = categoryTp[v] = 0
      }
    }

    // Everything checked: count the image.
    for (let c = 0; c < N * N; c++) this.#matrix[c]! += image[c]!
    this.#pixels += pixels
    for (const update of instanceUpdates) {
      const weight = this.#avgSize[update.label]! / update.size
      const classTally = this.#classTally.get(update.label)!
      const fn = update.size - update.tp
      classTally.tp += update.tp
      classTally.fn += fn
      classTally.tpWeighted += update.tp * weight
      classTally.fnWeighted += fn * weight
      if (update.category) {
        const categoryTally = this.#categoryTally.get(update.category)!
        const catFn = update.size - update.categoryTp
        categoryTally.tp += update.categoryTp
        categoryTally.fn += catFn
        categoryTally.tpWeighted += update.categoryTp * weight
        categoryTally.fnWeighted += catFn * weight
      }
    }
    const classIoU = EVALUATED_LABELS.map((label) => nan(labelIoU(image, label.id)))
    const result: CityscapesImageResult = {
      name,
      groundTruthFile: input.groundTruthFile ?? null,
      predictionFile: input.predictionFile ?? null,
      width: gt.width,
      height: gt.height,
      classIoU,
      mIoU: nan(scoreAverage(classIoU.map((v) => v ?? NaN))),
      evaluatedPixels: EVALUATED_LABELS.reduce((sum, l) => sum + rowSum(image, l.id), 0),
    }
    this.#perImage.push(result)
    return result
  }

  finish(): CityscapesEvaluation {
    const matrix = this.#matrix
    const classes = EVALUATED_LABELS.map((label) => {
      const tally = this.#classTally.get(label.name)
      return {
        trainId: label.trainId,
        labelId: label.id,
        name: label.name,
        category: label.category,
        iou: nan(labelIoU(matrix, label.id)),
        iiou: tally ? nan(instanceIoU(matrix, tally, [label.id], (l) => l !== label.id)) : null,
      }
    })
    const categories = CITYSCAPES_CATEGORIES.map((name) => {
      const tally = this.#categoryTally.get(name)
      const instanceLabels = INSTANCE_CATEGORIES.find((c) => c.name === name)?.labelIds ?? []
      return {
        name,
        iou: nan(categoryIoU(matrix, name)),
        iiou: tally
          ? nan(
              instanceIoU(matrix, tally, instanceLabels, (l) => LABEL_BY_ID[l]!.category !== name),
            )
          : null,
      }
    })
    const trainConfusion = EVALUATED_LABELS.map((g) =>
      EVALUATED_LABELS.map((p) => matrix[g.id * N + p.id]!),
    )
    const predictedIgnored = EVALUATED_LABELS.map((g) =>
      LABEL_BY_ID.filter((l) => l.ignoreInEval).reduce(
        (sum, p) => sum + matrix[g.id * N + p.id]!,
        0,
      ),
    )
    return {
      predictionIds: this.predictionIds,
      images: this.#perImage.length,
      pixels: this.#pixels,
      classes,
      // The script averages over all 34 labels' scores; ignored labels are NaN there.
      mIoU: nan(scoreAverage(classes.map((c) => c.iou ?? NaN))),
      iIoU: nan(scoreAverage(classes.map((c) => c.iiou ?? NaN))),
      categories: categories.filter((c) => c.name !== 'void'),
      categoryMIoU: nan(scoreAverage(categories.map((c) => c.iou ?? NaN))),
      categoryIIoU: nan(scoreAverage(categories.map((c) => c.iiou ?? NaN))),
      confusionMatrix: trainConfusion,
      predictedIgnored,
      labelConfusionMatrix: Array.from({ length: N }, (_, g) =>
        Array.from(matrix.subarray(g * N, g * N + N)),
      ),
      perImage: this.#perImage,
    }
  }
}

function rowSum(matrix: Float64Array, row: number): number {
  let sum = 0
  for (let c = 0; c < N; c++) sum += matrix[row * N + c]!
  return sum
}

/** Pixels predicted as `columns` on ground truth of evaluated labels that pass `rowFilter`. */
function falsePositives(
  matrix: Float64Array,
  columns: number[],
  rowFilter: (labelId: number) => boolean,
): number {
  let fp = 0
  for (const label of LABEL_BY_ID) {
    if (label.ignoreInEval || !rowFilter(label.id)) continue
    for (const c of columns) fp += matrix[label.id * N + c]!
  }
  return fp
}

/** `getIouScoreForLabel`. */
function labelIoU(matrix: Float64Array, labelId: number): number {
  const tp = matrix[labelId * N + labelId]!
  const fn = rowSum(matrix, labelId) - tp
  const fp = falsePositives(matrix, [labelId], (l) => l !== labelId)
  const denom = tp + fp + fn
  return denom === 0 ? NaN : tp / denom
}

/** `getInstanceIouScoreForLabel` / `getInstanceIouScoreForCategory`: weighted TP and FN, plain FP. */
function instanceIoU(
  matrix: Float64Array,
  tally: InstanceTally,
  columns: number[],
  rowFilter: (labelId: number) => boolean,
): number {
  const fp = falsePositives(matrix, columns, rowFilter)
  const denom = tally.tpWeighted + fp + tally.fnWeighted
  return denom === 0 ? NaN : tally.tpWeighted / denom
}

/** `getIouScoreForCategory`. */
function categoryIoU(matrix: Float64Array, category: string): number {
  const ids = LABEL_BY_ID.filter((l) => l.category === category && !l.ignoreInEval).map((l) => l.id)
  if (ids.length === 0) return NaN
  let tp = 0
  let rows = 0
  for (const r of ids) {
    rows += rowSum(matrix, r)
    for (const c of ids) tp += matrix[r * N + c]!
  }
  const fn = rows - tp
  const fp = falsePositives(matrix, ids, (l) => LABEL_BY_ID[l]!.category !== category)
  const denom = tp + fp + fn
  return denom === 0 ? NaN : tp / denom
}

/** `getScoreAverage`: mean of the non-NaN scores, in order. */
function scoreAverage(scores: number[]): number {
  let valid = 0
  let sum = 0
  for (const score of scores) {
    if (!Number.isNaN(score)) {
      valid++
      sum += score
    }
  }
  return valid === 0 ? NaN : sum / valid
}

// ------------------------------------------------------------------------------------------
// Files
// ------------------------------------------------------------------------------------------

export interface CityscapesPair {
  name: string
  groundTruthFile: string
  /** Beside a `labelIds` file, the `instanceIds` file the script reads; null when absent. */
  instancesFile: string | null
  predictionFile: string
}

/** `{city}_{seq}_{frame}`, e.g. `frankfurt_000000_000294`, as the script's getCsFileInfo reads it. */
const STEM = /^([^_]+)_(\d+)_(\d+)(?=[_.])/

export function cityscapesStem(fileName: string): string | null {
  const match = STEM.exec(basename(fileName))
  return match ? `${match[1]}_${match[2]}_${match[3]}` : null
}

async function listPngs(dir: string): Promise<string[]> {
  let entries: string[]
  try {
    entries = (await readdir(dir, { recursive: true })) as string[]
  } catch (error) {
    throw new EvalError(
      'EVAL_READ_FAILED',
      `Cannot read directory ${dir}: ${(error as Error).message}`,
      { dir },
    )
  }
  return entries
    .filter((f) => f.toLowerCase().endsWith('.png'))
    .map((f) => join(dir, f))
    .sort()
}

/**
 * Pairs ground truth and prediction files. Ground truth files are the `*labelIds.png` under the
 * directory (any other PNG when there are none). A prediction pairs with a ground truth file by
 * Cityscapes stem when the ground truth name has one, else by identical file name. A ground truth
 * file without a prediction, or with two, is an error; unpaired predictions are returned.
 */
export async function pairCityscapesFiles(
  groundTruthDir: string,
  predictionDir: string,
): Promise<{ pairs: CityscapesPair[]; unusedPredictions: string[] }> {
  const gtPngs = await listPngs(groundTruthDir)
  const labelFiles = gtPngs.filter((f) => basename(f).endsWith('labelIds.png'))
  const gtFiles =
    labelFiles.length > 0
      ? labelFiles.filter((f) => !basename(f).endsWith('_labelTrainIds.png'))
      : gtPngs.filter((f) => !/(instanceIds|color)\.png$/.test(basename(f)))
  if (gtFiles.length === 0) {
    throw new EvalError('EVAL_PAIRING', `No ground truth PNG files under ${groundTruthDir}`, {
      dir: groundTruthDir,
    })
  }
  const gtSet = new Set(gtPngs)
  const predFiles = (await listPngs(predictionDir)).filter((f) => !gtSet.has(f))
  const byStem = new Map<string, string[]>()
  const byName = new Map<string, string[]>()
  for (const file of predFiles) {
    const stem = cityscapesStem(file)
    if (stem) byStem.set(stem, [...(byStem.get(stem) ?? []), file])
    byName.set(basename(file), [...(byName.get(basename(file)) ?? []), file])
  }
  const used = new Set<string>()
  const pairs = gtFiles.map((gtFile) => {
    const stem = cityscapesStem(gtFile)
    const candidates = (stem ? byStem.get(stem) : byName.get(basename(gtFile))) ?? []
    const label = relative(groundTruthDir, gtFile)
    if (candidates.length === 0) {
      throw new EvalError(
        'EVAL_PAIRING',
        `Found no prediction for ground truth ${label} (looked for ${stem ? `${stem}*.png` : basename(gtFile)} under ${predictionDir})`,
        { file: gtFile },
      )
    }
    if (candidates.length > 1) {
      throw new EvalError(
        'EVAL_PAIRING',
        `Found ${candidates.length} predictions for ground truth ${label}: ${candidates.map((c) => relative(predictionDir, c)).join(', ')}`,
        { file: gtFile },
      )
    }
    used.add(candidates[0]!)
    const instancesFile = basename(gtFile).includes('labelIds')
      ? join(gtFile, '..', basename(gtFile).replace('labelIds', 'instanceIds'))
      : null
    return {
      name: stem ?? basename(gtFile),
      groundTruthFile: gtFile,
      instancesFile: instancesFile && gtSet.has(instancesFile) ? instancesFile : null,
      predictionFile: candidates[0]!,
    }
  })
  return { pairs, unusedPredictions: predFiles.filter((f) => !used.has(f)) }
}

async function readPng(file: string): Promise<LabelImage> {
  let buffer: Buffer
  try {
    buffer = await readFile(file)
  } catch (error) {
    throw new EvalError('EVAL_READ_FAILED', `Cannot read ${file}: ${(error as Error).message}`, {
      file,
    })
  }
  return decodeLabelPng(buffer, file)
}

export interface CityscapesDirectoryOptions extends CityscapesOptions {
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
  /** Require an instanceIds image for every labelIds image, as the script does (default true). */
  requireInstances?: boolean
}

/** Evaluates a prediction directory against a ground truth directory, image by image. */
export async function evaluateCityscapesDirectories(
  groundTruthDir: string,
  predictionDir: string,
  options: CityscapesDirectoryOptions = {},
): Promise<CityscapesEvaluation & { unusedPredictions: string[] }> {
  const { pairs, unusedPredictions } = await pairCityscapesFiles(groundTruthDir, predictionDir)
  const requireInstances = options.requireInstances ?? true
  if (requireInstances) {
    const missing = pairs.find(
      (p) => basename(p.groundTruthFile).includes('labelIds') && !p.instancesFile,
    )
    if (missing) {
      throw new EvalError(
        'EVAL_PAIRING',
        `No instanceIds image beside ${missing.groundTruthFile} (iIoU needs ${basename(missing.groundTruthFile).replace('labelIds', 'instanceIds')})`,
        { file: missing.groundTruthFile },
      )
    }
  }
  const accumulator = new CityscapesAccumulator(options)
  options.onProgress?.(0, pairs.length)
  // Decode the next pair while the current one is counted.
  const load = (pair: CityscapesPair) =>
    Promise.all([
      readPng(pair.groundTruthFile),
      pair.instancesFile ? readPng(pair.instancesFile) : Promise.resolve(null),
      readPng(pair.predictionFile),
    ])
  let next = pairs.length > 0 ? load(pairs[0]!) : null
  for (let i = 0; i < pairs.length; i++) {
    throwIfAborted(options.signal)
    const pair = pairs[i]!
    const [groundTruth, instances, prediction] = await next!
    next = i + 1 < pairs.length ? load(pairs[i + 1]!) : null
    // A failed prefetch must not surface as an unhandled rejection if we stop here.
    next?.catch(() => undefined)
    accumulator.add({
      name: pair.name,
      groundTruth,
      instances,
      prediction,
      groundTruthFile: pair.groundTruthFile,
      predictionFile: pair.predictionFile,
    })
    options.onProgress?.(i + 1, pairs.length)
  }
  return { ...accumulator.finish(), unusedPredictions }
}
