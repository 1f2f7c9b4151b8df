// The images store: grid pages by id range, by ids, by class and through the general filter;
// an image's detail and file only while its dataset is visible; flags and probes written back.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { datasetStore } from '../../../src-main/core/store/datasets'
import { imageStore, type ImageProbe } from '../../../src-main/core/store/images'
import type { Db } from '../../../src-main/core/store/store'
import { importedDataset, memoryStore } from '../../helpers/storeRows'

const files = ['a_1.jpg', 'b%2.jpg', 'c_3.png', 'd.jpg', 'A_5.jpg', 'f.jpg']

const probe: ImageProbe = {
  format: 'jpeg',
  space: 'srgb',
  channels: 3,
  storedWidth: 3,
  storedHeight: 4,
  applyOrientation: true,
  passthrough: false,
}

describe('ImageStore', () => {
  let db: Db
  let d: number
  let ids: number[]
  beforeEach(() => {
    db = memoryStore()
    importedDataset(db, 'other', ['x.jpg'])
    d = importedDataset(db, 'main', files)
    ids = imageStore(db).ids(d)
  })
  afterEach(() => db.close())

  it('reads pages by id range and by ids, in id order, with their flags', () => {
    const images = imageStore(db)
    expect(ids).toHaveLength(6)
    expect(images.shape(d)).toEqual({ n: 6, first: ids[0], last: ids[5] })
    expect(images.range(ids[1]!, ids[2]!)).toEqual([
      {
        id: ids[1],
        datasetId: d,
        fileName: 'b%2.jpg',
        width: 4,
        height: 3,
        annotationCount: 1,
        missing: false,
        unreadable: false,
      },
      {
        id: ids[2],
        datasetId: d,
        fileName: 'c_3.png',
        width: 4,
        height: 3,
        annotationCount: 1,
        missing: false,
        unreadable: false,
      },
    ])
    images.setMissing(ids[4]!, true)
    images.setProbe(ids[5]!, null, { ...probe, error: 'bad header' })
    expect(
      images.byIds([ids[5]!, ids[0]!, ids[4]!]).map((i) => [i.id, i.missing, i.unreadable]),
    ).toEqual([
      [ids[0], false, false],
      [ids[4], true, false],
      [ids[5], false, true],
    ])
    expect(images.byIds([])).toEqual([])
    expect(images.names(d)).toEqual(ids.map((id, k) => [id, files[k]]))
  })

  it('pages and counts images by class from image_categories', () => {
    const images = imageStore(db)
    // Dogs on images 0 and 3; cats on all.
    expect(images.classCount(d, [2])).toBe(2)
    expect(images.classPage(d, [2], 10, 0)).toEqual([ids[0], ids[3]])
    expect(images.classPage(d, [2], 1, 1)).toEqual([ids[3]])
    expect(images.classCount(d, [1, 2])).toBe(6)
    expect(images.classPage(d, [2, 1], 2, 1)).toEqual([ids[1], ids[2]])
  })

  it('filters by class, file name (LIKE, wildcards escaped), missing flag and cursor', () => {
    const images = imageStore(db)
    const page = (f: Partial<Parameters<typeof images.filtered>[0]>) => {
      const r = images.filtered({ datasetId: d, limit: 10, offset: 0, ...f })
      return { total: r.total, ids: r.items.map((i) => i.id) }
    }
    expect(page({})).toEqual({ total: 6, ids })
    expect(page({ limit: 2, offset: 3 })).toEqual({ total: 6, ids: ids.slice(3, 5) })
    // Case-insensitive; `_` and `%` match themselves only.
    expect(page({ search: 'a_' })).toEqual({ total: 2, ids: [ids[0], ids[4]] })
    expect(page({ search: '%' })).toEqual({ total: 1, ids: [ids[1]] })
    expect(page({ categoryIds: [2], search: 'jpg' })).toEqual({ total: 2, ids: [ids[0], ids[3]] })
    images.setMissing(ids[2]!, true)
    expect(page({ missingOnly: true })).toEqual({ total: 1, ids: [ids[2]] })
    expect(page({ beforeId: ids[3] })).toEqual({ total: 3, ids: ids.slice(0, 3) })
    expect(page({ onlyId: ids[3], categoryIds: [2] }).total).toBe(1)
    expect(page({ onlyId: ids[1], categoryIds: [2] }).total).toBe(0)
    // The same filter shape again reuses its statements and gives the same answer.
    expect(page({ search: 'A_' })).toEqual({ total: 2, ids: [ids[0], ids[4]] })
  })

  it('gives detail, classes and file of images of visible datasets only', () => {
    const images = imageStore(db)
    images.setProbe(ids[0]!, 6, probe)
    expect(images.detail(ids[0]!)).toEqual({
      id: ids[0],
      datasetId: d,
      fileName: 'a_1.jpg',
      width: 4,
      height: 3,
      annotationCount: 2,
      missing: false,
      unreadable: false,
      orientation: 6,
      hasSemantic: false,
    })
    expect(images.classes(ids[0]!)).toEqual([
      { categoryId: 1, annotationCount: 1, pixelCount: 0 },
      { categoryId: 2, annotationCount: 1, pixelCount: 0 },
    ])
    expect(images.file(ids[0]!)).toEqual({
      id: ids[0],
      datasetId: d,
      fileName: 'a_1.jpg',
      width: 4,
      height: 3,
      missing: false,
      probe,
      imagesRoot: '/data/main',
      source: '/data/main.json',
      semanticPath: null,
    })
    expect(images.file(ids[1]!)!.probe).toBeNull()
    datasetStore(db).markDeleting(d, process.pid)
    expect(images.detail(ids[0]!)).toBeNull()
    expect(images.file(ids[0]!)).toBeNull()
    expect(images.shape(d)).toBeUndefined()
  })

  it('writes missing flags both ways and a probe read on first show clears the flag', () => {
    const images = imageStore(db)
    images.setMissing(ids[0]!, true)
    images.setMissing(ids[1]!, true)
    images.setMissing(ids[1]!, false)
    expect(images.onDisk(d).slice(0, 2)).toEqual([
      { id: ids[0], fileName: 'a_1.jpg', width: 4, height: 3, missing: true },
      { id: ids[1], fileName: 'b%2.jpg', width: 4, height: 3, missing: false },
    ])
    images.setProbeRead(ids[0]!, null, probe)
    expect(images.file(ids[0]!)).toMatchObject({ missing: false, probe })
  })
})
