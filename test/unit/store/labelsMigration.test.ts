import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { migrations } from '../../../src-main/core/store/migrations'
import { applyMigrations } from '../../../src-main/core/store/store'

// Found by name: migration numbers are assigned when branches merge.
const labels = migrations.find((m) => m.name.startsWith('label editing'))!

describe('label-editing migration', () => {
  it('keeps datasets, annotations and earlier label edits, and adds the editing tables', () => {
    const db = new Database(':memory:')
    db.pragma('foreign_keys = ON')
    applyMigrations(db, labels.version - 1)
    db.exec(`
      INSERT INTO datasets (id, name, kind, images_root, source, status, gt_version) VALUES (1, 'd', 'coco', '/i', '/s', 'ready', 3);
      INSERT INTO images (id, dataset_id, source_id, file_name, width, height) VALUES (5, 1, 9, 'a.jpg', 10, 10);
      INSERT INTO annotations (id, dataset_id, image_id, source_id, category_id, area, bbox_x, bbox_y, bbox_w, bbox_h, segm_kind)
        VALUES (7, 1, 5, 70, 3, 4, 1, 1, 2, 2, 'none');
      INSERT INTO annotation_edits (dataset_id, annotation_id, action, before, after, gt_version)
        VALUES (1, 7, 'update', '{}', '{"x":1}', 2);
    `)
    const before = {
      annotations: db.prepare('SELECT * FROM annotations').all(),
      datasets: db.prepare('SELECT id, gt_version FROM datasets').all(),
    }
    expect(applyMigrations(db, labels.version)).toBe(labels.version)
    expect(db.prepare('SELECT * FROM annotations').all()).toEqual(before.annotations)
    expect(db.prepare('SELECT id, gt_version FROM datasets').all()).toEqual(before.datasets)
    // The earlier edit is still there, without an operation (it predates them).
    expect(
      db
        .prepare(
          'SELECT annotation_id, action, after, operation_id, image_id, source FROM annotation_edits',
        )
        .all(),
    ).toEqual([
      {
        annotation_id: 7,
        action: 'update',
        after: '{"x":1}',
        operation_id: null,
        image_id: null,
        source: null,
      },
    ])
    db.exec(`
      INSERT INTO label_operations (dataset_id, image_id, kind, source, stack, gt_version, summary) VALUES (1, 5, 'edit', 'hand', 'undo', 4, 's');
      INSERT INTO gt_versions (dataset_id, version) VALUES (1, 4);
    `)
    expect(() =>
      db.exec(
        `INSERT INTO label_operations (dataset_id, image_id, kind, source, stack, gt_version, summary) VALUES (1, 5, 'paint', 'hand', 'undo', 4, 's')`,
      ),
    ).toThrow(/CHECK constraint/)
    // Deleting the dataset takes its editing rows along.
    db.exec('DELETE FROM datasets WHERE id = 1')
    expect(db.prepare('SELECT count(*) AS n FROM label_operations').get()).toEqual({ n: 0 })
    expect(db.prepare('SELECT count(*) AS n FROM gt_versions').get()).toEqual({ n: 0 })
    expect(db.pragma('foreign_key_check')).toEqual([])
    db.close()
  })
})
