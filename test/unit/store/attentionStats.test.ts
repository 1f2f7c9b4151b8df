// The attention-statistics migration keeps every stored attention map (the half-float weights
// column starts empty) and its tables go with their run.
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { migrations } from '../../../src-main/core/store/migrations'
import { applyMigrations } from '../../../src-main/core/store/store'

const version = migrations.find((m) => m.name === 'attention statistics')!.version

describe('migration: attention statistics', () => {
  it('carries attention maps across and cascades from runs', () => {
    const db = new Database(':memory:')
    db.pragma('foreign_keys = ON')
    applyMigrations(db, version - 1)
    db.exec(`
      INSERT INTO datasets (id, name, kind, images_root, source, status) VALUES (1, 'd', 'coco', '/i', '/s', 'ready');
      INSERT INTO images (id, dataset_id, source_id, file_name, width, height) VALUES (1, 1, 1, 'a.jpg', 64, 32);
      INSERT INTO models (id, sha256, name, task, format, path, source, file_size, file_mtime, config, card)
        VALUES (1, 'x', 'm', 'detection', 'onnx', '/m', '/m', 1, 1, '{}', '{}');
      INSERT INTO runs (id, model_id, dataset_id, settings, status) VALUES (1, 1, 1, '{}', 'done');
      INSERT INTO attention_maps (run_id, image_id, block_index, height, width, min_value, max_value, data)
        VALUES (1, 1, 0, 1, 2, 0.25, 0.75, x'00ff');
    `)
    expect(applyMigrations(db, version)).toBe(version)
    expect(
      db.prepare('SELECT min_value, max_value, data, weights_f16 FROM attention_maps').get(),
    ).toEqual({
      min_value: 0.25,
      max_value: 0.75,
      data: Buffer.from([0, 255]),
      weights_f16: null,
    })
    db.exec(`
      INSERT INTO attention_stats (id, run_id, gt_version, params, images, status) VALUES (1, 1, 1, '{}', 1, 'done');
      INSERT INTO attention_image_stats (stats_id, image_id, block_index, entropy, top1_mass, padding_mass, centroid_x, centroid_y)
        VALUES (1, 1, 0, 0.5, 0.75, 0, 0.5, 0.5);
    `)
    expect(() =>
      db.exec(
        `INSERT INTO attention_stats (run_id, gt_version, params, images, status) VALUES (1, 1, '{}', 1, 'done')`,
      ),
    ).toThrow(/UNIQUE/)
    db.exec('DELETE FROM runs WHERE id = 1')
    expect(db.prepare('SELECT count(*) AS n FROM attention_stats').get()).toEqual({ n: 0 })
    expect(db.prepare('SELECT count(*) AS n FROM attention_image_stats').get()).toEqual({ n: 0 })
    expect(db.pragma('foreign_key_check')).toEqual([])
    db.close()
  })
})
