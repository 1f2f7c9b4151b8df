// The models table through its store module: what an import stores reads back with its
// configuration and card parsed, by id, by sha256 and in lists; file stamps, configuration
// updates and removal change the row; a second row with the same sha256 is refused by SQL.
import { describe, expect, it } from 'vitest'
import { ModelStore } from '../../../src-main/core/store/models'
import { ISO_MS, newModel, storeAt } from './runRows'

describe('ModelStore', () => {
  it('stores a model and reads it back, its config and card parsed', () => {
    const store = new ModelStore(storeAt())
    const added = store.add(newModel('aaa', 'mask-rcnn gc r16'))
    expect(added).toMatchObject({
      id: 1,
      sha256: 'aaa',
      name: 'mask-rcnn gc r16',
      task: 'detection',
      format: 'mmdeploy-detection',
      path: '/models/aaa.onnx',
      source: '/models/aaa',
    })
    expect(added.config).toEqual(newModel('aaa').config)
    expect(added.card).toEqual(newModel('aaa').card)
    expect(added.createdAt).toMatch(ISO_MS)
    expect(store.get(1)).toEqual(added)
    expect(store.bySha256('aaa')).toEqual(added)
    expect(store.get(2)).toBeNull()
    expect(store.bySha256('bbb')).toBeNull()
  })

  it('lists newest first, with names and sha256s for lookups', () => {
    const store = new ModelStore(storeAt())
    store.add(newModel('aaa', 'first'))
    store.add(newModel('bbb', 'second'))
    expect(store.list().map((m) => m.name)).toEqual(['second', 'first'])
    expect(store.names()).toEqual([
      { id: 1, name: 'first', sha256: 'aaa' },
      { id: 2, name: 'second', sha256: 'bbb' },
    ])
    expect(store.sha256s().sort()).toEqual(['aaa', 'bbb'])
  })

  it('refuses a second row for the same file', () => {
    const store = new ModelStore(storeAt())
    store.add(newModel('aaa'))
    expect(() => store.add(newModel('aaa', 'again'))).toThrow(/UNIQUE/)
    expect(store.list()).toHaveLength(1)
  })

  it('records file stamps and configuration changes, and removes', () => {
    const db = storeAt()
    const store = new ModelStore(db)
    const { id } = store.add(newModel('aaa'))
    expect(store.fileStamp(id)).toEqual({ size: 170_000_000, mtimeMs: 1_700_000_000_123.5 })
    store.setFileStamp(id, { size: 5, mtimeMs: 6.25 })
    expect(store.fileStamp(id)).toEqual({ size: 5, mtimeMs: 6.25 })
    const config = { ...newModel('aaa').config, classNames: ['car', 'cat'], scoreThreshold: 0.5 }
    store.setConfig(id, config)
    expect(store.get(id)!.config).toEqual(config)
    expect(store.fileStamp(99)).toBeNull()
    expect(store.remove(id)).toBe(true)
    expect(store.remove(id)).toBe(false)
    expect(store.get(id)).toBeNull()
    expect(db.prepare('SELECT count(*) AS n FROM models').get()).toEqual({ n: 0 })
  })

  it('refuses a stored configuration that no longer parses, rather than returning it', () => {
    const db = storeAt()
    const store = new ModelStore(db)
    const { id } = store.add(newModel('aaa'))
    db.prepare(`UPDATE models SET config = '{"format":"nope"}' WHERE id = ?`).run(id)
    expect(() => store.get(id)).toThrow()
  })
})
