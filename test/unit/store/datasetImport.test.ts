// The import writer's store: a dataset is invisible while it is written, its derived counts
// come out right when it is finished, and its checks find annotations of unknown classes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PendingAnnotations } from '../../../src-main/core/store/datasetImport'
import { datasetStore } from '../../../src-main/core/store/datasets'
import type { Db } from '../../../src-main/core/store/store'
import { box, memoryStore, newImport } from '../../helpers/storeRows'

describe('DatasetImportStore', () => {
  let db: Db
  beforeEach(() => (db = memoryStore()))
  afterEach(() => db.close())

  it('writes a dataset hidden until finish(), then ready with its derived counts', () => {
    const w = newImport(db, 'val', { isDemo: true, meta: { from: 'test' } })
    w.category({ id: 1, name: 'cat', supercategory: 'animal', trainId: null, color: [1, 2, 3] })
    w.category({ id: 2, name: 'dog', supercategory: null, trainId: 7, color: [4, 5, 6] })
    const a = w.image(100, 'a.jpg', 4, 3)
    const b = w.image(101, 'b.jpg', 8, 6, 'gt/b_labelIds.png', 'gt/b_instanceIds.png')
    expect(b).toBe(a + 1)
    w.annotation(box(a, 1, 1))
    w.annotation(box(a, 2, 1))
    w.annotation(box(b, 3, 2))
    w.pixelCount(b, 1, 50)
    w.commit()
    const stored = db.prepare('SELECT * FROM datasets WHERE id = ?').get(w.datasetId)
    expect(stored).toMatchObject({
      name: 'val',
      status: 'importing',
      import_pid: process.pid,
      is_demo: 1,
      meta: '{"from":"test"}',
    })
    expect(datasetStore(db).list()).toEqual([])
    expect(w.presentImages()).toEqual([
      { id: a, fileName: 'a.jpg', width: 4, height: 3 },
      { id: b, fileName: 'b.jpg', width: 8, height: 6 },
    ])

    w.finish()
    expect(datasetStore(db).get(w.datasetId)).toMatchObject({
      imageCount: 2,
      annotationCount: 3,
      missingImageCount: 0,
      categoryCount: 2,
      isDemo: true,
    })
    expect(
      db.prepare('SELECT id, annotation_count, semantic_path FROM images ORDER BY id').all(),
    ).toEqual([
      { id: a, annotation_count: 2, semantic_path: null },
      { id: b, annotation_count: 1, semantic_path: 'gt/b_labelIds.png' },
    ])
    expect(
      db
        .prepare(
          'SELECT image_id, category_id, annotation_count, pixel_count FROM image_categories ORDER BY image_id, category_id',
        )
        .all(),
    ).toEqual([
      { image_id: a, category_id: 1, annotation_count: 2, pixel_count: 0 },
      { image_id: b, category_id: 1, annotation_count: 0, pixel_count: 50 },
      { image_id: b, category_id: 2, annotation_count: 1, pixel_count: 0 },
    ])
    expect(datasetStore(db).categories(w.datasetId)).toEqual([
      {
        id: 1,
        name: 'cat',
        supercategory: 'animal',
        trainId: null,
        color: [1, 2, 3],
        annotationCount: 2,
        imageCount: 2,
      },
      {
        id: 2,
        name: 'dog',
        supercategory: null,
        trainId: 7,
        color: [4, 5, 6],
        annotationCount: 1,
        imageCount: 1,
      },
    ])
  })

  it('commits every 5000 rows and rolls back only the open batch', () => {
    const w = newImport(db, 'big')
    for (let k = 0; k < 5003; k++) w.image(k, `${k}.jpg`, 1, 1)
    expect(db.inTransaction).toBe(true)
    w.rollback()
    expect(db.inTransaction).toBe(false)
    expect(db.prepare('SELECT count(*) FROM images').pluck().get()).toBe(5000)
    // Nothing open: a second rollback is a no-op.
    w.rollback()
  })

  it('finds annotations whose class is not in the categories, with examples', () => {
    const w = newImport(db, 'd')
    w.category({ id: 1, name: 'cat', supercategory: null, trainId: null, color: [0, 0, 0] })
    const im = w.image(1, 'a.jpg', 4, 4)
    expect(w.unknownCategories()).toEqual({ examples: [], count: 0 })
    for (let k = 0; k < 7; k++) w.annotation(box(im, 10 + k, k < 6 ? 9 : 1))
    const found = w.unknownCategories()
    expect(found.count).toBe(6)
    expect(found.examples).toHaveLength(5)
    expect(found.examples[0]).toEqual({ id: 10, cat: 9 })
  })

  it('parks annotations in a temporary table, in file order, until closed', () => {
    const pending = new PendingAnnotations(db)
    pending.add(5, '{"id":5}')
    pending.add(2, '{"id":2}')
    expect(pending.all()).toEqual([
      { idx: 2, json: '{"id":2}' },
      { idx: 5, json: '{"id":5}' },
    ])
    pending.close()
    expect(
      db
        .prepare(`SELECT count(*) FROM temp.sqlite_master WHERE name = 'pending_annotations'`)
        .pluck()
        .get(),
    ).toBe(0)
    // A new import starts from an empty table.
    const again = new PendingAnnotations(db)
    expect(again.all()).toEqual([])
    again.close()
  })
})
