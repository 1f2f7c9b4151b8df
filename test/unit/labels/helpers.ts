/**
 * A small COCO dataset for the label-editing tests, imported by the real importer into a real
 * store: two 64x48 grey images, a car (polygon) and a toothbrush (polygon) on each, plus a crowd
 * RLE on image 2; categories car (3), cat (17), toothbrush (90).
 */
import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { Studio } from '../../../src-main/core/studio'
import { GREY, rectCounts, tempDir } from '../../helpers/fixtures'
import type { Db } from '../../../src-main/core/store/store'

export const W = 64
export const H = 48

export async function labelDataset(studio: Studio): Promise<{ datasetId: number; gtFile: string }> {
  const dir = tempDir()
  fs.mkdirSync(path.join(dir, 'images'))
  for (const f of ['one.png', 'two.png']) {
    await sharp({
      create: { width: W, height: H, channels: 3, background: { r: GREY, g: GREY, b: GREY } },
    })
      .png()
      .toFile(path.join(dir, 'images', f))
  }
  const car = (id: number, image: number, x: number, y: number) => ({
    id,
    image_id: image,
    category_id: 3,
    iscrowd: 0,
    area: 64,
    bbox: [x, y, 16, 16],
    segmentation: [[x + 4, y + 4, x + 12, y + 4, x + 12, y + 12, x + 4, y + 12]],
  })
  const brush = (id: number, image: number) => ({
    id,
    image_id: image,
    category_id: 90,
    iscrowd: 0,
    area: 64,
    bbox: [24, 4, 8, 8],
    segmentation: [[24, 4, 32, 4, 32, 12, 24, 12]],
  })
  const doc = {
    images: [
      { id: 1, file_name: 'one.png', width: W, height: H },
      { id: 2, file_name: 'two.png', width: W, height: H },
    ],
    annotations: [
      car(1, 1, 4, 4),
      brush(2, 1),
      car(3, 2, 40, 28),
      brush(4, 2),
      {
        id: 7,
        image_id: 2,
        category_id: 3,
        iscrowd: 1,
        area: 40,
        bbox: [0, 30, 8, 5],
        segmentation: { size: [H, W], counts: rectCounts(W, H, 0, 30, 8, 5) },
      },
    ],
    categories: [
      { id: 3, name: 'car', supercategory: 'vehicle' },
      { id: 17, name: 'cat', supercategory: 'animal' },
      { id: 90, name: 'toothbrush', supercategory: 'indoor' },
    ],
  }
  const gtFile = path.join(dir, 'gt.json')
  fs.writeFileSync(gtFile, JSON.stringify(doc))
  const job = studio.jobs.startImport({
    kind: 'coco',
    annotations: gtFile,
    images: path.join(dir, 'images'),
  })
  const end = await studio.jobs.settled(job.id)
  if (end.datasetId === null) throw new Error(`import failed: ${end.error?.message}`)
  return { datasetId: end.datasetId, gtFile }
}

export async function call<T>(studio: Studio, method: string, input: unknown): Promise<T> {
  const r = await studio.dispatch(method, input)
  if (!r.ok) throw Object.assign(new Error(`${r.error.code}: ${r.error.message}`), r.error)
  return r.value as T
}

/**
 * Every row the ground truth of a dataset is made of, as SQLite stores it (`quote()` keeps the
 * exact bytes of reals and text): annotations, per-image class counts, image and dataset counts.
 */
export function groundTruthRows(db: Db, datasetId: number): string[] {
  const q = (sql: string) => (db.prepare(sql).all(datasetId) as { r: string }[]).map((row) => row.r)
  return [
    ...q(
      `SELECT quote(id)||','||quote(image_id)||','||quote(source_id)||','||quote(category_id)||','||quote(iscrowd)||','||quote(area)||','||quote(bbox_x)||','||quote(bbox_y)||','||quote(bbox_w)||','||quote(bbox_h)||','||quote(segm_kind)||','||quote(segmentation)||','||quote(deleted) AS r FROM annotations WHERE dataset_id = ? ORDER BY id`,
    ),
    ...q(
      `SELECT 'ic '||image_id||','||category_id||','||annotation_count||','||pixel_count AS r FROM image_categories WHERE dataset_id = ? ORDER BY image_id, category_id`,
    ),
    ...q(
      `SELECT 'im '||id||','||annotation_count AS r FROM images WHERE dataset_id = ? ORDER BY id`,
    ),
    ...q(`SELECT 'ds '||annotation_count||','||image_count AS r FROM datasets WHERE id = ?`),
  ]
}

export function imageIds(db: Db, datasetId: number): number[] {
  return (
    db.prepare('SELECT id FROM images WHERE dataset_id = ? ORDER BY id').all(datasetId) as {
      id: number
    }[]
  ).map((r) => r.id)
}
