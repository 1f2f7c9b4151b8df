// The comparisons migration on a store holding data from before it (a dataset, a model, a run):
// everything carries across, and the table's module stores, lists and deletes comparisons,
// keeps a comparison whose run is deleted, and sweeps rows a crashed process left 'running'.
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { migrations } from '../../../src-main/core/store/migrations'
import { applyMigrations } from '../../../src-main/core/store/store'
import { ComparisonStore } from '../../../src-main/core/store/comparisons'

const comparisons = migrations.find((m) => m.name === 'comparisons')!

function storeBefore(): Database.Database {
  const db = new Database(':memory:')
  db.pragma('foreign_keys = ON')
  applyMigrations(db, comparisons.version - 1)
  db.prepare(
    `INSERT INTO datasets (id, name, kind, images_root, source, status, gt_version) VALUES (1, 'demo', 'coco', '/d', '/d', 'ready', 3)`,
  ).run()
  db.prepare(
    `INSERT INTO models (id, sha256, name, task, format, path, source, file_size, file_mtime, config, card)
     VALUES (1, 'abc', 'gc r4', 'detection', 'onnx', '/m.onnx', '/m.onnx', 1, 0, '{}', '{}')`,
  ).run()
  for (const id of [1, 2])
    db.prepare(
      `INSERT INTO runs (id, model_id, dataset_id, settings, status) VALUES (?, 1, 1, '{}', 'done')`,
    ).run(id)
  return db
}

describe('comparisons migration and store', () => {
  it('carries existing data across and stores comparisons', () => {
    const db = storeBefore()
    expect(applyMigrations(db, comparisons.version)).toBe(comparisons.version)
    expect(db.prepare('SELECT count(*) AS n FROM runs').get()).toEqual({ n: 2 })
    expect(db.prepare('SELECT name, gt_version FROM datasets').get()).toEqual({
      name: 'demo',
      gt_version: 3,
    })
    const store = new ComparisonStore(db)
    const id = store.start({
      datasetId: 1,
      gtVersion: 3,
      kind: 'coco',
      iouType: 'bbox',
      runIds: [1, 2],
      title: 'a vs b',
      scoreThreshold: 0.5,
      seed: 7,
      resamples: 1000,
    })
    expect(store.get(id)).toMatchObject({ status: 'running', runIds: [1, 2], datasetName: 'demo' })
    expect(store.data(id)).toEqual({ summary: null, details: null })
    store.finish(id, { kind: 'coco' }, { kind: 'coco', imageIds: [] })
    expect(store.get(id)).toMatchObject({ status: 'done', ownerPid: null, seed: 7 })
    expect(JSON.parse(store.data(id)!.summary!)).toEqual({ kind: 'coco' })
    // A deleted run leaves the comparison in place (the service reports it).
    db.prepare('DELETE FROM runs WHERE id = 2').run()
    expect(store.list().map((c) => c.id)).toEqual([id])
    expect(db.pragma('foreign_key_check')).toEqual([])
    expect(store.delete(id)).toBe(true)
    expect(store.get(id)).toBeUndefined()
  })

  it('sweeps comparisons left running by a process that is gone, and only those', () => {
    const db = storeBefore()
    applyMigrations(db, comparisons.version)
    const store = new ComparisonStore(db)
    const base = {
      datasetId: 1,
      gtVersion: 3,
      kind: 'coco' as const,
      iouType: null,
      runIds: [1, 2],
      title: 't',
      scoreThreshold: 0.5,
      seed: 1,
      resamples: 1000,
    }
    const mine = store.start(base)
    const orphan = store.start(base)
    db.prepare('UPDATE comparisons SET owner_pid = 999999999 WHERE id = ?').run(orphan)
    expect(store.sweepAbandoned((pid) => pid === process.pid)).toBe(1)
    expect(store.list().map((c) => c.id)).toEqual([mine])
  })
})
