import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { migrations, latestSchemaVersion } from '../../../src-main/core/store/migrations'
import { applyMigrations, openStore } from '../../../src-main/core/store/store'
import { tempDir } from '../../helpers/fixtures'

const tables = (db: Database.Database) =>
  (
    db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as {
      name: string
    }[]
  ).map((r) => r.name)

describe('migrations', () => {
  it('are numbered 1..n without gaps', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1))
    expect(latestSchemaVersion).toBe(migrations.length)
  })

  // One case per migration: applying it on top of the previous one adds exactly its tables
  // and bumps user_version, and the result passes SQLite's integrity and foreign-key checks.
  const expectedTables: Record<number, string[]> = {
    1: [
      'annotation_edits',
      'annotations',
      'categories',
      'datasets',
      'image_categories',
      'images',
      'settings',
    ],
    2: ['attention_maps', 'models', 'predictions', 'run_images', 'runs', 'semantic_outputs'],
    3: ['evaluation_images', 'evaluations'],
    4: ['jobs'],
    5: ['gt_versions', 'label_map_edits', 'label_maps', 'label_operations', 'review_items'],
    6: ['attention_image_stats', 'attention_stats'],
    7: ['comparisons'],
    8: ['reports'],
    // AUTOINCREMENT keeps its high-water marks here.
    9: ['sqlite_sequence'],
    // Views, no tables.
    10: [],
    11: [],
  }
  for (const m of migrations) {
    it(`migration ${m.version} (${m.name}) applies on top of ${m.version - 1}`, () => {
      const db = new Database(':memory:')
      db.pragma('foreign_keys = ON')
      applyMigrations(db, m.version - 1)
      const before = new Set(tables(db))
      expect(applyMigrations(db, m.version)).toBe(m.version)
      const added = tables(db).filter((t) => !before.has(t))
      expect(added).toEqual(expectedTables[m.version])
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
      expect(db.pragma('foreign_key_check')).toEqual([])
      db.close()
    })
  }

  it('opens a store in WAL mode with foreign keys on, and reopening is a no-op', () => {
    const dir = tempDir()
    const db = openStore(dir)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1)
    expect(db.pragma('user_version', { simple: true })).toBe(latestSchemaVersion)
    db.prepare(`INSERT INTO settings (key, value) VALUES ('x', 'y')`).run()
    db.close()
    const again = openStore(dir)
    expect(again.prepare(`SELECT value FROM settings WHERE key = 'x'`).get()).toEqual({
      value: 'y',
    })
    again.close()
  })

  it('refuses a store written by a newer version', () => {
    const dir = tempDir()
    const raw = new Database(path.join(dir, 'gcstudio.db'))
    raw.pragma(`user_version = ${latestSchemaVersion + 1}`)
    raw.close()
    expect(() => openStore(dir)).toThrow(/newer GC Studio/)
  })

  it('says which folder is read-only', () => {
    const dir = tempDir()
    fs.chmodSync(dir, 0o500)
    try {
      // Root ignores permissions; then there is nothing to test here.
      if (process.getuid?.() === 0) return
      expect(() => openStore(path.join(dir, 'sub'))).toThrow(/cannot be written/)
    } finally {
      fs.chmodSync(dir, 0o700)
    }
  })

  it('migration 10 reads ground truth through live_annotations: rows carried, soft-deleted ones never seen', () => {
    const db = new Database(':memory:')
    db.pragma('foreign_keys = ON')
    applyMigrations(db, 9)
    db.exec(`
      INSERT INTO datasets (id, name, kind, images_root, source, status) VALUES (1, 'a', 'coco', '/i', '/s', 'ready');
      INSERT INTO images (id, dataset_id, source_id, file_name, width, height) VALUES (10, 1, 1, 'x.jpg', 4, 4);
      INSERT INTO annotations (id, dataset_id, image_id, source_id, category_id, iscrowd, area, bbox_x, bbox_y, bbox_w, bbox_h, segm_kind, deleted)
        VALUES (1, 1, 10, 7, 5, 0, 4, 0, 0, 2, 2, 'none', 0), (2, 1, 10, 8, 5, 0, 4, 1, 1, 2, 2, 'none', 1);
    `)
    applyMigrations(db, 10)
    expect(db.prepare('SELECT count(*) FROM annotations').pluck().get()).toBe(2)
    expect(db.prepare('SELECT id, source_id FROM live_annotations').all()).toEqual([
      { id: 1, source_id: 7 },
    ])
    db.close()
  })

  it('migration 11 reads datasets through live_datasets: rows carried, only ready ones visible', () => {
    const db = new Database(':memory:')
    db.pragma('foreign_keys = ON')
    applyMigrations(db, 10)
    db.exec(`
      INSERT INTO datasets (id, name, kind, split, images_root, source, status, import_pid, image_count, gt_version)
        VALUES (1, 'ready one', 'coco', 'val', '/i', '/s', 'ready', NULL, 2, 3),
               (2, 'half imported', 'coco', NULL, '/i', '/s', 'importing', 42, 0, 1),
               (3, 'being removed', 'cityscapes', 'val', '/c', '/c', 'deleting', 43, 5, 1);
      INSERT INTO images (id, dataset_id, source_id, file_name, width, height) VALUES (10, 1, 1, 'x.jpg', 4, 4), (20, 2, 1, 'y.jpg', 4, 4);
    `)
    applyMigrations(db, 11)
    expect(
      db
        .prepare(
          'SELECT id, name, kind, split, status, import_pid, image_count, gt_version FROM datasets ORDER BY id',
        )
        .all(),
    ).toEqual([
      {
        id: 1,
        name: 'ready one',
        kind: 'coco',
        split: 'val',
        status: 'ready',
        import_pid: null,
        image_count: 2,
        gt_version: 3,
      },
      {
        id: 2,
        name: 'half imported',
        kind: 'coco',
        split: null,
        status: 'importing',
        import_pid: 42,
        image_count: 0,
        gt_version: 1,
      },
      {
        id: 3,
        name: 'being removed',
        kind: 'cityscapes',
        split: 'val',
        status: 'deleting',
        import_pid: 43,
        image_count: 5,
        gt_version: 1,
      },
    ])
    expect(db.prepare('SELECT count(*) FROM images').pluck().get()).toBe(2)
    expect(db.prepare('SELECT id, name FROM live_datasets').all()).toEqual([
      { id: 1, name: 'ready one' },
    ])
    // The view follows the table: a dataset hidden for removal leaves it at once.
    db.prepare(`UPDATE datasets SET status = 'deleting' WHERE id = 1`).run()
    expect(db.prepare('SELECT count(*) FROM live_datasets').pluck().get()).toBe(0)
    db.close()
  })

  it('migration 9 rebuilds runs and datasets keeping every row, child and index, and ids are never reused after it', () => {
    const db = new Database(':memory:')
    db.pragma('foreign_keys = ON')
    applyMigrations(db, 8)
    db.exec(`
      INSERT INTO datasets (id, name, kind, images_root, source, status) VALUES (1, 'a', 'coco', '/i', '/s', 'ready'), (2, 'b', 'coco', '/i', '/s', 'ready');
      INSERT INTO categories (dataset_id, id, name, color) VALUES (1, 5, 'cat', '[1,2,3]'), (1, 6, 'dog', '[1,2,3]');
      INSERT INTO images (id, dataset_id, source_id, file_name, width, height) VALUES (10, 1, 1, 'x.jpg', 4, 4), (11, 1, 2, 'y.jpg', 4, 4);
      INSERT INTO image_categories (image_id, dataset_id, category_id, annotation_count) VALUES (10, 1, 5, 3), (11, 1, 5, 1), (11, 1, 6, 2);
      INSERT INTO models (id, sha256, name, task, format, path, source, file_size, file_mtime, config, card)
        VALUES (1, 'h', 'm', 'detection', 'onnx', '/m', '/m', 1, 1, '{}', '{}');
      INSERT INTO runs (id, model_id, dataset_id, settings, status) VALUES (1, 1, 1, '{}', 'done'), (2, 1, 1, '{}', 'done');
      INSERT INTO predictions (run_id, image_id, category_id, score, bbox_x, bbox_y, bbox_w, bbox_h) VALUES (2, 10, 5, 0.9, 0, 0, 1, 1);
    `)
    applyMigrations(db, 9)
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1)
    expect(db.prepare('SELECT id, name FROM datasets ORDER BY id').all()).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
    ])
    expect(db.prepare('SELECT id FROM runs ORDER BY id').pluck().all()).toEqual([1, 2])
    expect(db.prepare('SELECT count(*) FROM predictions').pluck().get()).toBe(1)
    // Per-class counts carried into the new columns.
    expect(
      db.prepare('SELECT id, image_count, annotation_count FROM categories ORDER BY id').all(),
    ).toEqual([
      { id: 5, image_count: 2, annotation_count: 4 },
      { id: 6, image_count: 1, annotation_count: 2 },
    ])
    // The indexes came back with the tables.
    const indexes = db
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs' AND sql IS NOT NULL`,
      )
      .pluck()
      .all()
    expect(indexes).toEqual(expect.arrayContaining(['runs_dataset', 'runs_model']))
    // Cascades still reach the children through the rebuilt parent.
    db.prepare('DELETE FROM runs WHERE id = 2').run()
    expect(db.prepare('SELECT count(*) FROM predictions').pluck().get()).toBe(0)
    // Run 2 was the newest; a new run gets 3, not 2 again. Same for datasets.
    const info = db
      .prepare(
        `INSERT INTO runs (model_id, dataset_id, settings, status) VALUES (1, 1, '{}', 'queued')`,
      )
      .run()
    expect(Number(info.lastInsertRowid)).toBe(3)
    db.prepare('DELETE FROM datasets WHERE id = 2').run()
    const d = db
      .prepare(
        `INSERT INTO datasets (name, kind, images_root, source) VALUES ('c', 'coco', '/i', '/s')`,
      )
      .run()
    expect(Number(d.lastInsertRowid)).toBe(3)
    // A dataset can now be hidden while it is removed.
    db.prepare(`UPDATE datasets SET status = 'deleting' WHERE id = 1`).run()
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    expect(db.pragma('foreign_key_check')).toEqual([])
    db.close()
  })
})
