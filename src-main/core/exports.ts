/**
 * A run's predictions in the files the official tools read, so researchers can cross-check the
 * studio's numbers: a COCO results JSON (with the dataset's own image and category ids), or one
 * Cityscapes label-id PNG per image, named by stem.
 */
import fs from 'node:fs'
import path from 'node:path'
import { AppError } from '../common/errors'
import { cityscapesStem, writeJsonAtomically, type CocoResult } from './eval'
import { predictionStore } from './store/predictions'
import type { Db } from './store/store'

/**
 * A run's predictions as COCO results, in file order. `ids`: the dataset file's own image ids
 * (for the official tools) or the store's (for the studio's evaluation). The box rides along
 * with the mask, as mmdet writes segm results (pycocotools then takes the box area for the
 * area ranges of segm detections too).
 */
export function runCocoResults(db: Db, runId: number, ids: 'source' | 'store'): CocoResult[] {
  return predictionStore(db).cocoResults(runId, ids)
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
  const rows = predictionStore(db).labelPngs(runId, onlyWithGroundTruth)
  if (rows.length === 0) throw new AppError('CONFLICT', `Run ${runId} has no label maps to write.`)
  fs.mkdirSync(dir, { recursive: true })
  const stems = new Map<string, number>()
  for (const r of rows) {
    const stem = cityscapesStem(r.fileName) ?? path.basename(r.fileName).replace(/\.[^.]+$/, '')
    stems.set(stem, r.imageId)
    // Stored as label ids already (the run mapped train ids through the dataset's labels).
    fs.writeFileSync(path.join(dir, `${stem}_gcstudio_labelIds.png`), r.png)
  }
  return stems
}
