// The reports migration adds its table beside everything stored before, and the store module
// reads back what it wrote (targets as objects, newest first); bad rows are refused by SQL.
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { migrations } from '../../../src-main/core/store/migrations'
import { applyMigrations } from '../../../src-main/core/store/store'
import { ReportStore } from '../../../src-main/core/store/reports'

const version = migrations.find((m) => m.name === 'reports')!.version

describe('migration: reports', () => {
  it('carries earlier data across, and the store module reads back what it wrote', () => {
    const db = new Database(':memory:')
    db.pragma('foreign_keys = ON')
    applyMigrations(db, version - 1)
    db.exec(`
      INSERT INTO settings (key, value) VALUES ('kept', 'yes');
      INSERT INTO datasets (id, name, kind, images_root, source, status) VALUES (1, 'd', 'coco', '/i', '/s', 'ready');
    `)
    expect(applyMigrations(db, version)).toBe(version)
    expect(db.prepare(`SELECT value FROM settings WHERE key = 'kept'`).get()).toEqual({
      value: 'yes',
    })
    expect(db.prepare('SELECT name FROM datasets').get()).toEqual({ name: 'd' })
    const store = new ReportStore(db)
    const a = store.add({
      kind: 'run',
      title: 'Run 3',
      target: { kind: 'run', runId: 3 },
      format: 'html',
      path: '/tmp/a.html',
      bytes: 1200,
      printer: null,
    })
    const b = store.add({
      kind: 'comparison',
      title: 'r4 vs baseline',
      target: { kind: 'compare', runIds: [1, 3] },
      format: 'pdf',
      path: '/tmp/b.pdf',
      bytes: 90_000,
      printer: 'Chromium at /usr/bin/chromium',
    })
    expect(store.list().map((r) => r.id)).toEqual([b.id, a.id])
    expect(store.get(b.id)).toMatchObject({
      target: { kind: 'compare', runIds: [1, 3] },
      format: 'pdf',
      printer: 'Chromium at /usr/bin/chromium',
    })
    expect(store.remove(a.id)).toBe(true)
    expect(store.get(a.id)).toBeNull()
    expect(() =>
      db.exec(
        `INSERT INTO reports (kind, title, target, format, path, bytes) VALUES ('run', 't', '{}', 'docx', '/x', 1)`,
      ),
    ).toThrow(/CHECK/)
    db.close()
  })
})
