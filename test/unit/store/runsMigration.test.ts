// Migration 2 (models, runs, predictions, attention maps) on a store holding ground truth from
// version 1: every dataset, category, image and annotation value carries across, and a model,
// a run and its predictions written at version 2 read back through the store modules.
import { describe, expect, it } from 'vitest'
import { migrations } from '../../../src-main/core/store/migrations'
import { applyMigrations } from '../../../src-main/core/store/store'
import { ModelStore } from '../../../src-main/core/store/models'
import { PredictionStore } from '../../../src-main/core/store/predictions'
import { RunStore } from '../../../src-main/core/store/runs'
import { newModel, seedDataset, storeAt } from './runRows'

const version = migrations.find(
  (m) => m.name === 'models, runs, predictions, attention maps',
)!.version

describe('migration 2: models, runs, predictions, attention maps', () => {
  it('carries the ground truth across, and the new tables read back through their stores', () => {
    const db = storeAt(version - 1)
    const images = seedDataset(db)
    db.exec(`
      INSERT INTO settings (key, value) VALUES ('demo-dataset:coco/val', '1');
      INSERT INTO categories (dataset_id, id, name, supercategory, color) VALUES (1, 18, 'dog', 'animal', '#aa0000');
      INSERT INTO annotations (id, dataset_id, image_id, source_id, category_id, iscrowd, area, bbox_x, bbox_y, bbox_w, bbox_h, segm_kind, segmentation, deleted)
        VALUES (7, 1, 11, 900, 18, 1, 512.5, 1.5, 2.5, 30, 40, 'rle', '{"size":[480,640],"counts":"PPYo1"}', 1);
      INSERT INTO image_categories (image_id, dataset_id, category_id, annotation_count, pixel_count) VALUES (11, 1, 18, 1, 512);
    `)
    const before = (sql: string) => db.prepare(sql).all()
    const snapshot = [
      'SELECT * FROM settings',
      'SELECT * FROM datasets',
      'SELECT * FROM categories',
      'SELECT * FROM images ORDER BY id',
      'SELECT * FROM annotations',
      'SELECT * FROM image_categories',
    ].map((sql) => [sql, before(sql)] as const)
    expect(applyMigrations(db, version)).toBe(version)
    for (const [sql, rows] of snapshot) expect(db.prepare(sql).all(), sql).toEqual(rows)
    expect(db.prepare('SELECT segmentation, deleted FROM annotations WHERE id = 7').get()).toEqual({
      segmentation: '{"size":[480,640],"counts":"PPYo1"}',
      deleted: 1,
    })

    const model = new ModelStore(db).add(newModel('abc', 'gc r4'))
    const runs = new RunStore(db)
    const runId = runs.create({
      modelId: model.id,
      datasetId: 1,
      settings: { modelId: model.id, datasetId: 1, ep: 'cpu', taps: false, threads: 2 },
      imagesTotal: 3,
    })
    const predictions = new PredictionStore(db)
    db.transaction(() => {
      runs.imageDone(runId, images[0]!, {
        note: null,
        timings: { preprocessMs: 3, inferenceMs: 40, postprocessMs: 2 },
        geometry: {
          width: 640,
          height: 480,
          resizedWidth: 640,
          resizedHeight: 480,
          inputWidth: 640,
          inputHeight: 480,
          scaleX: 1,
          scaleY: 1,
        },
      })
      predictions.replaceImage(
        runId,
        images[0]!,
        [{ categoryId: 18, score: 0.8, bbox: [1, 2, 3, 4], maskRle: null, area: 12 }],
        null,
      )
      runs.refreshCounts(runId)
    })()
    expect(new ModelStore(db).bySha256('abc')).toEqual(model)
    expect(runs.get(runId)).toMatchObject({
      modelName: 'gc r4',
      datasetName: 'val',
      status: 'queued',
      imagesDone: 1,
      meanInferenceMs: 40,
      gcBlocks: 3,
    })
    expect(runs.pendingImages(runId, 1, null).map((p) => p.id)).toEqual(images.slice(1))
    expect(predictions.cocoResults(runId, 'source')).toEqual([
      { image_id: 101, category_id: 18, bbox: [1, 2, 3, 4], score: 0.8 },
    ])
    expect(db.pragma('foreign_key_check')).toEqual([])
  })
})
