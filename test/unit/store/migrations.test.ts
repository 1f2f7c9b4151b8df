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
})
