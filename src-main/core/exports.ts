/**
 * A run's predictions in the files the official tools read, so researchers can cross-check the
 * studio's numbers: a COCO results JSON (with the dataset's own image and category ids), or one
 * Cityscapes label-id PNG per image, named by stem.
 */
import fs from 'node:fs'
import path from 'node:path'
import { AppError } from '../common/errors'
import { cityscapesStem, writeJsonAtomically, type CocoResult } from './eval'
import type { Db } from './store/store'

/**
 * A run's predictions as COCO results, in file order. `ids`: the dataset file's own image ids
 * (for the official tools) or the store's (for the studio's evaluation). The box rides along
 * with the mask, as mmdet writes segm results (pycocotools then takes the box area for the
 * area ranges of segm detections too).
 */
export function runCocoResults(db: Db, runId: number, ids: 'source' | 'store'): CocoResult[] {
  const rows = db
    .prepare(
      `SELECT i.id, i.source_id, i.width, i.height, p.category_id, p.score, p.bbox_x, p.bbox_y, p.bbox_w, p.bbox_h, p.mask_rle
       FROM predictions p JOIN images i ON i.id = p.image_id WHERE p.run_id = ? ORDER BY p.id`,
    )
    .all(runId) as {
    id: number
    source_id: number
    width: number
    height: number
    category_id: number
    score: number
    bbox_x: number
    bbox_y: number
    bbox_w: number
    bbox_h: number
    mask_rle: string | null
  }[]
  return rows.map((r) => ({
    image_id: ids === 'source' ? r.source_id : r.id,
    category_id: r.category_id,
    bbox: [r.bbox_x, r.bbox_y, r.bbox_w, r.bbox_h],
    score: r.score,
    ...(r.mask_rle
      ? { segmentation: { size: [r.height, r.width] as [number, number], counts: r.mask_rle } }
      : {}),
  })) as CocoResult[]
}

export async function exportCocoResults(db: Db, runId: number, file: string): Promise<number> {
  const results = runCocoResults(db, runId, 'source')
  await writeJsonAtomically(file, results)
  return results.length
}

/** Writes `{stem}_gcstudio_labelIds.png` for each image of a run; returns stem -> image id. */
export function writeRunLabelPngs(
  db: Db,
  runId: number,
  dir: string,
  onlyWithGroundTruth = false,
): Map<string, number> {
  const rows = db
    .prepare(
      `SELECT i.id, i.file_name, s.png FROM semantic_outputs s JOIN images i ON i.id = s.image_id
       WHERE s.run_id = ? ${onlyWithGroundTruth ? 'AND i.semantic_path IS NOT NULL' : ''} ORDER BY i.id`,
    )
    .all(runId) as { id: number; file_name: string; png: Buffer }[]
  if (rows.length === 0) throw new AppError('CONFLICT', `Run ${runId} has no label maps to write.`)
  fs.mkdirSync(dir, { recursive: true })
  const stems = new Map<string, number>()
  for (const r of rows) {
    const stem = cityscapesStem(r.file_name) ?? path.basename(r.file_name).replace(/\.[^.]+$/, '')
    stems.set(stem, r.id)
    // Stored as label ids already (the run mapped train ids through the dataset's labels).
    fs.writeFileSync(path.join(dir, `${stem}_gcstudio_labelIds.png`), r.png)
  }
  return stems
}
