/**
 * Writing a run's predictions in the formats the official tools read, so a user can cross-check
 * the studio's numbers with pycocotools or cityscapesScripts.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { labelIdForTrainId } from './cityscapesClasses'
import type { CocoId, CocoResult } from './cocoData'
import { EvalError } from './errors'
import { encodeLabelPng } from './png'
import { type Rle, encodeMask, rleToString } from './rle'

/** One detected object in image coordinates, as the studio holds predictions. */
export interface DetectionPrediction {
  imageId: CocoId
  categoryId: number
  score: number
  /** `[x, y, width, height]`. */
  box: readonly number[]
  /** A binary mask of the whole image: row-major bytes (non-zero = object), or an RLE. */
  mask?: { height: number; width: number; data: Uint8Array } | Rle
}

export interface CocoExportOptions {
  /** Round box coordinates to this many decimals (none by default: rounding moves IoUs). */
  boxDecimals?: number
}

/**
 * A COCO results list (`[{image_id, category_id, bbox, score, segmentation?}]`): masks become
 * compressed RLE exactly as pycocotools' `mask.encode` writes them.
 */
export function toCocoResults(
  predictions: readonly DetectionPrediction[],
  options: CocoExportOptions = {},
): CocoResult[] {
  const round =
    options.boxDecimals === undefined
      ? (v: number) => v
      : (v: number) => Math.round(v * 10 ** options.boxDecimals!) / 10 ** options.boxDecimals!
  return predictions.map((p, index) => {
    const box = p.box
    if (box.length !== 4 || !box.every((v) => Number.isFinite(v)) || box[2]! < 0 || box[3]! < 0) {
      throw new EvalError(
        'EVAL_BAD_BOX',
        `prediction ${index} (image ${String(p.imageId)}) has box ${JSON.stringify(box)}`,
        { index, imageId: p.imageId },
      )
    }
    if (!Number.isFinite(p.score)) {
      throw new EvalError(
        'EVAL_BAD_SCORE',
        `prediction ${index} (image ${String(p.imageId)}) has no finite score`,
        {
          index,
          imageId: p.imageId,
        },
      )
    }
    const result: CocoResult = {
      image_id: p.imageId,
      category_id: p.categoryId,
      bbox: box.map(round),
      score: p.score,
    }
    if (p.mask) {
      const rle =
        'counts' in p.mask
          ? p.mask
          : encodeMask(p.mask.data, p.mask.height, p.mask.width, 'row-major')
      result.segmentation = { size: [rle.height, rle.width], counts: rleToString(rle) }
    }
    return result
  })
}

/** Writes JSON through a temporary file, so a reader never sees half a file. */
export async function writeJsonAtomically(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const temporary = `${path}.${process.pid}.tmp`
  await writeFile(temporary, JSON.stringify(value, null, 2) + '\n')
  await rename(temporary, path)
}

/** One semantic segmentation output: a class id per pixel, row-major. */
export interface SegmentationPrediction {
  /** Output file stem, e.g. `frankfurt_000000_000294` (the Cityscapes stem pairs it with its ground truth). */
  stem: string
  width: number
  height: number
  /** Train ids (0..18, 255 ignore), as mmsegmentation outputs them, unless `ids` says label ids. */
  classes: Uint8Array
}

/** Train ids -> Cityscapes label ids (what the official script reads); throws on other values. */
export function trainIdsToLabelIds(trainIds: Uint8Array, name = 'prediction'): Uint8Array {
  const lut = new Int16Array(256).fill(-1)
  for (let t = 0; t < 256; t++) lut[t] = labelIdForTrainId(t) ?? -1
  const out = new Uint8Array(trainIds.length)
  for (let i = 0; i < trainIds.length; i++) {
    const id = lut[trainIds[i]!]!
    if (id < 0) {
      throw new EvalError(
        'EVAL_LABEL_OUT_OF_SET',
        `${name}: pixel ${i} has value ${trainIds[i]}, not a train id (0-18 or 255)`,
        { index: i, value: trainIds[i] },
      )
    }
    out[i] = id
  }
  return out
}

/**
 * Writes `{dir}/{stem}_gcstudio_labelIds.png` per prediction (label ids, 8-bit greyscale), which
 * the official script (`CITYSCAPES_RESULTS=dir`) and `gcstudio eval cityscapes --pred dir` pair
 * with the ground truth by stem. Returns the written paths.
 */
export async function writeCityscapesLabelPngs(
  predictions: readonly SegmentationPrediction[],
  dir: string,
  options: { ids?: 'train' | 'label' } = {},
): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const written: string[] = []
  for (const p of predictions) {
    if (p.classes.length !== p.width * p.height) {
      throw new EvalError(
        'EVAL_IMAGE_SIZE',
        `${p.stem}: ${p.classes.length} values for a ${p.width}x${p.height} image`,
        { image: p.stem },
      )
    }
    const labelIds =
      (options.ids ?? 'train') === 'train' ? trainIdsToLabelIds(p.classes, p.stem) : p.classes
    if (options.ids === 'label') {
      const bad = labelIds.findIndex((v) => v > 33)
      if (bad >= 0) {
        throw new EvalError(
          'EVAL_LABEL_OUT_OF_SET',
          `${p.stem}: pixel ${bad} has label id ${labelIds[bad]}`,
          {
            image: p.stem,
          },
        )
      }
    }
    const file = join(dir, `${p.stem}_gcstudio_labelIds.png`)
    await writeFile(file, await encodeLabelPng(labelIds, p.width, p.height))
    written.push(file)
  }
  return written
}
