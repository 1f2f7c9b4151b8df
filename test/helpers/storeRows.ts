import Database from 'better-sqlite3'
import {
  DatasetImportStore,
  type NewAnnotation,
  type NewDataset,
} from '../../src-main/core/store/datasetImport'
import { latestSchemaVersion } from '../../src-main/core/store/migrations'
import { applyMigrations, type Db } from '../../src-main/core/store/store'

/** An in-memory store at the latest schema, foreign keys on. */
export function memoryStore(): Db {
  const db = new Database(':memory:')
  db.pragma('foreign_keys = ON')
  applyMigrations(db, latestSchemaVersion)
  return db
}

/** An import of a COCO dataset named `name` under /data, not finished yet. */
export const newImport = (db: Db, name: string, more: Partial<NewDataset> = {}) =>
  new DatasetImportStore(db, {
    name,
    kind: 'coco',
    split: 'val',
    imagesRoot: `/data/${name}`,
    source: `/data/${name}.json`,
    isDemo: false,
    ...more,
  })

/** A box annotation without a mask. */
export const box = (
  imageId: number,
  sourceId: number,
  categoryId: number,
  more: Partial<NewAnnotation> = {},
): NewAnnotation => ({
  imageId,
  sourceId,
  categoryId,
  iscrowd: false,
  area: 1,
  bbox: [0, 0, 1, 1],
  segmKind: 'none',
  segmentation: null,
  ...more,
})

/**
 * A finished COCO dataset written by the import store: classes 1 and 2, one image per file
 * name, and one class-1 box per image (class 2 too on every third image).
 */
export function importedDataset(db: Db, name: string, fileNames: string[]): number {
  const w = newImport(db, name)
  w.category({ id: 1, name: 'cat', supercategory: null, trainId: null, color: [9, 8, 7] })
  w.category({ id: 2, name: 'dog', supercategory: null, trainId: null, color: [1, 2, 3] })
  let source = 0
  fileNames.forEach((file, k) => {
    const im = w.image(k + 1, file, 4, 3)
    for (const categoryId of k % 3 === 0 ? [1, 2] : [1]) w.annotation(box(im, ++source, categoryId))
  })
  w.finish()
  return w.datasetId
}
