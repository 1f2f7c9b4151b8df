/**
 * The bulk writes of one import: a dataset row, its images, annotations, categories and pixel
 * counts, written in batched transactions with statements prepared once per import, then the
 * derived counts and the flip to 'ready'. Also the temporary table a COCO import parks
 * annotations in when they come before their image in the file.
 */
import type { Statement } from 'better-sqlite3'
import { datasetStore } from './datasets'
import { storeIoError, type Db } from './store'

export interface NewDataset {
  name: string
  kind: 'coco' | 'cityscapes'
  split: string | null
  imagesRoot: string
  source: string
  isDemo: boolean
  meta?: Record<string, unknown>
}

export interface CategoryRow {
  id: number
  name: string
  supercategory: string | null
  trainId: number | null
  color: readonly [number, number, number]
}

export interface NewAnnotation {
  imageId: number
  sourceId: number
  categoryId: number
  iscrowd: boolean
  area: number
  bbox: readonly [number, number, number, number]
  segmKind: 'none' | 'polygon' | 'rle'
  segmentation: string | null
}

/** Rows per write transaction; also the images per chunk of the derived counts. */
const BATCH = 5000

/**
 * Writes one dataset in batched transactions. The dataset row is created with status
 * 'importing', which every reader ignores (`live_datasets`); `finish()` flips it to 'ready' in
 * the same transaction as the derived counts. So an import is all-or-nothing, yet never holds
 * SQLite's single write lock for more than one batch: the app, the CLI and inference keep
 * writing meanwhile.
 */
export class DatasetImportStore {
  readonly datasetId: number
  #pending = 0
  #open = false
  #insertImage: Statement
  #insertAnnotation: Statement
  #insertCategory: Statement
  #insertImageCategory: Statement

  constructor(
    readonly db: Db,
    dataset: NewDataset,
  ) {
    try {
      const info = db
        .prepare(
          `INSERT INTO datasets (name, kind, split, images_root, source, status, import_pid, is_demo, meta)
           VALUES (?, ?, ?, ?, ?, 'importing', ?, ?, ?)`,
        )
        .run(
          dataset.name,
          dataset.kind,
          dataset.split,
          dataset.imagesRoot,
          dataset.source,
          process.pid,
          dataset.isDemo ? 1 : 0,
          JSON.stringify(dataset.meta ?? {}),
        )
      this.datasetId = Number(info.lastInsertRowid)
    } catch (err) {
      throw storeIoError(err, db.name)
    }
    this.#insertImage = db.prepare(
      `INSERT INTO images (dataset_id, source_id, file_name, width, height, semantic_path, instance_path)
       VALUES (${this.datasetId}, ?, ?, ?, ?, ?, ?)`,
    )
    this.#insertAnnotation = db.prepare(
      `INSERT INTO annotations (dataset_id, image_id, source_id, category_id, iscrowd, area,
         bbox_x, bbox_y, bbox_w, bbox_h, segm_kind, segmentation)
       VALUES (${this.datasetId}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.#insertCategory = db.prepare(
      `INSERT INTO categories (dataset_id, id, name, supercategory, train_id, color)
       VALUES (${this.datasetId}, ?, ?, ?, ?, ?)`,
    )
    this.#insertImageCategory = db.prepare(
      `INSERT INTO image_categories (image_id, dataset_id, category_id, annotation_count, pixel_count)
       VALUES (?, ${this.datasetId}, ?, 0, ?)
       ON CONFLICT (image_id, category_id) DO UPDATE SET pixel_count = excluded.pixel_count`,
    )
  }

  #tick(): void {
    if (!this.#open) {
      // IMMEDIATE: take the write lock up front (waiting out the busy timeout) rather than
      // failing with SQLITE_BUSY when a read transaction cannot be upgraded.
      this.db.exec('BEGIN IMMEDIATE')
      this.#open = true
    }
    if (++this.#pending >= BATCH) this.commit()
  }

  commit(): void {
    if (this.#open) {
      this.db.exec('COMMIT')
      this.#open = false
      this.#pending = 0
    }
  }

  /** Drops the batch not yet committed (cancel or failure). */
  rollback(): void {
    if (!this.#open) return
    try {
      this.db.exec('ROLLBACK')
    } catch {
      // The failed statement may already have ended the transaction.
    }
    this.#open = false
    this.#pending = 0
  }

  image(
    sourceId: number,
    fileName: string,
    width: number,
    height: number,
    semanticPath: string | null = null,
    instancePath: string | null = null,
  ): number {
    this.#tick()
    return Number(
      this.#insertImage.run(sourceId, fileName, width, height, semanticPath, instancePath)
        .lastInsertRowid,
    )
  }

  annotation(a: NewAnnotation): void {
    this.#tick()
    this.#insertAnnotation.run(
      a.imageId,
      a.sourceId,
      a.categoryId,
      a.iscrowd ? 1 : 0,
      a.area,
      a.bbox[0],
      a.bbox[1],
      a.bbox[2],
      a.bbox[3],
      a.segmKind,
      a.segmentation,
    )
  }

  category(c: CategoryRow): void {
    this.#tick()
    this.#insertCategory.run(c.id, c.name, c.supercategory, c.trainId, JSON.stringify(c.color))
  }

  pixelCount(imageId: number, categoryId: number, pixels: number): void {
    this.#tick()
    this.#insertImageCategory.run(imageId, categoryId, pixels)
  }

  /**
   * Annotations whose category id is not among the dataset's categories: up to five examples
   * (source annotation id and category id) and how many there are.
   */
  unknownCategories(): { examples: { id: number; cat: number }[]; count: number } {
    this.commit()
    const orphan = `FROM annotations a WHERE a.dataset_id = ?
      AND NOT EXISTS (SELECT 1 FROM categories c WHERE c.dataset_id = a.dataset_id AND c.id = a.category_id)`
    const examples = this.db
      .prepare<[number], { id: number; cat: number }>(
        `SELECT a.source_id AS id, a.category_id AS cat ${orphan} LIMIT 5`,
      )
      .all(this.datasetId)
    const count =
      examples.length === 0
        ? 0
        : this.db
            .prepare<[number], number>(`SELECT count(*) ${orphan}`)
            .pluck()
            .get(this.datasetId)!
    return { examples, count }
  }

  /** The images this import wrote that are not flagged missing, for reading their headers. */
  presentImages(): { id: number; fileName: string; width: number; height: number }[] {
    this.commit()
    return this.db
      .prepare<[number], { id: number; fileName: string; width: number; height: number }>(
        `SELECT id, file_name AS fileName, width, height FROM images WHERE dataset_id = ? AND missing = 0`,
      )
      .all(this.datasetId)
  }

  /**
   * Derived counts, computed in chunks of images (each a short transaction: the rows are still
   * invisible), then the 'ready' flip in one short transaction. One transaction over 400k
   * annotations held SQLite's write lock for seconds, and the app's writes timed out meanwhile.
   */
  finish(): void {
    this.commit()
    const id = this.datasetId
    const db = this.db
    const ids = db
      .prepare<[number], number>('SELECT id FROM images WHERE dataset_id = ? ORDER BY id')
      .pluck()
      .all(id)
    const perClass = db.prepare<{ id: number; lo: number; hi: number }>(
      `INSERT INTO image_categories (image_id, dataset_id, category_id, annotation_count, pixel_count)
       SELECT image_id, dataset_id, category_id, count(*), 0 FROM live_annotations
       WHERE image_id BETWEEN @lo AND @hi AND dataset_id = @id
       GROUP BY image_id, category_id
       ON CONFLICT (image_id, category_id) DO UPDATE SET annotation_count = excluded.annotation_count`,
    )
    const perImage = db.prepare<{ id: number; lo: number; hi: number }>(
      `UPDATE images SET annotation_count = c.n
       FROM (SELECT image_id, count(*) AS n FROM annotations
             WHERE image_id BETWEEN @lo AND @hi AND dataset_id = @id GROUP BY image_id) AS c
       WHERE images.id = c.image_id`,
    )
    for (let k = 0; k < ids.length; k += BATCH) {
      const range = { id, lo: ids[k]!, hi: ids[Math.min(k + BATCH, ids.length) - 1]! }
      db.transaction(() => {
        perClass.run(range)
        perImage.run(range)
      }).immediate()
    }
    const classes = db
      .prepare<[number], number>('SELECT id FROM categories WHERE dataset_id = ?')
      .pluck()
      .all(id)
    const datasets = datasetStore(db)
    for (const c of classes)
      db.transaction(() => datasets.refreshCategoryCounts(id, [c])).immediate()
    db.transaction(() => {
      db.prepare<{ id: number }>(
        `UPDATE datasets SET status = 'ready',
           image_count = (SELECT count(*) FROM images WHERE dataset_id = @id),
           annotation_count = (SELECT count(*) FROM annotations WHERE dataset_id = @id),
           missing_image_count = (SELECT count(*) FROM images WHERE dataset_id = @id AND missing = 1)
         WHERE id = @id`,
      ).run({ id })
    }).immediate()
  }
}

/**
 * A COCO import's parking place for annotations listed before their image: a temporary table
 * on the import's connection, dropped by `close()`.
 */
export class PendingAnnotations {
  #insert: Statement<[number, string]>

  constructor(readonly db: Db) {
    db.exec(
      `CREATE TEMP TABLE IF NOT EXISTS pending_annotations (idx INTEGER NOT NULL, json TEXT NOT NULL)`,
    )
    db.exec('DELETE FROM temp.pending_annotations')
    this.#insert = db.prepare('INSERT INTO temp.pending_annotations (idx, json) VALUES (?, ?)')
  }

  add(index: number, json: string): void {
    this.#insert.run(index, json)
  }

  /** The parked annotations in file order. */
  all(): { idx: number; json: string }[] {
    return this.db
      .prepare<[], { idx: number; json: string }>(
        'SELECT idx, json FROM temp.pending_annotations ORDER BY idx',
      )
      .all()
  }

  close(): void {
    try {
      this.db.exec('DROP TABLE IF EXISTS temp.pending_annotations')
    } catch {
      // The connection may be closing.
    }
  }
}
