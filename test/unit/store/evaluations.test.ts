// The evaluations migration (3) on a store holding data from before it, and the store modules of
// evaluations (EvaluationStore) and of what evaluations and comparisons read of other tables
// (EvaluationInputStore), on real rows.
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { evaluationInputStore } from '../../../src-main/core/store/evaluationInputs'
import { type EvaluationKey, evaluationStore } from '../../../src-main/core/store/evaluations'
import { migrations } from '../../../src-main/core/store/migrations'
import { applyMigrations, openStore, type Db } from '../../../src-main/core/store/store'
import { tempDir } from '../../helpers/fixtures'

const evaluationsMigration = migrations.find((m) => m.name === 'evaluations')!

/** A dataset (3 images, 2 classes, one crowd and one soft-deleted annotation), a model and a run. */
function seed(db: Db): void {
  db.exec(`
    INSERT INTO datasets (id, name, kind, images_root, source, status, gt_version)
      VALUES (1, 'demo', 'coco', '/d/images', '/d', 'ready', 2);
    INSERT INTO categories (dataset_id, id, name, supercategory, color)
      VALUES (1, 1, 'person', 'human', '#f00'), (1, 3, 'car', NULL, '#0f0');
    INSERT INTO images (id, dataset_id, source_id, file_name, width, height, semantic_path, instance_path)
      VALUES (10, 1, 100, 'a.jpg', 640, 480, 'gt/a_labelIds.png', NULL),
             (11, 1, 101, 'b.jpg', 320, 240, 'gt/b_labelIds.png', 'gt/b_instanceIds.png'),
             (12, 1, 102, 'c.jpg', 100, 100, NULL, NULL);
    INSERT INTO annotations (id, dataset_id, image_id, source_id, category_id, iscrowd, area,
        bbox_x, bbox_y, bbox_w, bbox_h, segm_kind, segmentation, deleted)
      VALUES (20, 1, 10, 200, 1, 0, 50, 1, 2, 10, 5, 'polygon', '[[1,2,11,2,11,7]]', 0),
             (21, 1, 10, 201, 3, 1, 80, 0, 0, 8, 10, 'rle', '{"size":[480,640],"counts":"abc","extra":1}', 0),
             (22, 1, 11, 202, 3, 0, 30, 5, 5, 6, 5, 'none', NULL, 0),
             (23, 1, 11, 203, 1, 0, 9, 0, 0, 3, 3, 'none', NULL, 1);
    INSERT INTO models (id, sha256, name, task, format, path, source, file_size, file_mtime, config, card)
      VALUES (1, 'abc', 'gc r4', 'instance_segmentation', 'onnx', '/m.onnx', '/m.onnx', 1, 0, '{}', '{}');
    INSERT INTO runs (id, model_id, dataset_id, settings, status, execution_provider, images_total, images_done)
      VALUES (5, 1, 1, '{}', 'done', 'cpu', 3, 2);
    INSERT INTO run_images (run_id, image_id, status, inference_ms)
      VALUES (5, 10, 'done', 12.5), (5, 11, 'done', NULL), (5, 12, 'error', 3);
    INSERT INTO predictions (id, run_id, image_id, category_id, score, bbox_x, bbox_y, bbox_w, bbox_h, mask_rle)
      VALUES (30, 5, 10, 1, 0.9, 1, 2, 10, 5, NULL), (31, 5, 11, 3, 0.4, 5, 5, 6, 5, 'xyz');
  `)
}

const key: EvaluationKey = { runId: 5, datasetId: 1, gtVersion: 2, kind: 'coco-bbox' }
const summary = (ap: number) => ({
  primaryMetric: ap,
  imageCount: 2,
  metricsJson: JSON.stringify({
    stats: [ap],
    confusion: { scoreThreshold: 0.5, labels: [1, 'background'] },
  }),
  warningsJson: JSON.stringify(['one image skipped']),
})
/** A done coco-bbox evaluation of `key` as listed (times aside). */
const doneHead = (id: number, primaryMetric: number) => ({
  id,
  ...key,
  status: 'done',
  primaryMetric,
  imageCount: 2,
  error: null,
})
const image = (imageId: number, ap: number | null, fp: number) => ({
  imageId,
  ap,
  ap50: ap,
  tp: 1,
  fp,
  fn: 0,
  miou: null,
  detailsJson: JSON.stringify({ maxScore: ap, confusion: [[0, 0, 1]], categories: [1] }),
})

const open: Db[] = []
afterEach(() => {
  for (const db of open.splice(0)) db.close()
})
function fullStore(): Db {
  const db = openStore(tempDir())
  open.push(db)
  seed(db)
  return db
}

const everyTable = (db: Db): Record<string, unknown[]> =>
  Object.fromEntries(
    db
      .prepare<[], string>(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
      .pluck()
      .all()
      .map((t) => [t, db.prepare(`SELECT * FROM ${t}`).all()]),
  )

describe('migration 3 (evaluations)', () => {
  it('carries every row written at version 2, and an evaluation written at 3 reads back', () => {
    const db = new Database(':memory:')
    open.push(db)
    db.pragma('foreign_keys = ON')
    applyMigrations(db, evaluationsMigration.version - 1)
    seed(db)
    const before = everyTable(db)
    expect(before.predictions).toHaveLength(2)

    expect(applyMigrations(db, evaluationsMigration.version)).toBe(3)
    const after = everyTable(db)
    for (const [table, rows] of Object.entries(before)) expect(after[table], table).toEqual(rows)
    expect(db.prepare('SELECT name, gt_version FROM datasets').get()).toEqual({
      name: 'demo',
      gt_version: 2,
    })
    expect(db.pragma('foreign_key_check')).toEqual([])

    const store = evaluationStore(db)
    const id = store.saveDone(key, summary(0.4), [{ categoryId: 1, ap: 0.4 }], [image(10, 0.4, 2)])
    expect(store.get(id)).toMatchObject({
      ...doneHead(id, 0.4),
      metrics: { stats: [0.4] },
      categories: [{ categoryId: 1, ap: 0.4 }],
      warnings: ['one image skipped'],
    })
    expect(store.images(id, 'ap', 'asc', 0, 10)).toEqual([
      { imageId: 10, fileName: 'a.jpg', ap: 0.4, ap50: 0.4, tp: 1, fp: 2, fn: 0, miou: null },
    ])
  })
})

describe('EvaluationStore', () => {
  it('is one instance per connection', () => {
    const db = fullStore()
    expect(evaluationStore(db)).toBe(evaluationStore(db))
  })

  it('stores a complete evaluation, lists it and reads it back parsed', () => {
    const db = fullStore()
    const store = evaluationStore(db)
    expect(store.list()).toEqual([])
    const id = store.saveDone(
      key,
      summary(0.3),
      [{ categoryId: 3 }],
      [image(10, 0.5, 1), image(11, null, 4)],
    )
    const segm = store.saveDone(
      { ...key, kind: 'coco-segm' },
      summary(0.2),
      [],
      [image(10, 0.1, 0)],
    )
    expect(store.list().map((e) => [e.id, e.kind])).toEqual([
      [segm, 'coco-segm'],
      [id, 'coco-bbox'],
    ])
    expect(store.list(5).map((e) => e.id)).toEqual([segm, id])
    expect(store.list(6)).toEqual([])
    const head = store.find(id)!
    expect(head).toEqual({
      ...doneHead(id, 0.3),
      createdAt: head.createdAt,
      finishedAt: head.finishedAt,
    })
    expect(head.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(head.finishedAt).toMatch(/Z$/)
    expect(store.get(id)).toEqual({
      ...head,
      metrics: { stats: [0.3], confusion: { scoreThreshold: 0.5, labels: [1, 'background'] } },
      categories: [{ categoryId: 3 }],
      warnings: ['one image skipped'],
    })
    expect(store.metrics(id)).toEqual(store.get(id)!.metrics)
    expect(store.doneMetrics(5, 2, 'coco-segm')).toEqual(store.get(segm)!.metrics)
    expect(store.doneMetrics(5, 1, 'coco-segm')).toBeNull()
    expect(store.find(999)).toBeUndefined()
    expect(store.get(999)).toBeUndefined()
    expect(store.metrics(999)).toBeNull()

    expect(store.allImages(id).sort((a, b) => a.imageId - b.imageId)).toEqual([
      {
        imageId: 10,
        fileName: 'a.jpg',
        ap: 0.5,
        ap50: 0.5,
        tp: 1,
        fp: 1,
        fn: 0,
        miou: null,
        details: { maxScore: 0.5, confusion: [[0, 0, 1]], categories: [1] },
      },
      {
        imageId: 11,
        fileName: 'b.jpg',
        ap: null,
        ap50: null,
        tp: 1,
        fp: 4,
        fn: 0,
        miou: null,
        details: { maxScore: null, confusion: [[0, 0, 1]], categories: [1] },
      },
    ])
  })

  it('pages per-image rows in each order, nulls last, ties by image id', () => {
    const db = fullStore()
    const store = evaluationStore(db)
    const id = store.saveDone(
      key,
      summary(0.3),
      [],
      [image(12, 0.5, 1), image(10, 0.5, 3), image(11, null, 2)],
    )
    const ids = (order: 'ap' | 'fp', direction: 'asc' | 'desc', offset = 0, limit = 10) =>
      store.images(id, order, direction, offset, limit).map((r) => r.imageId)
    expect(ids('ap', 'asc')).toEqual([10, 12, 11])
    expect(ids('ap', 'desc')).toEqual([10, 12, 11])
    expect(ids('fp', 'asc')).toEqual([12, 11, 10])
    expect(ids('fp', 'desc')).toEqual([10, 11, 12])
    expect(ids('fp', 'desc', 1, 1)).toEqual([11])
    expect(store.images(id, 'miou', 'asc', 0, 2).map((r) => r.imageId)).toEqual([10, 11])
  })

  it('re-evaluating replaces the per-image rows; a failure keeps the last numbers', () => {
    const db = fullStore()
    const store = evaluationStore(db)
    const id = store.saveDone(key, summary(0.3), [], [image(10, 0.5, 1), image(11, 0.2, 2)])
    expect(store.saveDone(key, summary(0.6), [], [image(11, 0.7, 0)])).toBe(id)
    expect(store.allImages(id).map((r) => [r.imageId, r.ap])).toEqual([[11, 0.7]])
    expect(store.find(id)!.primaryMetric).toBe(0.6)

    expect(store.saveFailure(key, 'worker crashed')).toBe(id)
    expect(store.find(id)).toMatchObject({
      status: 'failed',
      error: 'worker crashed',
      primaryMetric: 0.6,
    })
    // A Cityscapes evaluation that failed before anything was stored has no numbers.
    const failed = store.saveFailure({ ...key, kind: 'cityscapes' }, 'no label maps')
    expect(store.get(failed)).toMatchObject({
      status: 'failed',
      error: 'no label maps',
      primaryMetric: null,
      metrics: null,
      categories: [],
      warnings: [],
    })
    expect(store.get(failed)!.finishedAt).not.toBeNull()
  })

  it('goes with its run (cascade)', () => {
    const db = fullStore()
    const store = evaluationStore(db)
    store.saveDone(key, summary(0.3), [], [image(10, 0.5, 1)])
    db.prepare('DELETE FROM runs WHERE id = 5').run()
    expect(store.list()).toEqual([])
    expect(db.prepare('SELECT count(*) AS n FROM evaluation_images').get()).toEqual({ n: 0 })
  })
})

describe('EvaluationInputStore', () => {
  it('reads a run’s facts, finished images and times', () => {
    const db = fullStore()
    const inputs = evaluationInputStore(db)
    expect(inputs).toBe(evaluationInputStore(db))
    expect(inputs.run(5)).toEqual({
      id: 5,
      status: 'done',
      error: null,
      modelId: 1,
      modelName: 'gc r4',
      task: 'instance_segmentation',
      datasetId: 1,
      datasetName: 'demo',
      kind: 'coco',
      source: '/d',
      split: null,
      gtVersion: 2,
      imagesDone: 2,
      imagesTotal: 3,
      executionProvider: 'cpu',
    })
    expect(inputs.run(6)).toBeUndefined()
    expect(inputs.doneImageCount(5)).toBe(2)
    expect(inputs.doneImageIds(5)).toEqual([10, 11])
    expect(inputs.inferenceTimes(5)).toEqual([12.5])
    expect(inputs.hasMasks(5)).toBe(true)
    db.prepare('UPDATE predictions SET mask_rle = NULL').run()
    expect(inputs.hasMasks(5)).toBe(false)
    expect(inputs.datasetGtVersion(1)).toBe(2)
    expect(inputs.datasetGtVersion(9)).toBeUndefined()
    expect(inputs.existingRunIds([5, 6])).toEqual(new Set([5]))
  })

  it('assembles the ground truth of the finished images in COCO form, live annotations only', () => {
    const db = fullStore()
    expect(evaluationInputStore(db).cocoGroundTruth(6)).toBeUndefined()
    const gt = evaluationInputStore(db).cocoGroundTruth(5)!
    expect(gt.images).toEqual([
      { id: 10, file_name: 'a.jpg', width: 640, height: 480 },
      { id: 11, file_name: 'b.jpg', width: 320, height: 240 },
    ])
    expect(gt.categories).toEqual([
      { id: 1, name: 'person', supercategory: 'human' },
      { id: 3, name: 'car' },
    ])
    expect([...gt.annotations].sort((a, b) => Number(a.id) - Number(b.id))).toEqual([
      {
        id: 20,
        image_id: 10,
        category_id: 1,
        iscrowd: 0,
        area: 50,
        bbox: [1, 2, 10, 5],
        segmentation: [[1, 2, 11, 2, 11, 7]],
      },
      {
        id: 21,
        image_id: 10,
        category_id: 3,
        iscrowd: 1,
        area: 80,
        bbox: [0, 0, 8, 10],
        segmentation: { size: [480, 640], counts: 'abc' },
      },
      { id: 22, image_id: 11, category_id: 3, iscrowd: 0, area: 30, bbox: [5, 5, 6, 5] },
    ])
  })

  it('reads label-map files, image names and annotation boxes for the comparison views', () => {
    const db = fullStore()
    db.prepare(`INSERT INTO semantic_outputs (run_id, image_id, png) VALUES (5, 11, x'00')`).run()
    const inputs = evaluationInputStore(db)
    expect(inputs.runLabelMaps(5)).toEqual([
      {
        id: 11,
        fileName: 'b.jpg',
        semanticPath: 'gt/b_labelIds.png',
        instancePath: 'gt/b_instanceIds.png',
      },
    ])
    expect(inputs.datasetLabelMaps(1).map((m) => m.id)).toEqual([10, 11])
    expect(inputs.imageFileNames([12, 10, 99])).toEqual(
      new Map([
        [10, 'a.jpg'],
        [12, 'c.jpg'],
      ]),
    )
    expect(inputs.imageFileNames([])).toEqual(new Map())
    // A comparison names annotations as they were: a soft-deleted one still has its box.
    expect(inputs.annotationBoxes([23, 20])).toEqual(
      new Map([
        [20, { annotationId: 20, categoryId: 1, bbox: [1, 2, 10, 5] }],
        [23, { annotationId: 23, categoryId: 1, bbox: [0, 0, 3, 3] }],
      ]),
    )
    expect(inputs.annotationBoxes([])).toEqual(new Map())
  })
})
