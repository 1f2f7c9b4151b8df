/**
 * Issue 14, imports: invalid UTF-8 (item 12), Cityscapes split names and unreadable entries
 * (item 15), messages that never list an arbitrary folder (item 16), non-regular files (item
 * 6), per-class counts stored at import (item 22).
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { importCoco } from '../../../src-main/core/datasets/cocoImport'
import { importCityscapes } from '../../../src-main/core/datasets/cityscapesImport'
import { utf8Checker } from '../../../src-main/core/datasets/jsonStream'
import { getCategories, queryImages } from '../../../src-main/core/datasets/queries'
import { BrowseCache } from '../../../src-main/core/datasets/browseCache'
import type { ImportContext } from '../../../src-main/core/datasets/importTypes'
import { openStore, type Db } from '../../../src-main/core/store/store'
import { makeCityscapesFixture, makeCocoFixture, tempDir } from '../../helpers/fixtures'

let db: Db
const ctx = (): ImportContext => ({ db, signal: new AbortController().signal, progress: () => {} })
beforeEach(() => {
  db = openStore(tempDir())
})
afterEach(() => db.close())

const datasetCount = () => db.prepare('SELECT count(*) FROM datasets').pluck().get()

describe('invalid UTF-8 in a COCO file (item 12)', () => {
  it('refuses a Latin-1 file with the byte offset of the first bad byte', async () => {
    const fx = await makeCocoFixture()
    const doc = JSON.parse(fs.readFileSync(fx.annotations, 'utf8')) as {
      categories: { name: string }[]
    }
    doc.categories[0]!.name = 'café'
    const text = JSON.stringify(doc)
    const file = path.join(fx.root, 'latin1.json')
    fs.writeFileSync(file, Buffer.from(text, 'latin1'))
    const offset = Buffer.from(text.slice(0, text.indexOf('café') + 3), 'latin1').length
    await expect(importCoco(ctx(), { annotations: file, images: fx.images })).rejects.toThrow(
      new RegExp(`is not UTF-8: invalid byte 0xE9 at byte offset ${offset}\\.`),
    )
    expect(datasetCount()).toBe(0)
    // The same name in UTF-8 imports as written.
    fs.writeFileSync(file, text)
    const out = await importCoco(ctx(), { annotations: file, images: fx.images })
    expect(getCategories(db, out.datasetId).map((c) => c.name)).toContain('café')
  })

  it('finds a bad byte whatever the chunk boundaries, and accepts characters cut by them', () => {
    const good = Buffer.from('aé€😀z'.repeat(50))
    for (let cut = 1; cut < 40; cut++) {
      const c = utf8Checker()
      for (let k = 0; k < good.length; k += cut)
        expect(c.check(good.subarray(k, k + cut))).toBeNull()
      expect(c.end()).toBeNull()
    }
    const bad = Buffer.concat([good, Buffer.from([0xe2, 0x28, 0xa1]), good])
    for (const cut of [1, 2, 3, 7, 64, 1 << 20]) {
      const c = utf8Checker()
      let at: number | null = null
      for (let k = 0; k < bad.length && at === null; k += cut) {
        const r = c.check(bad.subarray(k, k + cut))
        if (r) at = k + r.offset
      }
      expect(at).toBe(good.length)
    }
    const truncated = utf8Checker()
    expect(truncated.check(Buffer.from([0x61, 0xf0, 0x9f]))).toBeNull()
    expect(truncated.end()).toEqual({ back: 2, byte: 0xf0 })
  })
})

describe('paths a user or an attacker gives (items 6, 15, 16)', () => {
  it('refuses a FIFO as annotations file instead of reading it for ever', async () => {
    const dir = tempDir()
    const fifo = path.join(dir, 'instances.json')
    execFileSync('mkfifo', [fifo])
    await expect(importCoco(ctx(), { annotations: fifo, images: dir })).rejects.toThrow(
      /is not a regular file \(a pipe, socket or device\)/,
    )
    expect(datasetCount()).toBe(0)
  })

  it('names the expected layout, never what an arbitrary folder holds', async () => {
    const fx = await makeCocoFixture()
    const coco = importCoco(ctx(), { annotations: '/etc', images: fx.images })
    await expect(coco).rejects.toThrow(/\/etc is a folder; choose the COCO instances JSON file/)
    await expect(coco).rejects.not.toThrow(/passwd|hosts|\.json,/)
    const city = importCityscapes(ctx(), { root: '/', split: 'val' })
    await expect(city).rejects.toThrow(
      /\/ is not a Cityscapes root: a Cityscapes root holds leftImg8bit\/val/,
    )
    await expect(city).rejects.not.toThrow(/\b(etc|usr|proc|found)\b/)
  })

  it('refuses a split that is a path, before looking outside the root', async () => {
    const fx = await makeCityscapesFixture()
    for (const split of ['../../x', '..', 'val/../..', '/etc', 'a b']) {
      await expect(importCityscapes(ctx(), { root: fx.root, split })).rejects.toThrow(
        /is not a Cityscapes split name/,
      )
    }
  })

  it('skips dangling links and links out of the root with a warning, not a stack trace', async () => {
    const fx = await makeCityscapesFixture()
    const split = path.join(fx.root, 'leftImg8bit', 'val')
    fs.symlinkSync('/nonexistent/city', path.join(split, 'ghosttown'))
    const city = fs.readdirSync(split).find((c) => c !== 'ghosttown')!
    fs.symlinkSync(
      path.join(fx.root, 'nope_leftImg8bit.png'),
      path.join(split, city, 'dangling_000000_000019_leftImg8bit.png'),
    )
    const outside = path.join(tempDir(), 'x_leftImg8bit.png')
    fs.copyFileSync(path.join(split, city, `${fx.frames[0]}_leftImg8bit.png`), outside)
    fs.symlinkSync(outside, path.join(split, city, 'far_000000_000019_leftImg8bit.png'))
    const out = await importCityscapes(ctx(), { root: fx.root, split: 'val' })
    expect(out.images).toBe(fx.frames.length)
    const warning = out.warnings.find((w) => /could not be read or point outside/.test(w))
    expect(warning).toMatch(/ghosttown \(ENOENT\)/)
    expect(warning).toMatch(/dangling_000000_000019_leftImg8bit\.png \(ENOENT\)/)
    expect(warning).toMatch(/far_000000_000019_leftImg8bit\.png \(links outside/)
  })
})

describe('per-class counts are stored at import (item 22)', () => {
  it('datasets:get reads the same counts an aggregate over image_categories gives', async () => {
    const fx = await makeCocoFixture()
    const out = await importCoco(ctx(), { annotations: fx.annotations, images: fx.images })
    const aggregate = db
      .prepare(
        `SELECT category_id AS id, count(*) AS imageCount, sum(annotation_count) AS annotationCount
         FROM image_categories WHERE dataset_id = ? GROUP BY category_id ORDER BY category_id`,
      )
      .all(out.datasetId)
    const stored = db
      .prepare(
        `SELECT id, image_count AS imageCount, annotation_count AS annotationCount
         FROM categories WHERE dataset_id = ? AND image_count > 0 ORDER BY id`,
      )
      .all(out.datasetId)
    expect(stored).toEqual(aggregate)
    expect(aggregate.length).toBeGreaterThan(0)
    const cats = getCategories(db, out.datasetId)
    expect(
      cats.filter((c) => c.imageCount > 0).map((c) => [c.id, c.imageCount, c.annotationCount]),
    ).toEqual(
      (aggregate as { id: number; imageCount: number; annotationCount: number }[]).map((r) => [
        r.id,
        r.imageCount,
        r.annotationCount,
      ]),
    )
  })
})

describe('grid pages through the browse cache (items 22, 26 and the load benchmark)', () => {
  it('gives exactly the pages and totals of the plain SQL, for pages, class filters and searches', async () => {
    const dir = tempDir()
    const names = Array.from({ length: 1200 }, (_, i) =>
      i % 97 === 0 ? `Special_${i}%x.JPG` : `${String(i * 7919).padStart(12, '0')}.jpg`,
    )
    const file = path.join(dir, 'instances_names.json')
    fs.writeFileSync(
      file,
      JSON.stringify({
        images: names.map((n, i) => ({ id: i + 1, file_name: n, width: 8, height: 8 })),
        annotations: names.flatMap((_, i) =>
          [1, 2, 3]
            .filter((c) => (i + c) % (c + 1) === 0)
            .map((c) => ({
              id: i * 10 + c,
              image_id: i + 1,
              category_id: c,
              bbox: [1, 1, 2, 2],
              area: 4,
            })),
        ),
        categories: [1, 2, 3, 4].map((id) => ({ id, name: `c${id}` })),
      }),
    )
    // A dataset imported before, so this one's ids do not start at 1.
    const fx = await makeCocoFixture()
    await importCoco(ctx(), { annotations: fx.annotations, images: fx.images })
    const out = await importCoco(ctx(), { annotations: file, images: dir })
    const cache = new BrowseCache()
    const queries: Parameters<typeof queryImages>[1][] = []
    for (const offset of [0, 200, 1100, 1199, 1300]) {
      queries.push({ datasetId: out.datasetId, offset, limit: 200 })
      for (const categoryIds of [[1], [2], [4], [1, 3], [2, 3, 4]])
        queries.push({
          datasetId: out.datasetId,
          offset: Math.floor(offset / 3),
          limit: 200,
          categoryIds,
        })
      for (const search of ['000', '7919', 'special_', '%X', '_', '.jpg', 'zzz', ' 12 '])
        queries.push({ datasetId: out.datasetId, offset, limit: 200, search })
    }
    for (const q of queries) expect(queryImages(db, q, cache)).toEqual(queryImages(db, q))
    expect(queryImages(db, { datasetId: out.datasetId, search: '%x' }, cache).total).toBe(13)
    // A label edit bumps the ground-truth version: class totals are counted again.
    const before = queryImages(db, { datasetId: out.datasetId, categoryIds: [4] }, cache).total
    expect(before).toBe(0)
    db.prepare(
      `INSERT INTO image_categories (image_id, dataset_id, category_id, annotation_count) SELECT min(id), dataset_id, 4, 1 FROM images WHERE dataset_id = ?`,
    ).run(out.datasetId)
    db.prepare('UPDATE datasets SET gt_version = gt_version + 1 WHERE id = ?').run(out.datasetId)
    expect(queryImages(db, { datasetId: out.datasetId, categoryIds: [4] }, cache).total).toBe(1)
  })
})
