import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { importCoco } from '../../../src-main/core/datasets/cocoImport'
import { checkImageFiles } from '../../../src-main/core/datasets/datasetWriter'
import {
  getCategories,
  getImage,
  listDatasets,
  queryImages,
} from '../../../src-main/core/datasets/queries'
import type { ImportContext } from '../../../src-main/core/datasets/importTypes'
import { openStore, type Db } from '../../../src-main/core/store/store'
import { makeCocoFixture, rectCounts, tempDir, type CocoFixture } from '../../helpers/fixtures'

let db: Db
let fx: CocoFixture
const ctx = (signal = new AbortController().signal): ImportContext => ({
  db,
  signal,
  progress: () => {},
})

beforeEach(async () => {
  db = openStore(tempDir())
  fx = await makeCocoFixture()
})
afterEach(() => db.close())

const rowCounts = () =>
  db
    .prepare(
      `SELECT (SELECT count(*) FROM datasets) AS d, (SELECT count(*) FROM images) AS i, (SELECT count(*) FROM annotations) AS a, (SELECT count(*) FROM categories) AS c`,
    )
    .get()

function writeDoc(doc: unknown): string {
  const file = path.join(fx.root, 'annotations', 'bad.json')
  fs.writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc))
  return file
}

describe('COCO import', () => {
  it('imports polygons, both RLE forms, crowd and non-contiguous categories', async () => {
    const out = await importCoco(ctx(), { annotations: fx.annotations, images: fx.images })
    expect(out.images).toBe(6)
    expect(out.annotations).toBe(7)
    expect(out.missingImages).toBe(1)
    expect(out.warnings.join('\n')).toMatch(
      /1 of 6 \(e\.g\. not-copied-yet\.jpg\) image files are missing/,
    )
    const [d] = listDatasets(db)
    expect(d).toMatchObject({
      kind: 'coco',
      imageCount: 6,
      annotationCount: 7,
      missingImageCount: 1,
      categoryCount: 3,
    })
    const cats = getCategories(db, d!.id)
    expect(cats.map((c) => [c.id, c.name, c.imageCount, c.annotationCount])).toEqual([
      [3, 'car', 3, 3],
      [17, 'cat', 3, 3],
      [90, 'toothbrush', 1, 1],
    ])

    const page = queryImages(db, { datasetId: d!.id, offset: 0, limit: 10 })
    const a = getImage(db, page.items.find((i) => i.fileName === 'a.png')!.id)
    expect(a.annotations).toHaveLength(2)
    expect(a.annotations[0]!.segmentation).toEqual({
      kind: 'polygon',
      polygons: [
        [4, 4, 14, 4, 14, 14, 4, 14],
        [24, 4, 34, 4, 34, 14, 24, 14],
      ],
    })

    const b = getImage(db, page.items.find((i) => i.fileName === 'b.jpg')!.id)
    const crowd = b.annotations.find((x) => x.iscrowd)!
    expect(crowd.segmentation).toEqual({
      kind: 'rle',
      size: [48, 64],
      counts: rectCounts(64, 48, 30, 20, 20, 15),
    })
    // The compressed string decodes to the same runs a rectangle gives.
    const brush = b.annotations.find((x) => x.categoryId === 90)!
    expect(brush.segmentation).toEqual({
      kind: 'rle',
      size: [48, 64],
      counts: rectCounts(64, 48, 2, 2, 8, 8),
    })
    expect(page.items.find((i) => i.fileName === 'not-copied-yet.jpg')!.missing).toBe(true)
  })

  it('reads EXIF orientation, grayscale and CMYK headers', async () => {
    const out = await importCoco(ctx(), { annotations: fx.annotations, images: fx.images })
    const rows = db
      .prepare(`SELECT file_name, orientation, probe FROM images WHERE dataset_id = ? ORDER BY id`)
      .all(out.datasetId) as {
      file_name: string
      orientation: number | null
      probe: string | null
    }[]
    const probe = (f: string) => JSON.parse(rows.find((r) => r.file_name === f)!.probe!)
    expect(rows.find((r) => r.file_name === 'rotated.jpg')!.orientation).toBe(6)
    expect(probe('rotated.jpg')).toMatchObject({
      applyOrientation: true,
      storedWidth: 48,
      storedHeight: 64,
      passthrough: false,
    })
    expect(probe('gray.jpg')).toMatchObject({ space: 'b-w', passthrough: true })
    expect(probe('cmyk.jpg')).toMatchObject({ space: 'cmyk', passthrough: false })
    expect(probe('a.png')).toMatchObject({ format: 'png', passthrough: true })
    expect(out.warnings.join('\n')).toMatch(/EXIF orientation/)
  })

  it('filters the grid by class and by file name', async () => {
    const { datasetId } = await importCoco(ctx(), {
      annotations: fx.annotations,
      images: fx.images,
    })
    const names = (q: Parameters<typeof queryImages>[1]) =>
      queryImages(db, q).items.map((i) => i.fileName)
    expect(names({ datasetId, categoryIds: [90] })).toEqual(['b.jpg'])
    expect(names({ datasetId, categoryIds: [3, 90] })).toEqual(['a.png', 'b.jpg', 'rotated.jpg'])
    expect(names({ datasetId, search: 'GRAY' })).toEqual(['gray.jpg'])
    expect(names({ datasetId, search: '%' })).toEqual([])
    expect(names({ datasetId, missingOnly: true })).toEqual(['not-copied-yet.jpg'])
    expect(
      queryImages(db, { datasetId, offset: 2, limit: 2 }).items.map((i) => i.fileName),
    ).toEqual(['gray.jpg', 'cmyk.jpg'])
  })

  // Each bad file fails with a message naming the place, and leaves the store as it was.
  const badCases: { name: string; doc: unknown; message: RegExp }[] = [
    {
      name: 'truncated JSON',
      doc: '{"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}], "annotations": [{"id": 1',
      message: /not valid JSON: error at line 1, column \d+ \(byte \d+\)/,
    },
    { name: 'top level array', doc: [], message: /top level is an array/ },
    {
      name: 'missing categories',
      doc: { images: [], annotations: [] },
      message: /no "categories" list/,
    },
    {
      name: 'image without file_name',
      doc: { images: [{ id: 1, width: 2, height: 2 }], annotations: [], categories: [] },
      message: /images\[0\]\.file_name/,
    },
    {
      name: 'duplicate image id',
      doc: {
        images: [
          { id: 1, file_name: 'a.png', width: 64, height: 48 },
          { id: 1, file_name: 'b.jpg', width: 64, height: 48 },
        ],
        annotations: [],
        categories: [],
      },
      message: /images\[1\]: duplicate image id 1 \(first at images\[0\]\)/,
    },
    {
      name: 'duplicate annotation id',
      doc: {
        images: [{ id: 1, file_name: 'a.png', width: 64, height: 48 }],
        annotations: [ann(5, 1, 1), ann(5, 1, 1)],
        categories: [{ id: 1, name: 'x' }],
      },
      message: /annotations\[1\] \(id 5\): duplicate annotation id 5/,
    },
    {
      name: 'unknown image',
      doc: {
        images: [{ id: 1, file_name: 'a.png', width: 64, height: 48 }],
        annotations: [ann(1, 99, 1)],
        categories: [{ id: 1, name: 'x' }],
      },
      message:
        /1 annotations point at image ids that are not in "images": annotations\[0\] \(id 1\) -> image_id 99/,
    },
    {
      name: 'unknown category',
      doc: {
        images: [{ id: 1, file_name: 'a.png', width: 64, height: 48 }],
        annotations: [ann(1, 1, 7)],
        categories: [{ id: 1, name: 'x' }],
      },
      message: /category ids that are not in "categories": annotation id 1 -> category_id 7/,
    },
    {
      name: 'odd polygon',
      doc: {
        images: [{ id: 1, file_name: 'a.png', width: 64, height: 48 }],
        annotations: [{ ...ann(1, 1, 1), segmentation: [[1, 2, 3, 4, 5]] }],
        categories: [{ id: 1, name: 'x' }],
      },
      message: /annotations\[0\] \(id 1\)\.segmentation\[0\] has 5 numbers/,
    },
    {
      name: 'RLE of the wrong size',
      doc: {
        images: [{ id: 1, file_name: 'a.png', width: 64, height: 48 }],
        annotations: [{ ...ann(1, 1, 1), segmentation: { size: [10, 10], counts: [100] } }],
        categories: [{ id: 1, name: 'x' }],
      },
      message: /segmentation\.size is \[10, 10\] but its image is 64x48/,
    },
    {
      name: 'file outside the images folder',
      doc: {
        images: [{ id: 1, file_name: '../../etc/passwd', width: 64, height: 48 }],
        annotations: [],
        categories: [],
      },
      message: /points outside the images folder/,
    },
  ]
  for (const c of badCases) {
    it(`rejects ${c.name} and keeps the store consistent`, async () => {
      await importCoco(ctx(), { annotations: fx.annotations, images: fx.images })
      const before = rowCounts()
      const file = writeDoc(c.doc)
      await expect(importCoco(ctx(), { annotations: file, images: fx.images })).rejects.toThrow(
        c.message,
      )
      expect(rowCounts()).toEqual(before)
      expect(listDatasets(db)).toHaveLength(1)
    })
  }

  it('finds image files copied in after the import', async () => {
    const { datasetId } = await importCoco(ctx(), {
      annotations: fx.annotations,
      images: fx.images,
    })
    fs.copyFileSync(path.join(fx.images, 'b.jpg'), path.join(fx.images, 'not-copied-yet.jpg'))
    const out = await checkImageFiles(db, datasetId, fx.images, new AbortController().signal)
    expect(out.missing).toBe(0)
    expect(listDatasets(db)[0]!.missingImageCount).toBe(0)
    expect(queryImages(db, { datasetId, missingOnly: true }).total).toBe(0)
    fs.rmSync(path.join(fx.images, 'a.png'))
    expect(
      (await checkImageFiles(db, datasetId, fx.images, new AbortController().signal)).examples,
    ).toEqual(['a.png'])
  })

  it('flags files that are not images, with a warning naming them, without failing', async () => {
    fs.writeFileSync(path.join(fx.images, 'notes.jpg'), 'this is a text file')
    const file = writeDoc({
      images: [
        { id: 1, file_name: 'a.png', width: 64, height: 48 },
        { id: 2, file_name: 'notes.jpg', width: 64, height: 48 },
      ],
      annotations: [],
      categories: [],
    })
    const out = await importCoco(ctx(), { annotations: file, images: fx.images })
    expect(out.warnings.join('\n')).toMatch(
      /1 of 2 \(e\.g\. notes\.jpg\) image files could not be decoded/,
    )
    const items = queryImages(db, { datasetId: out.datasetId }).items
    expect(items.map((i) => [i.fileName, i.unreadable])).toEqual([
      ['a.png', false],
      ['notes.jpg', true],
    ])
  })

  it('accepts annotations listed before their images', async () => {
    const file = writeDoc({
      annotations: [ann(1, 1, 1)],
      categories: [{ id: 1, name: 'x' }],
      images: [{ id: 1, file_name: 'a.png', width: 64, height: 48 }],
    })
    const out = await importCoco(ctx(), { annotations: file, images: fx.images })
    expect(out.annotations).toBe(1)
  })

  it('cancelling leaves no partial dataset', async () => {
    const controller = new AbortController()
    const progress = () => controller.abort()
    await expect(
      importCoco(
        { db, signal: controller.signal, progress },
        { annotations: fx.annotations, images: fx.images },
      ),
    ).rejects.toThrow(/cancelled/)
    expect(rowCounts()).toEqual({ d: 0, i: 0, a: 0, c: 0 })
  })

  it('says what is wrong with the paths', async () => {
    await expect(
      importCoco(ctx(), { annotations: path.join(fx.root, 'nope.json'), images: fx.images }),
    ).rejects.toThrow(/does not exist/)
    await expect(
      importCoco(ctx(), { annotations: path.join(fx.root, 'annotations'), images: fx.images }),
    ).rejects.toThrow(/is a folder; choose the COCO instances JSON file itself/)
    await expect(
      importCoco(ctx(), { annotations: fx.annotations, images: path.join(fx.root, 'nope') }),
    ).rejects.toThrow(/images folder .* does not exist/)
  })
})

function ann(id: number, imageId: number, categoryId: number) {
  return {
    id,
    image_id: imageId,
    category_id: categoryId,
    iscrowd: 0,
    area: 4,
    bbox: [1, 1, 2, 2],
    segmentation: [[1, 1, 3, 1, 3, 3, 1, 3]],
  }
}
