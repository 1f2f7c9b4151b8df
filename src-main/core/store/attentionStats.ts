/**
 * SQL of the attention analytics: what a run's statistics are computed from (its attention maps,
 * geometry, ground truth) and where they are kept (`attention_stats`, `attention_image_stats`).
 * Statements are prepared once per connection; rows are typed here and nowhere else.
 */
import { NOW } from './sql'
import type { AttentionParams, AttentionStats } from '../../common/api/attention'
import type { GcBlockInfo } from '../../common/api'
import type { FrameGeometry, GtObject } from '../attention/grid'
import type { Db } from './store'

export interface RunForAttention {
  id: number
  status: string
  datasetId: number
  datasetKind: 'coco' | 'cityscapes'
  datasetSource: string
  gtVersion: number
  modelName: string
  task: string
  gcBlocks: GcBlockInfo[]
  taps: boolean
  imagesTotal: number
  imagesDone: number
}

export interface StoredMapRow {
  image_id: number
  block_index: number
  height: number
  width: number
  min_value: number
  max_value: number
  data: Buffer
  transform_f16: Buffer | null
  weights_f16: Buffer | null
}

export interface RunImageRow {
  imageId: number
  fileName: string
  width: number
  height: number
  semanticPath: string | null
  geometry: FrameGeometry | null
}

export interface ImageStatRow {
  imageId: number
  block: number
  entropy: number
  top1Mass: number
  inObjectRatio: number | null
  contextMass: number | null
  paddingMass: number
  centroidX: number
  centroidY: number
  dominantClass: number | null
}

interface StatsRow {
  id: number
  run_id: number
  gt_version: number
  params: string
  images: number
  status: AttentionStats['status']
  summary: string | null
  error: string | null
  created_at: string
  finished_at: string | null
}

/** Parameters as one canonical string (keys sorted), the identity of a computation. */
export function paramsKey(p: AttentionParams): string {
  return JSON.stringify({ contextDistance: p.contextDistance })
}

const statements = new WeakMap<Db, ReturnType<typeof prepare>>()

function prepare(db: Db) {
  return {
    run: db.prepare(
      `SELECT r.id, r.status, r.settings, r.images_total, r.dataset_id, d.kind, d.source, d.gt_version,
              m.name AS model_name, m.task, m.card,
              (SELECT count(*) FROM run_images ri WHERE ri.run_id = r.id AND ri.status = 'done') AS done
       FROM runs r JOIN models m ON m.id = r.model_id JOIN datasets d ON d.id = r.dataset_id
       WHERE r.id = ?`,
    ),
    // EXISTS, not count(*): counting would walk every stored map of the run (hundreds of MB).
    hasMaps: db.prepare('SELECT EXISTS (SELECT 1 FROM attention_maps WHERE run_id = ?) AS n'),
    runImages: db.prepare(
      `SELECT ri.image_id AS imageId, i.file_name AS fileName, i.width, i.height,
              i.semantic_path AS semanticPath, ri.meta
       FROM run_images ri JOIN images i ON i.id = ri.image_id
       WHERE ri.run_id = ? AND ri.status = 'done' ORDER BY ri.image_id`,
    ),
    maps: db.prepare(
      `SELECT image_id, block_index, height, width, min_value, max_value, data, transform_f16, weights_f16
       FROM attention_maps WHERE run_id = ? AND image_id = ? ORDER BY block_index`,
    ),
    gridMaps: db.prepare(
      `SELECT image_id, block_index, height, width, min_value, max_value, data
       FROM attention_maps WHERE run_id = ? AND image_id = ?
         AND block_index IN (SELECT value FROM json_each(?)) ORDER BY block_index`,
    ),
    runImageIds: db.prepare(
      `SELECT image_id AS imageId FROM run_images WHERE run_id = ? AND status = 'done' ORDER BY image_id`,
    ),
    transforms: db.prepare(
      `SELECT a.image_id, a.transform_f16, i.file_name FROM attention_maps a JOIN images i ON i.id = a.image_id
       WHERE a.run_id = ? AND a.block_index = ? AND a.transform_f16 IS NOT NULL ORDER BY a.image_id`,
    ),
    objects: db.prepare(
      `SELECT category_id, area, bbox_x, bbox_y, bbox_w, bbox_h, segm_kind, segmentation
       FROM live_annotations WHERE image_id = ?`,
    ),
    categories: db.prepare(
      'SELECT id, name, color FROM categories WHERE dataset_id = ? ORDER BY id',
    ),
    find: db.prepare(
      'SELECT * FROM attention_stats WHERE run_id = ? AND gt_version = ? AND params = ? AND images = ?',
    ),
    latest: db.prepare(
      `SELECT * FROM attention_stats WHERE run_id = ? AND gt_version = ? AND params = ? AND status = 'done'
       ORDER BY images DESC, id DESC LIMIT 1`,
    ),
    get: db.prepare('SELECT * FROM attention_stats WHERE id = ?'),
    insert: db.prepare(
      `INSERT INTO attention_stats (run_id, gt_version, params, images, status) VALUES (?, ?, ?, ?, 'running')
       ON CONFLICT (run_id, gt_version, params, images) DO UPDATE SET status = 'running', error = NULL, summary = NULL
       RETURNING id`,
    ),
    clearImages: db.prepare('DELETE FROM attention_image_stats WHERE stats_id = ?'),
    insertImage: db.prepare(
      `INSERT INTO attention_image_stats (stats_id, image_id, block_index, entropy, top1_mass, in_object_ratio,
         context_mass, padding_mass, centroid_x, centroid_y, dominant_class)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    finish: db.prepare(
      `UPDATE attention_stats SET status = 'done', summary = ?, finished_at = ${NOW} WHERE id = ?`,
    ),
    fail: db.prepare(
      `UPDATE attention_stats SET status = 'failed', error = ?, finished_at = ${NOW} WHERE id = ?`,
    ),
    latestEvaluation: db.prepare(
      `SELECT id, kind FROM evaluations WHERE run_id = ? AND status = 'done'
       ORDER BY CASE kind WHEN 'coco-bbox' THEN 0 WHEN 'cityscapes' THEN 1 ELSE 2 END, id DESC LIMIT 1`,
    ),
    evaluationImages: db.prepare(
      'SELECT image_id AS imageId, ap, tp, fp, fn, miou FROM evaluation_images WHERE evaluation_id = ?',
    ),
    runImage: db.prepare(
      `SELECT ri.image_id AS imageId, i.file_name AS fileName, i.width, i.height,
              i.semantic_path AS semanticPath, ri.meta
       FROM run_images ri JOIN images i ON i.id = ri.image_id
       WHERE ri.run_id = ? AND ri.image_id = ? AND ri.status = 'done'`,
    ),
    dominantOfDataset: db.prepare(
      `SELECT image_id AS imageId, category_id AS categoryId, sum(area) AS area FROM live_annotations
       WHERE dataset_id = ? GROUP BY image_id, category_id`,
    ),
    imagesOfClass: db.prepare(
      `SELECT ri.image_id AS imageId FROM run_images ri JOIN image_categories c ON c.image_id = ri.image_id
       WHERE ri.run_id = ? AND ri.status = 'done' AND c.category_id = ? ORDER BY ri.image_id`,
    ),
  }
}

function q(db: Db) {
  let s = statements.get(db)
  if (!s) {
    s = prepare(db)
    statements.set(db, s)
  }
  return s
}

export function runForAttention(db: Db, runId: number): RunForAttention | null {
  const r = q(db).run.get(runId) as
    | {
        id: number
        status: string
        settings: string
        images_total: number
        dataset_id: number
        kind: 'coco' | 'cityscapes'
        source: string
        gt_version: number
        model_name: string
        task: string
        card: string
        done: number
      }
    | undefined
  if (!r) return null
  return {
    id: r.id,
    status: r.status,
    datasetId: r.dataset_id,
    datasetKind: r.kind,
    datasetSource: r.source,
    gtVersion: r.gt_version,
    modelName: r.model_name,
    task: r.task,
    gcBlocks: (JSON.parse(r.card) as { gcBlocks: GcBlockInfo[] }).gcBlocks,
    taps: (JSON.parse(r.settings) as { taps?: boolean }).taps !== false,
    imagesTotal: r.images_total,
    imagesDone: r.done,
  }
}

export function hasAttentionMaps(db: Db, runId: number): boolean {
  return (q(db).hasMaps.get(runId) as { n: number }).n === 1
}

export function finishedRunImages(db: Db, runId: number): RunImageRow[] {
  const rows = q(db).runImages.all(runId) as (Omit<RunImageRow, 'geometry'> & {
    meta: string | null
  })[]
  return rows.map(({ meta, ...r }) => ({
    ...r,
    geometry: meta ? (JSON.parse(meta) as FrameGeometry) : null,
  }))
}

export function finishedRunImage(db: Db, runId: number, imageId: number): RunImageRow | null {
  const r = q(db).runImage.get(runId, imageId) as
    (Omit<RunImageRow, 'geometry'> & { meta: string | null }) | undefined
  if (!r) return null
  const { meta, ...rest } = r
  return { ...rest, geometry: meta ? (JSON.parse(meta) as FrameGeometry) : null }
}

export function imageMaps(db: Db, runId: number, imageId: number): StoredMapRow[] {
  return q(db).maps.all(runId, imageId) as StoredMapRow[]
}

/** The uint8 maps of some blocks of an image (no weights or transforms): what the grid draws. */
export function imageGridMaps(
  db: Db,
  runId: number,
  imageId: number,
  blocks: number[],
): Omit<StoredMapRow, 'transform_f16' | 'weights_f16'>[] {
  return q(db).gridMaps.all(runId, imageId, JSON.stringify(blocks)) as Omit<
    StoredMapRow,
    'transform_f16' | 'weights_f16'
  >[]
}

export function finishedRunImageIds(db: Db, runId: number): number[] {
  return (q(db).runImageIds.all(runId) as { imageId: number }[]).map((r) => r.imageId)
}

export function blockTransforms(
  db: Db,
  runId: number,
  block: number,
): { image_id: number; transform_f16: Buffer; file_name: string }[] {
  return q(db).transforms.all(runId, block) as {
    image_id: number
    transform_f16: Buffer
    file_name: string
  }[]
}

export function imageObjects(db: Db, imageId: number): GtObject[] {
  const rows = q(db).objects.all(imageId) as {
    category_id: number
    area: number
    bbox_x: number
    bbox_y: number
    bbox_w: number
    bbox_h: number
    segm_kind: GtObject['segmKind']
    segmentation: string | null
  }[]
  return rows.map((r) => ({
    categoryId: r.category_id,
    area: r.area,
    bbox: [r.bbox_x, r.bbox_y, r.bbox_w, r.bbox_h],
    segmKind: r.segm_kind,
    segmentation: r.segmentation,
  }))
}

export function datasetCategories(
  db: Db,
  datasetId: number,
): { id: number; name: string; color: [number, number, number] }[] {
  return (q(db).categories.all(datasetId) as { id: number; name: string; color: string }[]).map(
    (c) => ({ id: c.id, name: c.name, color: parseColor(c.color) }),
  )
}

function parseColor(c: string): [number, number, number] {
  // Stored as a JSON [r, g, b] triple (see datasets/queries.ts).
  return JSON.parse(c) as [number, number, number]
}

function toStats(r: StatsRow, modelName: string): AttentionStats {
  const summary = r.summary ? (JSON.parse(r.summary) as Partial<AttentionStats>) : {}
  return {
    id: r.id,
    runId: r.run_id,
    modelName,
    gtVersion: r.gt_version,
    params: JSON.parse(r.params) as AttentionParams,
    status: r.status,
    images: r.images,
    runImagesTotal: summary.runImagesTotal ?? r.images,
    partial: summary.partial ?? false,
    regions: summary.regions ?? 'none',
    semanticClasses: summary.semanticClasses ?? false,
    notes: summary.notes ?? [],
    blocks: summary.blocks ?? [],
    stages: summary.stages ?? {},
    error: r.error,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
  }
}

/** The stored statistics for exactly this run state, or null. */
export function findStats(
  db: Db,
  run: RunForAttention,
  params: AttentionParams,
): AttentionStats | null {
  const r = q(db).find.get(run.id, run.gtVersion, paramsKey(params), run.imagesDone) as
    StatsRow | undefined
  return r ? toStats(r, run.modelName) : null
}

/** The most complete finished statistics of a run for these parameters and ground truth. */
export function latestStats(
  db: Db,
  run: RunForAttention,
  params: AttentionParams,
): AttentionStats | null {
  const r = q(db).latest.get(run.id, run.gtVersion, paramsKey(params)) as StatsRow | undefined
  return r ? toStats(r, run.modelName) : null
}

export function getStats(db: Db, id: number, modelName: string): AttentionStats | null {
  const r = q(db).get.get(id) as StatsRow | undefined
  return r ? toStats(r, modelName) : null
}

export function beginStats(db: Db, run: RunForAttention, params: AttentionParams): number {
  return (
    q(db).insert.get(run.id, run.gtVersion, paramsKey(params), run.imagesDone) as { id: number }
  ).id
}

/** Writes the per-image rows and the summary in one transaction: a reader sees all or nothing. */
export function saveStats(
  db: Db,
  statsId: number,
  rows: ImageStatRow[],
  summary: Omit<
    AttentionStats,
    | 'id'
    | 'runId'
    | 'modelName'
    | 'gtVersion'
    | 'params'
    | 'status'
    | 'images'
    | 'error'
    | 'createdAt'
    | 'finishedAt'
  >,
): void {
  const s = q(db)
  db.transaction(() => {
    s.clearImages.run(statsId)
    for (const r of rows)
      s.insertImage.run(
        statsId,
        r.imageId,
        r.block,
        r.entropy,
        r.top1Mass,
        r.inObjectRatio,
        r.contextMass,
        r.paddingMass,
        r.centroidX,
        r.centroidY,
        r.dominantClass,
      )
    s.finish.run(JSON.stringify(summary), statsId)
  })()
}

export function failStats(db: Db, statsId: number, message: string): void {
  q(db).fail.run(message, statsId)
}

const ORDER_COLUMNS = {
  entropy: 'entropy',
  top1Mass: 'top1_mass',
  inObjectRatio: 'in_object_ratio',
  contextMass: 'context_mass',
} as const

export function imageStats(
  db: Db,
  statsId: number,
  block: number,
  order: keyof typeof ORDER_COLUMNS,
  direction: 'asc' | 'desc',
  limit: number,
) {
  const col = ORDER_COLUMNS[order]
  // The column comes from the fixed table above, never from the request's text.
  return db
    .prepare(
      `SELECT s.image_id AS imageId, i.file_name AS fileName, s.block_index AS block, s.entropy,
              s.top1_mass AS top1Mass, s.in_object_ratio AS inObjectRatio, s.context_mass AS contextMass,
              s.dominant_class AS dominantClass
       FROM attention_image_stats s JOIN images i ON i.id = s.image_id
       WHERE s.stats_id = ? AND s.block_index = ?
       ORDER BY s.${col} IS NULL, s.${col} ${direction === 'asc' ? 'ASC' : 'DESC'}, s.image_id LIMIT ?`,
    )
    .all(statsId, block, limit) as {
    imageId: number
    fileName: string
    block: number
    entropy: number
    top1Mass: number
    inObjectRatio: number | null
    contextMass: number | null
    dominantClass: number | null
  }[]
}

/** Per image of a dataset, the class with the largest annotated area (ties: lower id). */
export function dominantClasses(db: Db, datasetId: number): Map<number, number> {
  const rows = q(db).dominantOfDataset.all(datasetId) as {
    imageId: number
    categoryId: number
    area: number
  }[]
  const best = new Map<number, { id: number; area: number }>()
  for (const r of rows) {
    const b = best.get(r.imageId)
    if (!b || r.area > b.area || (r.area === b.area && r.categoryId < b.id))
      best.set(r.imageId, { id: r.categoryId, area: r.area })
  }
  return new Map([...best].map(([image, b]) => [image, b.id]))
}

/** Per image of the run's latest evaluation: AP (or mIoU) and whether it was all right. */
export function evaluationOutcomes(
  db: Db,
  runId: number,
): Map<number, { score: number | null; correct: boolean | null }> | null {
  const e = q(db).latestEvaluation.get(runId) as { id: number; kind: string } | undefined
  if (!e) return null
  const rows = q(db).evaluationImages.all(e.id) as {
    imageId: number
    ap: number | null
    tp: number | null
    fp: number | null
    fn: number | null
    miou: number | null
  }[]
  return new Map(
    rows.map((r) => [
      r.imageId,
      e.kind === 'cityscapes'
        ? { score: r.miou, correct: r.miou === null ? null : r.miou >= 0.5 }
        : {
            score: r.ap,
            correct: r.fp === null || r.fn === null ? null : r.fp === 0 && r.fn === 0,
          },
    ]),
  )
}

export function runImagesOfClass(db: Db, runId: number, categoryId: number): number[] {
  return (q(db).imagesOfClass.all(runId, categoryId) as { imageId: number }[]).map((r) => r.imageId)
}
