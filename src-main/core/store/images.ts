/**
 * The images and image_categories tables: pages of the grid with their filters, an image's
 * detail and file, the missing/unreadable flags and the header probe written when a file is
 * first read. Pages are ordered by row id, which is the annotation file's order.
 */
import type { Statement } from 'better-sqlite3'
import type { ImageSummary } from '../../common/api'
import { LIVE_DATASETS, perDb } from './sql'
import type { Db } from './store'

/** What reading an image file's header found (stored as JSON in `images.probe`). */
export interface ImageProbe {
  format: string | null
  space: string | null
  channels: number | null
  /** Pixel size as stored, before EXIF orientation. */
  storedWidth: number
  storedHeight: number
  /**
   * Whether to apply the EXIF orientation when showing or running this image. Annotation tools
   * label what they display, so annotations are normally in the oriented frame; when the
   * annotation file's width/height match the stored (unrotated) size of a 90-degree orientation,
   * the annotations were made on the raw pixels and the orientation must be ignored.
   */
  applyOrientation: boolean
  /** Served as-is when the browser can show it and nothing needs converting. */
  passthrough: boolean
  error?: string
}

/** An image of a visible dataset with what it takes to find and decode its file. */
export interface ImageFile {
  id: number
  datasetId: number
  fileName: string
  width: number
  height: number
  missing: boolean
  /** Null until the file's header was read. */
  probe: ImageProbe | null
  imagesRoot: string
  /** The dataset's source (Cityscapes root), which `semanticPath` is relative to. */
  source: string
  semanticPath: string | null
}

/** An image to check on disk or read the header of. */
export interface ImageOnDisk {
  id: number
  fileName: string
  width: number
  height: number
  missing: boolean
}

/** The grid's general filter; the fast paths have methods of their own. */
export interface ImageFilter {
  datasetId: number
  categoryIds?: readonly number[]
  /** Substring of the file name, case-insensitive (LIKE); trimmed and non-empty. */
  search?: string
  missingOnly?: boolean
  beforeId?: number
  onlyId?: number
  limit: number
  offset: number
}

interface RawSummary {
  id: number
  dataset_id: number
  file_name: string
  width: number
  height: number
  annotation_count: number
  missing: number
  unreadable: number
}

interface RawDetail extends RawSummary {
  orientation: number | null
  semantic_path: string | null
}

interface RawFile {
  id: number
  dataset_id: number
  file_name: string
  width: number
  height: number
  missing: number
  probe: string | null
  images_root: string
  source: string
  semantic_path: string | null
}

interface RawOnDisk {
  id: number
  file_name: string
  width: number
  height: number
  missing: number
}

const toSummary = (r: RawSummary): ImageSummary => ({
  id: r.id,
  datasetId: r.dataset_id,
  fileName: r.file_name,
  width: r.width,
  height: r.height,
  annotationCount: r.annotation_count,
  missing: r.missing === 1,
  unreadable: r.unreadable === 1,
})

const toFile = (r: RawFile): ImageFile => ({
  id: r.id,
  datasetId: r.dataset_id,
  fileName: r.file_name,
  width: r.width,
  height: r.height,
  missing: r.missing === 1,
  probe: r.probe ? (JSON.parse(r.probe) as ImageProbe) : null,
  imagesRoot: r.images_root,
  source: r.source,
  semanticPath: r.semantic_path,
})

const toOnDisk = (r: RawOnDisk): ImageOnDisk => ({
  id: r.id,
  fileName: r.file_name,
  width: r.width,
  height: r.height,
  missing: r.missing === 1,
})

const SUMMARY = `i.id, i.dataset_id, i.file_name, i.width, i.height, i.annotation_count, i.missing,
  json_extract(i.probe, '$.error') IS NOT NULL AS unreadable`

/** How many filter-shaped statements an ImageStore keeps prepared. */
const SHAPED_KEPT = 64

/** Named parameters `@c0, @c1, ...` for a list of classes, and their values. */
function classParams(classes: readonly number[], params: Record<string, unknown>): string {
  classes.forEach((c, k) => (params[`c${k}`] = c))
  return classes.map((_, k) => `@c${k}`).join(', ')
}

export class ImageStore {
  #byIds
  #range
  #shape
  #detail
  #classes
  #file
  #names
  #ids
  #onDisk
  #setMissing
  #setProbe
  #setProbeRead
  /** Statements whose text depends on the filter's shape (how many classes, which filters). */
  #shaped = new Map<string, Statement>()

  constructor(readonly db: Db) {
    this.#byIds = db.prepare<[string], RawSummary>(
      `SELECT ${SUMMARY} FROM images i WHERE i.id IN (SELECT value FROM json_each(?)) ORDER BY i.id`,
    )
    this.#range = db.prepare<[number, number], RawSummary>(
      `SELECT ${SUMMARY} FROM images i WHERE i.id BETWEEN ? AND ? ORDER BY i.id`,
    )
    this.#shape = db.prepare<[number], { n: number; first: number | null; last: number | null }>(
      // Two index probes (min and max of the (dataset_id, id) index), not a scan.
      `SELECT d.image_count AS n,
         (SELECT min(id) FROM images WHERE dataset_id = d.id) AS first,
         (SELECT max(id) FROM images WHERE dataset_id = d.id) AS last
       FROM ${LIVE_DATASETS} d WHERE d.id = ?`,
    )
    this.#detail = db.prepare<[number], RawDetail>(
      `SELECT ${SUMMARY}, i.orientation, i.semantic_path
       FROM images i JOIN ${LIVE_DATASETS} d ON d.id = i.dataset_id WHERE i.id = ?`,
    )
    this.#classes = db.prepare<
      [number],
      { categoryId: number; annotationCount: number; pixelCount: number }
    >(
      `SELECT category_id AS categoryId, annotation_count AS annotationCount, pixel_count AS pixelCount
       FROM image_categories WHERE image_id = ? ORDER BY pixel_count DESC, annotation_count DESC`,
    )
    this.#file = db.prepare<[number], RawFile>(
      `SELECT i.id, i.dataset_id, i.file_name, i.width, i.height, i.missing, i.probe, d.images_root, d.source, i.semantic_path
       FROM images i JOIN ${LIVE_DATASETS} d ON d.id = i.dataset_id WHERE i.id = ?`,
    )
    this.#names = db
      .prepare<[number], [number, string]>(
        'SELECT id, file_name FROM images WHERE dataset_id = ? ORDER BY id',
      )
      .raw()
    this.#ids = db
      .prepare<[number], number>('SELECT id FROM images WHERE dataset_id = ? ORDER BY id')
      .pluck()
    this.#onDisk = db.prepare<[number], RawOnDisk>(
      'SELECT id, file_name, width, height, missing FROM images WHERE dataset_id = ? ORDER BY id',
    )
    this.#setMissing = db.prepare<[number, number, number]>(
      'UPDATE images SET missing = ? WHERE id = ? AND missing != ?',
    )
    this.#setProbe = db.prepare<[number | null, string, number]>(
      'UPDATE images SET orientation = ?, probe = ? WHERE id = ?',
    )
    this.#setProbeRead = db.prepare<[number | null, string, number]>(
      'UPDATE images SET orientation = ?, probe = ?, missing = 0 WHERE id = ?',
    )
  }

  /** The images with these ids, in id order. */
  byIds(ids: readonly number[]): ImageSummary[] {
    return ids.length === 0 ? [] : this.#byIds.all(JSON.stringify(ids)).map(toSummary)
  }

  /** The images with ids `first..last`, in id order (a primary-key range). */
  range(first: number, last: number): ImageSummary[] {
    return this.#range.all(first, last).map(toSummary)
  }

  /**
   * A visible dataset's stored image count and its first and last image ids: an import writes
   * its images under consecutive ids, so when `last - first + 1 = n`, row k is id `first + k`.
   */
  shape(datasetId: number): { n: number; first: number | null; last: number | null } | undefined {
    return this.#shape.get(datasetId)
  }

  /** How many images hold one of `classes` (the (dataset, class, image) index alone). */
  classCount(datasetId: number, classes: readonly number[]): number {
    const params: Record<string, unknown> = { d: datasetId }
    const inList = classParams(classes, params)
    return this.#statement(
      classes.length === 1
        ? `SELECT count(*) FROM image_categories WHERE dataset_id = @d AND category_id = @c0`
        : `SELECT count(DISTINCT image_id) FROM image_categories WHERE dataset_id = @d AND category_id IN (${inList})`,
    )
      .pluck()
      .get(params) as number
  }

  /** One page of the ids of the images holding one of `classes`, in id order. */
  classPage(
    datasetId: number,
    classes: readonly number[],
    limit: number,
    offset: number,
  ): number[] {
    const params: Record<string, unknown> = { d: datasetId, limit, offset }
    const inList = classParams(classes, params)
    return this.#statement(
      classes.length === 1
        ? `SELECT image_id FROM image_categories WHERE dataset_id = @d AND category_id = @c0
           ORDER BY image_id LIMIT @limit OFFSET @offset`
        : `SELECT DISTINCT image_id FROM image_categories WHERE dataset_id = @d AND category_id IN (${inList})
           ORDER BY image_id LIMIT @limit OFFSET @offset`,
    )
      .pluck()
      .all(params) as number[]
  }

  /**
   * One page of the images matching `f` and how many match: the general path of the grid. The
   * class filter goes through image_categories (one row per image and class, indexed by dataset
   * and class) rather than annotations.
   */
  filtered(f: ImageFilter): { total: number; items: ImageSummary[] } {
    const where = ['i.dataset_id = @datasetId']
    const params: Record<string, unknown> = {
      datasetId: f.datasetId,
      limit: f.limit,
      offset: f.offset,
    }
    if (f.categoryIds && f.categoryIds.length > 0) {
      where.push(
        `i.id IN (SELECT ic.image_id FROM image_categories ic WHERE ic.dataset_id = @datasetId AND ic.category_id IN (${classParams(f.categoryIds, params)}))`,
      )
    }
    if (f.search) {
      where.push(`i.file_name LIKE @search ESCAPE '\\'`)
      params.search = `%${f.search.replace(/[\\%_]/g, (m) => '\\' + m)}%`
    }
    if (f.missingOnly) where.push('i.missing = 1')
    if (f.beforeId !== undefined) {
      where.push('i.id < @beforeId')
      params.beforeId = f.beforeId
    }
    if (f.onlyId !== undefined) {
      where.push('i.id = @onlyId')
      params.onlyId = f.onlyId
    }
    const clause = where.join(' AND ')
    const total = this.#statement(`SELECT count(*) AS n FROM images i WHERE ${clause}`)
      .pluck()
      .get(params) as number
    const items = this.#statement(
      `SELECT ${SUMMARY} FROM images i WHERE ${clause} ORDER BY i.id LIMIT @limit OFFSET @offset`,
    ).all(params) as RawSummary[]
    return { total, items: items.map(toSummary) }
  }

  /** An image of a visible dataset, with its orientation and whether it has a semantic map. */
  detail(id: number): (ImageSummary & { orientation: number | null; hasSemantic: boolean }) | null {
    const row = this.#detail.get(id)
    return row
      ? { ...toSummary(row), orientation: row.orientation, hasSemantic: row.semantic_path !== null }
      : null
  }

  /** The classes in an image: annotation counts, and pixel counts from a semantic map. */
  classes(imageId: number): { categoryId: number; annotationCount: number; pixelCount: number }[] {
    return this.#classes.all(imageId)
  }

  /** An image of a visible dataset and where its file is. */
  file(id: number): ImageFile | null {
    const row = this.#file.get(id)
    return row ? toFile(row) : null
  }

  /** Every image's id and file name, in id order, as [id, fileName] pairs. */
  names(datasetId: number): [number, string][] {
    return this.#names.all(datasetId)
  }

  ids(datasetId: number): number[] {
    return this.#ids.all(datasetId)
  }

  /** Every image of a dataset with its annotated size and missing flag, in id order. */
  onDisk(datasetId: number): ImageOnDisk[] {
    return this.#onDisk.all(datasetId).map(toOnDisk)
  }

  /** Sets an image's missing flag (a no-op write when it is already so). */
  setMissing(id: number, missing: boolean): void {
    const m = missing ? 1 : 0
    this.#setMissing.run(m, id, m)
  }

  /** Stores what reading the file's header found (at import). */
  setProbe(id: number, orientation: number | null, probe: ImageProbe): void {
    this.#setProbe.run(orientation, JSON.stringify(probe), id)
  }

  /** Stores a header read when the image was first shown; its file is there after all. */
  setProbeRead(id: number, orientation: number | null, probe: ImageProbe): void {
    this.#setProbeRead.run(orientation, JSON.stringify(probe), id)
  }

  #statement(sql: string): Statement {
    let s = this.#shaped.get(sql)
    if (!s) {
      s = this.db.prepare(sql)
      this.#shaped.set(sql, s)
      // Filters come in a handful of shapes; a bound keeps odd class lists from piling up.
      if (this.#shaped.size > SHAPED_KEPT) this.#shaped.delete(this.#shaped.keys().next().value!)
    }
    return s
  }
}

export const imageStore = perDb((db: Db) => new ImageStore(db))
