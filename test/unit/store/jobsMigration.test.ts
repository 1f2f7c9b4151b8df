// The jobs migration adds its table beside everything stored before (datasets, runs,
// evaluations keep their rows and values), and the job store reads back what it wrote: a job
// of a process that is gone is closed as interrupted, one of a live process is left alone.
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import type { Job } from '../../../src-main/common/api'
import { migrations } from '../../../src-main/core/store/migrations'
import { applyMigrations } from '../../../src-main/core/store/store'
import { JobStore } from '../../../src-main/core/store/jobs'

const version = migrations.find((m) => m.name === 'jobs')!.version

const job = (id: string, over: Partial<Job> = {}): Job => ({
  id,
  kind: 'evaluation',
  title: `Evaluate run ${id}`,
  state: 'running',
  phase: 'Matching',
  done: 120,
  total: 500,
  unit: 'images',
  detail: '',
  rate: null,
  etaSeconds: null,
  error: null,
  warnings: [],
  datasetId: 1,
  runId: 1,
  startedAt: '2026-12-01T10:00:00.000Z',
  finishedAt: null,
  ...over,
})

describe('migration: jobs', () => {
  it('carries datasets, runs and evaluations across, and the job store reads back what it wrote', () => {
    const db = new Database(':memory:')
    db.pragma('foreign_keys = ON')
    applyMigrations(db, version - 1)
    db.exec(`
      INSERT INTO datasets (id, name, kind, images_root, source, status) VALUES (1, 'val2017', 'coco', '/i', '/s', 'ready');
      INSERT INTO images (id, dataset_id, source_id, file_name, width, height) VALUES (7, 1, 139, 'a.jpg', 640, 480);
      INSERT INTO models (id, sha256, name, task, format, path, source, file_size, file_mtime, config, card)
        VALUES (1, 'abc', 'gc r4', 'instance_segmentation', 'mmdeploy-detection', '/m.onnx', '/m.onnx', 10, 0, '{}', '{}');
      INSERT INTO runs (id, model_id, dataset_id, status, settings) VALUES (1, 1, 1, 'done', '{}');
      INSERT INTO evaluations (id, run_id, dataset_id, gt_version, kind, status, primary_metric, image_count)
        VALUES (3, 1, 1, 1, 'coco-bbox', 'done', 0.412, 1);
    `)
    expect(applyMigrations(db, version)).toBe(version)
    expect(db.prepare('SELECT name FROM datasets WHERE id = 1').get()).toEqual({ name: 'val2017' })
    expect(db.prepare('SELECT file_name, width FROM images WHERE id = 7').get()).toEqual({
      file_name: 'a.jpg',
      width: 640,
    })
    expect(db.prepare('SELECT primary_metric, kind FROM evaluations WHERE id = 3').get()).toEqual({
      primary_metric: 0.412,
      kind: 'coco-bbox',
    })

    const store = new JobStore(db)
    store.save(job('a', { warnings: ['3 images skipped'] }))
    store.save(job('b', { startedAt: '2026-12-01T11:00:00.000Z', kind: 'import', runId: null }))
    // A row written by a process that no longer exists (pid 2^22 + 1 is above Linux's pid_max).
    db.prepare(`UPDATE jobs SET owner_pid = ? WHERE id = 'b'`).run(4_194_305)
    // And one of a process that is still running (this test's parent), which must be left alone.
    db.prepare(`UPDATE jobs SET owner_pid = ? WHERE id = 'a'`).run(process.ppid)

    expect(store.recent(10).map((j) => j.id)).toEqual(['b', 'a'])
    expect(store.get('a')).toMatchObject({
      state: 'running',
      done: 120,
      total: 500,
      warnings: ['3 images skipped'],
    })
    expect(store.closeInterrupted()).toBe(1)
    expect(store.get('b')).toMatchObject({
      state: 'failed',
      phase: 'Interrupted',
      error: { code: 'INTERRUPTED' },
    })
    expect(store.get('b')!.finishedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(store.get('a')!.state).toBe('running')
    db.close()
  })
})
