/**
 * Rows the model, run and prediction store tests share: a store at a schema version, a dataset
 * with three images written as an import writes them, and a model as an import stores it.
 */
import Database from 'better-sqlite3'
import type { Model } from '../../../src-main/common/api'
import { applyMigrations } from '../../../src-main/core/store/store'
import type { NewModel } from '../../../src-main/core/store/models'

export const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

export function storeAt(version?: number): Database.Database {
  const db = new Database(':memory:')
  db.pragma('foreign_keys = ON')
  applyMigrations(db, version)
  return db
}

/**
 * Dataset `id` (COCO, ready) with images id*10+1..3: the first probed with EXIF rotation
 * applied, the second probed without, the third not probed yet; only the first has a label PNG.
 */
export function seedDataset(db: Database.Database, id = 1, name = 'val'): number[] {
  db.prepare(
    `INSERT INTO datasets (id, name, kind, images_root, source, status, image_count) VALUES (?, ?, 'coco', '/images', '/ann.json', 'ready', 3)`,
  ).run(id, name)
  const insert = db.prepare(
    `INSERT INTO images (id, dataset_id, source_id, file_name, width, height, probe, semantic_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const ids = [1, 2, 3].map((n) => id * 10 + n)
  insert.run(ids[0], id, 101, 'a.jpg', 640, 480, '{"applyOrientation":true}', 'a.png')
  insert.run(ids[1], id, 102, 'b.jpg', 320, 240, '{"applyOrientation":false}', null)
  insert.run(ids[2], id, 103, 'sub/c.jpg', 800, 600, null, null)
  return ids
}

const config: Model['config'] = {
  format: 'mmdeploy-detection',
  task: 'detection',
  inputName: 'input',
  inputRank: 4,
  preprocess: {
    resize: { mode: 'fixed', scale: [800, 800] },
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    padDivisor: 0,
    unitRange: true,
    channelOrder: 'bgr',
  },
  scoreThreshold: 0.3,
  maskThreshold: 0.5,
  labelMapping: 'index',
  sources: ['mmdeploy deploy.json'],
}

const block = (index: number): Model['card']['gcBlocks'][number] => ({
  index,
  stage: 'c4',
  indexInStage: index,
  channels: 1024,
  hidden: 64,
  ratio: 16,
  fusion: ['channel_add'],
  layerNorm: 'LayerNormalization',
  attentionSize: [50, 84],
})

const card: Model['card'] = {
  format: 'mmdeploy-detection',
  formatError: null,
  opset: 17,
  irVersion: 8,
  producer: 'pytorch',
  inputs: [{ name: 'input', elemType: 'float32', shape: [1, 3, 'h', 'w'] }],
  outputs: [{ name: 'dets', elemType: 'float32', shape: [1, 'n', 5] }],
  params: 41_000_000,
  flops: 200e9,
  flopsPerRoi: 1e6,
  flopsInput: [800, 1333],
  gcBlocks: [block(0), block(1), block(2)],
  gcRatioLabel: 'r16',
  classCount: 80,
}

/** A model as an import stores it; `sha256` tells several apart. */
export function newModel(sha256: string, name = `model ${sha256}`): NewModel {
  return {
    sha256,
    name,
    path: `/models/${sha256}.onnx`,
    source: `/models/${sha256}`,
    fileSize: 170_000_000,
    fileMtime: 1_700_000_000_123.5,
    config,
    card,
  }
}
