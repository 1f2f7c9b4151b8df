import type { Category, Dataset, ImageDetail, ImageQuery, ImageSummary } from '../../common/api'
import { AppError } from '../../common/errors'
import type { Db } from '../store/store'
import { segmentationForApi } from './segmentation'
import type { BrowseCache } from './browseCache'

interface DatasetRow {
  id: number
  name: string
  kind: 'coco' | 'cityscapes'
  split: string | null
  images_root: string
  source: string
  image_count: number
  annotation_count: number
  missing_image_count: number
  gt_version: number
  created_at: string
  is_demo: number
  category_count: number
}

const datasetColumns = `d.id, d.name, d.kind, d.split, d.images_root, d.source, d.image_count, d.annotation_count,
  d.missing_image_count, d.gt_version, d.created_at, d.is_demo,
  (SELECT count(*) FROM categories c WHERE c.dataset_id = d.id) AS category_count`

const toDataset = (r: DatasetRow): Dataset => ({
  id: r.id,
  name: r.name,
  kind: r.kind,
  split: r.split,
  imagesRoot: r.images_root,
  source: r.source,
  imageCount: r.image_count,
  annotationCount: r.annotation_count,
  missingImageCount: r.missing_image_count,
  categoryCount: r.category_count,
  gtVersion: r.gt_version,
  createdAt: r.created_at,
  isDemo: r.is_demo === 1,
})

export function listDatasets(db: Db): Dataset[] {
  const rows = db
    .prepare(`SELECT ${datasetColumns} FROM datasets d WHERE d.status = 'ready' ORDER BY d.id DESC`)
    .all() as DatasetRow[]
  return rows.map(toDataset)
}

export function getDataset(db: Db, id: number): Dataset {
  const row = db
    .prepare(`SELECT ${datasetColumns} FROM datasets d WHERE d.id = ? AND d.status = 'ready'`)
    .get(id) as DatasetRow | undefined
  if (!row) throw new AppError('NOT_FOUND', `Dataset ${id} does not exist.`)
  return toDataset(row)
}

export function getCategories(db: Db, datasetId: number): Category[] {
  const rows = db
    .prepare(
      // Counts are stored with the class (refreshCategoryCounts): no aggregate on this path.
      `SELECT c.id, c.name, c.supercategory, c.train_id, c.color, c.annotation_count, c.image_count
       FROM categories c WHERE c.dataset_id = ? ORDER BY c.id`,
    )
    .all(datasetId) as {
    id: number
    name: string
    supercategory: string | null
    train_id: number | null
    color: string
    annotation_count: number
    image_count: number
  }[]
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    supercategory: r.supercategory,
    trainId: r.train_id,
    color: JSON.parse(r.color) as [number, number, number],
    annotationCount: r.annotation_count,
    imageCount: r.image_count,
  }))
}

export function renameDataset(db: Db, id: number, name: string): Dataset {
  getDataset(db, id)
  db.prepare('UPDATE datasets SET name = ? WHERE id = ?').run(name, id)
  return getDataset(db, id)
}

interface ImageRow {
  id: number
  dataset_id: number
  file_name: string
  width: number
  height: number
  annotation_count: number
  missing: number
  unreadable: number
}

const toImage = (r: ImageRow): ImageSummary => ({
  id: r.id,
  datasetId: r.dataset_id,
  fileName: r.file_name,
  width: r.width,
  height: r.height,
  annotationCount: r.annotation_count,
  missing: r.missing === 1,
  unreadable: r.unreadable === 1,
})

/**
 * One page of the grid. The class filter goes through image_categories (one row per image and
 * class, indexed by dataset and class) rather than annotations; pages are ordered by row id,
 * which is the file's order.
 */
export function queryImages(
  db: Db,
  q: Required<Pick<ImageQuery, 'datasetId'>> & ImageQuery & { beforeId?: number; onlyId?: number },
  /** The studio's cache: enables the fast paths (the results are the same without it). */
  cache?: BrowseCache,
): { total: number; items: ImageSummary[] } {
  const search = q.search?.trim() ?? ''
  const limit = q.limit ?? 200
  const offset = q.offset ?? 0
  const classes = q.categoryIds ?? []
  const byIds = (page: number[]): ImageSummary[] =>
    page.length === 0
      ? []
      : (
          db
            .prepare(
              `SELECT i.id, i.dataset_id, i.file_name, i.width, i.height, i.annotation_count, i.missing,
                 json_extract(i.probe, '$.error') IS NOT NULL AS unreadable
               FROM images i WHERE i.id IN (SELECT value FROM json_each(?)) ORDER BY i.id`,
            )
            .all(JSON.stringify(page)) as ImageRow[]
        ).map(toImage)
  const plain = !q.missingOnly && q.beforeId === undefined && q.onlyId === undefined
  if (cache && plain && search !== '' && classes.length === 0) {
    // File-name search alone: the match list comes from the in-memory name scan, the page is
    // a primary-key lookup.
    const ids = cache.search(db, q.datasetId, search)
    return { total: ids.length, items: byIds(Array.from(ids.subarray(offset, offset + limit))) }
  }
  if (cache && plain && search === '' && classes.length === 0) {
    // The whole dataset: its size is stored, and an import writes its images under consecutive
    // ids, so row n is id first + n; no count and no OFFSET walk over 100k index entries.
    const shape = db
      .prepare(
        // Two index probes (min and max of the (dataset_id, id) index), not a scan.
        `SELECT d.image_count AS n,
           (SELECT min(id) FROM images WHERE dataset_id = d.id) AS first,
           (SELECT max(id) FROM images WHERE dataset_id = d.id) AS last
         FROM datasets d WHERE d.id = ?`,
      )
      .get(q.datasetId) as { n: number; first: number | null; last: number | null }
    if (shape.first !== null && shape.last! - shape.first + 1 === shape.n) {
      const rows = db
        .prepare(
          `SELECT i.id, i.dataset_id, i.file_name, i.width, i.height, i.annotation_count, i.missing,
             json_extract(i.probe, '$.error') IS NOT NULL AS unreadable
           FROM images i WHERE i.id BETWEEN ? AND ? ORDER BY i.id`,
        )
        .all(shape.first + offset, shape.first + offset + limit - 1) as ImageRow[]
      return { total: shape.n, items: rows.map(toImage) }
    }
  }
  if (cache && plain && search === '' && classes.length > 0) {
    // A class filter: the page comes from the (dataset, class, image) index alone, the total
    // once per ground-truth version.
    const inList = classes.map((_, k) => `@c${k}`).join(', ')
    const params: Record<string, unknown> = { d: q.datasetId, limit, offset }
    classes.forEach((c, k) => (params[`c${k}`] = c))
    const total = cache.classTotal(db, q.datasetId, classes, () =>
      classes.length === 1
        ? (db
            .prepare(
              `SELECT count(*) FROM image_categories WHERE dataset_id = @d AND category_id = @c0`,
            )
            .pluck()
            .get(params) as number)
        : (db
            .prepare(
              `SELECT count(DISTINCT image_id) FROM image_categories WHERE dataset_id = @d AND category_id IN (${inList})`,
            )
            .pluck()
            .get(params) as number),
    )
    const page = db
      .prepare(
        classes.length === 1
          ? `SELECT image_id FROM image_categories WHERE dataset_id = @d AND category_id = @c0
             ORDER BY image_id LIMIT @limit OFFSET @offset`
          : `SELECT DISTINCT image_id FROM image_categories WHERE dataset_id = @d AND category_id IN (${inList})
             ORDER BY image_id LIMIT @limit OFFSET @offset`,
      )
      .pluck()
      .all(params) as number[]
    return { total, items: byIds(page) }
  }
  const where = ['i.dataset_id = @datasetId']
  const params: Record<string, unknown> = { datasetId: q.datasetId, limit, offset }
  if (q.categoryIds && q.categoryIds.length > 0) {
    where.push(
      `i.id IN (SELECT ic.image_id FROM image_categories ic WHERE ic.dataset_id = @datasetId AND ic.category_id IN (${q.categoryIds.map((_, k) => `@c${k}`).join(', ')}))`,
    )
    q.categoryIds.forEach((c, k) => (params[`c${k}`] = c))
  }
  if (search !== '') {
    where.push(`i.file_name LIKE @search ESCAPE '\\'`)
    params.search = `%${search.replace(/[\\%_]/g, (m) => '\\' + m)}%`
  }
  if (q.missingOnly) where.push('i.missing = 1')
  if (q.beforeId !== undefined) {
    where.push('i.id < @beforeId')
    params.beforeId = q.beforeId
  }
  if (q.onlyId !== undefined) {
    where.push('i.id = @onlyId')
    params.onlyId = q.onlyId
  }
  const clause = where.join(' AND ')
  const total = (
    db.prepare(`SELECT count(*) AS n FROM images i WHERE ${clause}`).get(params) as { n: number }
  ).n
  const items = db
    .prepare(
      `SELECT i.id, i.dataset_id, i.file_name, i.width, i.height, i.annotation_count, i.missing,
         json_extract(i.probe, '$.error') IS NOT NULL AS unreadable
       FROM images i WHERE ${clause} ORDER BY i.id LIMIT @limit OFFSET @offset`,
    )
    .all(params) as ImageRow[]
  return { total, items: items.map(toImage) }
}

/** Where `imageId` stands in the filtered, id-ordered list of `queryImages`, and its length. */
export function locateImage(
  db: Db,
  q: Required<Pick<ImageQuery, 'datasetId'>> & ImageQuery & { imageId: number },
  names?: BrowseCache,
): { index: number | null; total: number } {
  const { imageId, ...filter } = q
  const search = filter.search?.trim() ?? ''
  if (names && search !== '' && !filter.missingOnly && !(filter.categoryIds?.length ?? 0)) {
    const ids = names.search(db, filter.datasetId, search)
    let lo = 0
    let hi = ids.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (ids[mid]! < imageId) lo = mid + 1
      else hi = mid
    }
    return { index: ids[lo] === imageId ? lo : null, total: ids.length }
  }
  const { total } = queryImages(db, { ...filter, limit: 1, offset: 0 })
  const before = queryImages(db, { ...filter, limit: 1, offset: 0, beforeId: imageId })
  const self = queryImages(db, { ...filter, limit: 1, offset: 0, onlyId: imageId })
  return { index: self.total === 1 ? before.total : null, total }
}

export function getImage(db: Db, id: number): ImageDetail {
  const row = db
    .prepare(
      `SELECT i.id, i.dataset_id, i.file_name, i.width, i.height, i.annotation_count, i.missing,
         json_extract(i.probe, '$.error') IS NOT NULL AS unreadable, i.orientation, i.semantic_path
       FROM images i JOIN datasets d ON d.id = i.dataset_id WHERE i.id = ? AND d.status = 'ready'`,
    )
    .get(id) as
    (ImageRow & { orientation: number | null; semantic_path: string | null }) | undefined
  if (!row) throw new AppError('NOT_FOUND', `Image ${id} does not exist.`)
  const anns = db
    .prepare(
      `SELECT id, source_id, image_id, category_id, iscrowd, area, bbox_x, bbox_y, bbox_w, bbox_h, segm_kind, segmentation
       FROM live_annotations WHERE image_id = ? ORDER BY id`,
    )
    .all(id) as {
    id: number
    source_id: number
    image_id: number
    category_id: number
    iscrowd: number
    area: number
    bbox_x: number
    bbox_y: number
    bbox_w: number
    bbox_h: number
    segm_kind: string
    segmentation: string | null
  }[]
  const classes = db
    .prepare(
      `SELECT category_id AS categoryId, annotation_count AS annotationCount, pixel_count AS pixelCount
       FROM image_categories WHERE image_id = ? ORDER BY pixel_count DESC, annotation_count DESC`,
    )
    .all(id) as { categoryId: number; annotationCount: number; pixelCount: number }[]
  return {
    ...toImage(row),
    orientation: row.orientation,
    hasSemantic: row.semantic_path !== null,
    classes,
    annotations: anns.map((a) => ({
      id: a.id,
      sourceId: a.source_id,
      imageId: a.image_id,
      categoryId: a.category_id,
      iscrowd: a.iscrowd === 1,
      area: a.area,
      bbox: [a.bbox_x, a.bbox_y, a.bbox_w, a.bbox_h],
      segmentation: segmentationForApi(a.segm_kind, a.segmentation),
    })),
  }
}
