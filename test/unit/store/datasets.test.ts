// The datasets store: only ready datasets are seen (lists, lookups by id or name, renames),
// the import and removal handlers see every status, and a removal takes every row hanging
// from the dataset with it, foreign keys restored after.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { datasetStore } from '../../../src-main/core/store/datasets'
import type { Db } from '../../../src-main/core/store/store'
import { importedDataset, memoryStore, newImport } from '../../helpers/storeRows'

const imported = (db: Db, name: string, images = 2) =>
  importedDataset(
    db,
    name,
    Array.from({ length: images }, (_, k) => `${k}.jpg`),
  )

const count = (db: Db, table: string) =>
  db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number

describe('DatasetStore', () => {
  let db: Db
  beforeEach(() => (db = memoryStore()))
  afterEach(() => db.close())

  it('lists and gets the ready datasets only, newest first, with their counts', () => {
    const a = imported(db, 'a', 3)
    const b = imported(db, 'b')
    const half = newImport(db, 'half', { kind: 'cityscapes' }).datasetId
    const store = datasetStore(db)
    expect(store.list().map((d) => d.id)).toEqual([b, a])
    const got = store.get(a)!
    expect(got).toEqual({
      id: a,
      name: 'a',
      kind: 'coco',
      split: 'val',
      imagesRoot: '/data/a',
      source: '/data/a.json',
      imageCount: 3,
      // Image 0 holds a dog besides its cat.
      annotationCount: 4,
      missingImageCount: 0,
      categoryCount: 2,
      gtVersion: 1,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      isDemo: false,
    })
    expect(store.get(half)).toBeNull()
    expect(store.state(half)).toEqual({
      id: half,
      name: 'half',
      status: 'importing',
      importPid: process.pid,
    })
    expect(store.inStatus('importing').map((d) => d.id)).toEqual([half])
    expect(store.gtVersion(a)).toBe(1)
    expect(store.gtVersion(half)).toBeUndefined()
    // One instance per connection.
    expect(datasetStore(db)).toBe(store)
  })

  it('finds datasets by id or exact name, and renames only visible ones', () => {
    const a = imported(db, 'coco val')
    const b = imported(db, 'coco val')
    const c = imported(db, String(a))
    const store = datasetStore(db)
    expect(store.idsNamed('coco val').sort()).toEqual([a, b])
    // "1" is dataset 1's id and dataset c's name.
    expect(store.idsNamed(String(a)).sort()).toEqual([a, c])
    expect(store.idsNamed('nothing')).toEqual([])
    expect(store.rename(b, 'coco val 2')).toBe(true)
    expect(store.get(b)!.name).toBe('coco val 2')
    expect(store.names()).toEqual(
      expect.arrayContaining([
        { id: a, name: 'coco val' },
        { id: b, name: 'coco val 2' },
      ]),
    )
    store.markDeleting(c, 4321)
    expect(store.rename(c, 'x')).toBe(false)
    expect(store.rename(999, 'x')).toBe(false)
    expect(store.idsNamed(String(a))).toEqual([a])
    expect(store.names().map((d) => d.id)).not.toContain(c)
  })

  it('hides a dataset marked for deletion, and a new process can claim it', () => {
    const a = imported(db, 'a')
    const store = datasetStore(db)
    store.markDeleting(a, 111)
    expect(store.list()).toEqual([])
    expect(store.inStatus('deleting')).toEqual([
      { id: a, name: 'a', status: 'deleting', importPid: 111 },
    ])
    store.claim(a, 222)
    expect(store.state(a)!.importPid).toBe(222)
  })

  it('stores the missing count and refreshes class counts from image_categories', () => {
    const a = imported(db, 'a', 4)
    const store = datasetStore(db)
    store.setMissingCount(a, 3)
    expect(store.get(a)!.missingImageCount).toBe(3)
    db.prepare('UPDATE categories SET image_count = 0, annotation_count = 0').run()
    store.refreshCategoryCounts(a, [1])
    expect(store.categories(a)[0]).toMatchObject({ imageCount: 4, annotationCount: 4 })
    db.prepare('UPDATE categories SET image_count = 0, annotation_count = 0').run()
    store.refreshCategoryCounts(a)
    expect(store.categories(a)[0]).toMatchObject({ imageCount: 4, annotationCount: 4 })
  })

  it('removes a dataset in chunks with everything that references it, then restores foreign keys', () => {
    const a = imported(db, 'a', 5)
    const b = imported(db, 'b', 2)
    const ids = db
      .prepare('SELECT id FROM images WHERE dataset_id = ? ORDER BY id')
      .pluck()
      .all(a) as number[]
    // A child of images: with foreign keys off no cascade fires, so the schema walk removes it.
    db.prepare(
      `INSERT INTO label_operations (dataset_id, image_id, kind, source, stack, gt_version, summary)
       VALUES (?, ?, 'edit', 'hand', 'undo', 1, 'moved a box')`,
    ).run(a, ids[0])
    const store = datasetStore(db)
    store.markDeleting(a, process.pid)
    const restore = store.pauseForeignKeys()
    expect(db.pragma('foreign_keys', { simple: true })).toBe(0)
    store.removeImages(a, ids[0]!, ids[2]!)
    expect(count(db, 'images')).toBe(4)
    store.removeImages(a, ids[3]!, ids[4]!)
    store.removeRest(a)
    restore()
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1)
    expect(store.state(a)).toBeNull()
    expect(count(db, 'label_operations')).toBe(0)
    expect(db.prepare('SELECT DISTINCT dataset_id FROM images').pluck().all()).toEqual([b])
    expect(db.prepare('SELECT DISTINCT dataset_id FROM annotations').pluck().all()).toEqual([b])
    expect(db.prepare('SELECT DISTINCT dataset_id FROM categories').pluck().all()).toEqual([b])
    expect(db.prepare('SELECT DISTINCT dataset_id FROM image_categories').pluck().all()).toEqual([
      b,
    ])
    expect(db.pragma('foreign_key_check')).toEqual([])
  })

  it('removes what an unfinished import wrote in one go', () => {
    const w = newImport(db, 'half')
    w.category({ id: 1, name: 'cat', supercategory: null, trainId: null, color: [0, 0, 0] })
    w.pixelCount(w.image(1, 'a.jpg', 1, 1), 1, 1)
    w.commit()
    datasetStore(db).removeImportRows(w.datasetId)
    for (const t of ['datasets', 'images', 'categories', 'image_categories'])
      expect(count(db, t)).toBe(0)
  })
})
