import fs from 'node:fs'
import path from 'node:path'
import type { Statement } from 'better-sqlite3'
import { AppError } from '../../common/errors'
import type { Db } from '../store/store'
import { storeIoError } from '../store/store'
import { isInside } from '../paths'
import type { ImportContext } from './importTypes'
import { countWithExamples } from './importTypes'
import { probeImages } from './imageProbe'
import { deleteDatasetTask } from './maintenance'

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

const BATCH = 5000

/**
 * Writes one dataset in batched transactions. The dataset row is created with status
 * 'importing', which every query ignores; `finish()` flips it to 'ready' in the same transaction
 * as the derived counts, and `abort()` (cancel, failure) deletes it. Start-up sweeps rows a
 * crash left in 'importing'. So an import is all-or-nothing, yet never holds SQLite's single
 * write lock for more than one batch: the app, the CLI and inference keep writing meanwhile.
 */
export class DatasetWriter {
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

  annotation(a: {
    imageId: number
    sourceId: number
    categoryId: number
    iscrowd: boolean
    area: number
    bbox: readonly [number, number, number, number]
    segmKind: 'none' | 'polygon' | 'rle'
    segmentation: string | null
  }): void {
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
   * Flags image files that are not on disk (researchers often import annotations before copying
   * every image): reported with a count and examples, shown in the grid, never fatal.
   */
  async markMissingFiles(
    ctx: ImportContext,
    root: string,
  ): Promise<{ missing: number; examples: string[]; outside: string[] }> {
    this.commit()
    return checkImageFiles(this.db, this.datasetId, root, ctx.signal, (done, total, missing) =>
      ctx.progress({
        phase: 'Checking image files',
        done,
        total,
        unit: 'images',
        detail: `${missing} missing`,
      }),
    )
  }

  /** Reads image headers (EXIF orientation, colour space) for datasets small enough to do it now. */
  async probe(ctx: ImportContext, root: string, warnings: string[]): Promise<void> {
    this.commit()
    const rows = this.db
      .prepare(
        `SELECT id, file_name, width, height FROM images WHERE dataset_id = ? AND missing = 0`,
      )
      .all(this.datasetId) as { id: number; file_name: string; width: number; height: number }[]
    if (rows.length > PROBE_AT_IMPORT_LIMIT) {
      warnings.push(
        `Image headers (EXIF orientation, colour space) of the ${rows.length.toLocaleString('en-US')} images are read when each is first shown.`,
      )
      return
    }
    const result = await probeImages(this.db, root, rows, ctx.signal, (done) =>
      ctx.progress({
        phase: 'Reading image headers',
        done,
        total: rows.length,
        unit: 'images',
        detail: '',
      }),
    )
    if (result.unreadable.length > 0) {
      warnings.push(
        `${countWithExamples(result.unreadable.length, rows.length, result.unreadable)} image files could not be decoded; they are flagged in the grid.`,
      )
    }
    if (result.sizeMismatch.length > 0) {
      warnings.push(
        `${countWithExamples(result.sizeMismatch.length, rows.length, result.sizeMismatch)} images have a different size on disk than in the annotations.`,
      )
    }
    if (result.oriented.length > 0) {
      warnings.push(
        `${countWithExamples(result.oriented.length, rows.length, result.oriented)} images carry an EXIF orientation; they are shown and run oriented to match their annotations.`,
      )
    }
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
      .prepare('SELECT id FROM images WHERE dataset_id = ? ORDER BY id')
      .pluck()
      .all(id) as number[]
    const perClass = db.prepare(
      `INSERT INTO image_categories (image_id, dataset_id, category_id, annotation_count, pixel_count)
       SELECT image_id, dataset_id, category_id, count(*), 0 FROM live_annotations
       WHERE image_id BETWEEN @lo AND @hi AND dataset_id = @id
       GROUP BY image_id, category_id
       ON CONFLICT (image_id, category_id) DO UPDATE SET annotation_count = excluded.annotation_count`,
    )
    const perImage = db.prepare(
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
      .prepare('SELECT id FROM categories WHERE dataset_id = ?')
      .pluck()
      .all(id) as number[]
    for (const c of classes) db.transaction(() => refreshCategoryCounts(db, id, [c])).immediate()
    db.transaction(() => {
      db.prepare(
        `UPDATE datasets SET status = 'ready',
           image_count = (SELECT count(*) FROM images WHERE dataset_id = @id),
           annotation_count = (SELECT count(*) FROM annotations WHERE dataset_id = @id),
           missing_image_count = (SELECT count(*) FROM images WHERE dataset_id = @id AND missing = 1)
         WHERE id = @id`,
      ).run({ id })
    }).immediate()
  }

  /** Removes everything this import wrote (cancel or failure). */
  async abort(): Promise<void> {
    if (this.#open) {
      try {
        this.db.exec('ROLLBACK')
      } catch {
        // The failed statement may already have ended the transaction.
      }
      this.#open = false
    }
    // In chunks of short transactions, like a removal: a cancelled train2017 import must not
    // hold the write lock for seconds while the app and the CLI wait for it.
    this.db.prepare(`UPDATE datasets SET status = 'deleting' WHERE id = ?`).run(this.datasetId)
    await deleteDatasetTask(
      this.db,
      this.datasetId,
    )({
      signal: new AbortController().signal,
      progress: () => {},
    })
  }
}

export const PROBE_AT_IMPORT_LIMIT = 20_000

/**
 * Stores each class's image and annotation counts with the class, so opening a dataset reads
 * them instead of aggregating image_categories (0.5-0.9 s at train2017 scale). Called when an
 * import finishes; label edits move the counts through triggers on image_categories.
 */
export function refreshCategoryCounts(db: Db, datasetId: number, categoryIds?: number[]): void {
  const stmt = db.prepare(
    `UPDATE categories SET
       image_count = (SELECT count(*) FROM image_categories ic
         WHERE ic.dataset_id = @d AND ic.category_id = categories.id),
       annotation_count = (SELECT coalesce(sum(ic.annotation_count), 0) FROM image_categories ic
         WHERE ic.dataset_id = @d AND ic.category_id = categories.id)
     WHERE dataset_id = @d AND (@c IS NULL OR id = @c)`,
  )
  if (!categoryIds) stmt.run({ d: datasetId, c: null })
  else for (const c of categoryIds) stmt.run({ d: datasetId, c })
}

/**
 * Sets every image's `missing` flag from the disk, both ways (files copied in after the import
 * are found), and the dataset's count. Async file checks in batches: never blocks the loop long.
 */
export async function checkImageFiles(
  db: Db,
  datasetId: number,
  root: string,
  signal: AbortSignal,
  onProgress: (done: number, total: number, missing: number) => void = () => {},
): Promise<{ missing: number; examples: string[]; outside: string[] }> {
  const rows = db
    .prepare(`SELECT id, file_name FROM images WHERE dataset_id = ?`)
    .all(datasetId) as { id: number; file_name: string }[]
  const setMissing = db.prepare('UPDATE images SET missing = ? WHERE id = ? AND missing != ?')
  const examples: string[] = []
  const outside: string[] = []
  let realRoot = root
  try {
    realRoot = await fs.promises.realpath(root)
  } catch {
    // An images folder that is not there: every file is missing.
  }
  let missing = 0
  const step = 2000
  for (let start = 0; start < rows.length; start += step) {
    if (signal.aborted) throw new AppError('CANCELLED', 'Cancelled.')
    const slice = rows.slice(start, start + step)
    // A symbolic link that resolves outside the images folder counts as not there: the media
    // service refuses to serve it, as it refuses `..`.
    const exists = await Promise.all(
      slice.map((r) =>
        fs.promises.realpath(path.join(root, r.file_name)).then(
          (real) => {
            if (isInside(realRoot, real)) return true
            if (outside.length < 5) outside.push(r.file_name)
            return false
          },
          () => false,
        ),
      ),
    )
    db.transaction(() => {
      slice.forEach((r, i) => {
        const gone = exists[i] ? 0 : 1
        if (gone) {
          missing++
          if (examples.length < 5) examples.push(r.file_name)
        }
        setMissing.run(gone, r.id, gone)
      })
    }).immediate()
    onProgress(Math.min(start + step, rows.length), rows.length, missing)
  }
  db.prepare('UPDATE datasets SET missing_image_count = ? WHERE id = ?').run(missing, datasetId)
  return { missing, examples, outside }
}

export function deleteDataset(db: Db, datasetId: number): void {
  // Children first in explicit order: faster than relying on cascades row by row for 860k rows.
  db.transaction(() => {
    db.prepare('DELETE FROM image_categories WHERE dataset_id = ?').run(datasetId)
    db.prepare('DELETE FROM annotations WHERE dataset_id = ?').run(datasetId)
    db.prepare('DELETE FROM datasets WHERE id = ?').run(datasetId)
  })()
}

/**
 * Start-up: datasets a crashed import left behind are removed. An import still running in
 * another live process (a CLI import beside the app) is left alone.
 */
export function sweepUnfinishedImports(db: Db): number {
  const rows = db
    .prepare(`SELECT id, import_pid FROM datasets WHERE status = 'importing'`)
    .all() as {
    id: number
    import_pid: number | null
  }[]
  let swept = 0
  for (const r of rows) {
    if (r.import_pid !== null && r.import_pid !== process.pid && processAlive(r.import_pid))
      continue
    deleteDataset(db, r.id)
    swept++
  }
  return swept
}

/** Whether a process with this pid exists (EPERM: it does, as another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Resolves a file named by an annotation file, refusing names that escape the images folder. */
export function resolveInside(root: string, fileName: string, where: string): string {
  const full = path.resolve(root, fileName)
  if (!isInside(root, full)) {
    throw new AppError(
      'IMPORT_FAILED',
      `${where}: "${fileName}" points outside the images folder ${root}.`,
    )
  }
  return full
}
