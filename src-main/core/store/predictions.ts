/**
 * The predictions and semantic_outputs tables: a run's detections (boxes, masks as COCO RLE
 * strings) and label maps (PNG of dataset category ids), one image at a time as results come
 * in, read back for the viewer, the COCO results file and the Cityscapes label PNGs.
 */
import type { CocoResult } from '../eval/cocoData'
import { perDb } from './sql'
import type { Db } from './store'

/** One detection as stored (its category mapped to the dataset's). */
export interface StoredDetection {
  categoryId: number
  score: number
  /** [x, y, w, h] in image pixels. */
  bbox: [number, number, number, number]
  /** COCO compressed RLE of the full-image mask, when the model predicts masks. */
  maskRle: string | null
}

/** A prediction's columns as SQL returns them. */
export interface RawDetection {
  category_id: number
  score: number
  bbox_x: number
  bbox_y: number
  bbox_w: number
  bbox_h: number
  mask_rle: string | null
}

interface RawCocoRow extends RawDetection {
  id: number
  source_id: number
  width: number
  height: number
}

/** A label map of a run, with the image it belongs to. */
export interface LabelPng {
  imageId: number
  fileName: string
  png: Buffer
}

export class PredictionStore {
  readonly #delete
  readonly #insert
  readonly #insertSemantic
  readonly #forImage
  readonly #semantic
  readonly #coco
  readonly #labelPngs
  readonly #labelPngsWithGroundTruth

  constructor(db: Db) {
    this.#delete = db.prepare<[number, number]>(
      'DELETE FROM predictions WHERE run_id = ? AND image_id = ?',
    )
    this.#insert = db.prepare<
      [number, number, number, number, number, number, number, number, string | null, number]
    >(
      `INSERT INTO predictions (run_id, image_id, category_id, score, bbox_x, bbox_y, bbox_w, bbox_h, mask_rle, area) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.#insertSemantic = db.prepare<[number, number, Buffer]>(
      `INSERT OR REPLACE INTO semantic_outputs (run_id, image_id, png) VALUES (?, ?, ?)`,
    )
    this.#forImage = db.prepare<[number, number], RawDetection>(
      'SELECT category_id, score, bbox_x, bbox_y, bbox_w, bbox_h, mask_rle FROM predictions WHERE run_id = ? AND image_id = ? ORDER BY score DESC',
    )
    this.#semantic = db
      .prepare<[number, number], Buffer>(
        'SELECT png FROM semantic_outputs WHERE run_id = ? AND image_id = ?',
      )
      .pluck()
    this.#coco = db.prepare<[number], RawCocoRow>(
      `SELECT i.id, i.source_id, i.width, i.height, p.category_id, p.score, p.bbox_x, p.bbox_y, p.bbox_w, p.bbox_h, p.mask_rle
       FROM predictions p JOIN images i ON i.id = p.image_id WHERE p.run_id = ? ORDER BY p.id`,
    )
    const labelPngs = (where: string) =>
      db.prepare<[number], { imageId: number; fileName: string; png: Buffer }>(
        `SELECT i.id AS imageId, i.file_name AS fileName, s.png FROM semantic_outputs s JOIN images i ON i.id = s.image_id
         WHERE s.run_id = ? ${where} ORDER BY i.id`,
      )
    this.#labelPngs = labelPngs('')
    this.#labelPngsWithGroundTruth = labelPngs('AND i.semantic_path IS NOT NULL')
  }

  /**
   * Writes an image's results, replacing what an earlier attempt stored: its detections, and
   * its label map when the model makes one. Callers group images in one transaction.
   */
  replaceImage(
    runId: number,
    imageId: number,
    detections: readonly (StoredDetection & { area: number })[],
    semanticPng: Uint8Array | null,
  ): void {
    this.#delete.run(runId, imageId)
    for (const d of detections)
      this.#insert.run(
        runId,
        imageId,
        d.categoryId,
        d.score,
        d.bbox[0],
        d.bbox[1],
        d.bbox[2],
        d.bbox[3],
        d.maskRle,
        d.area,
      )
    if (semanticPng) this.#insertSemantic.run(runId, imageId, Buffer.from(semanticPng))
  }

  /** An image's detections, best first. */
  forImage(runId: number, imageId: number): StoredDetection[] {
    return this.#forImage.all(runId, imageId).map((p) => ({
      categoryId: p.category_id,
      score: p.score,
      bbox: [p.bbox_x, p.bbox_y, p.bbox_w, p.bbox_h],
      maskRle: p.mask_rle,
    }))
  }

  /** An image's label map, when the run made one. */
  semanticPng(runId: number, imageId: number): Buffer | null {
    return this.#semantic.get(runId, imageId) ?? null
  }

  /**
   * A run's detections as COCO results, in the order they were stored. `ids`: the dataset
   * file's own image ids (for the official tools) or the store's. The box rides along with the
   * mask, as mmdet writes segm results.
   */
  cocoResults(runId: number, ids: 'source' | 'store'): CocoResult[] {
    return this.#coco.all(runId).map((r) => ({
      image_id: ids === 'source' ? r.source_id : r.id,
      category_id: r.category_id,
      bbox: [r.bbox_x, r.bbox_y, r.bbox_w, r.bbox_h],
      score: r.score,
      ...(r.mask_rle
        ? { segmentation: { size: [r.height, r.width] as [number, number], counts: r.mask_rle } }
        : {}),
    }))
  }

  /** A run's label maps by image id; only of images with ground truth when asked. */
  labelPngs(runId: number, onlyWithGroundTruth: boolean): LabelPng[] {
    return (onlyWithGroundTruth ? this.#labelPngsWithGroundTruth : this.#labelPngs).all(runId)
  }
}

export const predictionStore = perDb((db: Db) => new PredictionStore(db))
