import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { importCityscapes } from '../../../src-main/core/datasets/cityscapesImport'
import { getCategories, getImage, queryImages } from '../../../src-main/core/datasets/queries'
import {
  cityscapesLabels,
  labelIdToTrainId,
  trainIdToLabelId,
  cityscapesTrainLabels,
} from '../../../src-main/common/cityscapesLabels'
import { openStore, type Db } from '../../../src-main/core/store/store'
import { MediaService } from '../../../src-main/core/media'
import { makeCityscapesFixture, tempDir, type CityscapesFixture } from '../../helpers/fixtures'
import sharp from 'sharp'

let db: Db
let fx: CityscapesFixture
const ctx = () => ({ db, signal: new AbortController().signal, progress: () => {} })

beforeEach(async () => {
  db = openStore(tempDir())
  fx = await makeCityscapesFixture()
})
afterEach(() => db.close())

describe('Cityscapes label ids', () => {
  // The 19 evaluated classes, as cityscapesScripts' labels.py orders them by train id.
  it('maps the 34 label ids to the 19 train ids and ignore', () => {
    expect(cityscapesTrainLabels.map((l) => `${l.trainId}:${l.id}`)).toEqual([
      '0:7',
      '1:8',
      '2:11',
      '3:12',
      '4:13',
      '5:17',
      '6:19',
      '7:20',
      '8:21',
      '9:22',
      '10:23',
      '11:24',
      '12:25',
      '13:26',
      '14:27',
      '15:28',
      '16:31',
      '17:32',
      '18:33',
    ])
    expect(cityscapesLabels.filter((l) => l.id >= 0)).toHaveLength(34)
    for (const id of [0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30, 200])
      expect(labelIdToTrainId[id]).toBe(255)
    for (const l of cityscapesTrainLabels) expect(trainIdToLabelId[l.trainId]).toBe(l.id)
    expect(cityscapesLabels.find((l) => l.name === 'car')!.color).toEqual([0, 0, 142])
  })
})

describe('Cityscapes import', () => {
  it('imports frames, class pixel counts and instances recovered from instanceIds', async () => {
    const out = await importCityscapes(ctx(), { root: fx.root, split: fx.split })
    expect(out.images).toBe(2)
    // Frame 1, in instance-id order: a car group without instance number (26, crowd), person 24001, car 26001.
    expect(out.annotations).toBe(3)
    const page = queryImages(db, { datasetId: out.datasetId })
    expect(page.items.map((i) => i.fileName)).toEqual([
      'testcity/testcity_000000_000019_leftImg8bit.png',
      'testcity/testcity_000001_000019_leftImg8bit.png',
    ])
    const first = getImage(db, page.items[0]!.id)
    expect(first.hasSemantic).toBe(true)
    const inst = first.annotations.map((a) => ({
      cat: a.categoryId,
      crowd: a.iscrowd,
      area: a.area,
      bbox: a.bbox,
    }))
    expect(inst).toEqual([
      { cat: 26, crowd: true, area: 16 * 6, bbox: [44, 20, 16, 6] },
      { cat: 24, crowd: false, area: 6 * 18, bbox: [30, 10, 6, 18] },
      { cat: 26, crowd: false, area: 16 * 10, bbox: [4, 18, 16, 10] },
    ])
    const pixels = Object.fromEntries(first.classes.map((c) => [c.categoryId, c.pixelCount]))
    expect(pixels[0]).toBe(2 * 32)
    expect(pixels[26]).toBe(16 * 10 + 16 * 6)
    expect(pixels[24]).toBe(6 * 18)
    // The class filter finds frames by label-map classes too (sky only in frame 1, building only in frame 2).
    expect(queryImages(db, { datasetId: out.datasetId, categoryIds: [23] }).items).toHaveLength(1)
    expect(
      queryImages(db, { datasetId: out.datasetId, categoryIds: [11] }).items[0]!.fileName,
    ).toMatch(/000001/)
    const cats = getCategories(db, out.datasetId)
    expect(cats).toHaveLength(34)
    expect(cats.find((c) => c.id === 26)).toMatchObject({
      name: 'car',
      trainId: 13,
      color: [0, 0, 142],
      annotationCount: 2,
      imageCount: 1,
    })
  })

  it('serves the label map in the official palette, transparent where unlabeled', async () => {
    const dataDir = tempDir()
    const out = await importCityscapes(ctx(), { root: fx.root, split: fx.split })
    const media = new MediaService(db, dataDir)
    const id = queryImages(db, { datasetId: out.datasetId }).items[0]!.id
    const png = await media.get('semantic', id)
    const { data, info } = await sharp(png.body).raw().toBuffer({ resolveWithObject: true })
    const px = (x: number, y: number) => [
      ...data.subarray((y * info.width + x) * 4, (y * info.width + x) * 4 + 4),
    ]
    expect(px(10, 5)).toEqual([70, 130, 180, 255]) // sky
    expect(px(40, 30)).toEqual([128, 64, 128, 255]) // road
    expect(px(8, 20)).toEqual([0, 0, 142, 255]) // car
    expect(px(0, 5)[3]).toBe(0) // unlabeled
  })

  it('explains a folder that is not a Cityscapes root', async () => {
    await expect(
      importCityscapes(ctx(), { root: path.join(fx.root, 'leftImg8bit'), split: 'val' }),
    ).rejects.toThrow(
      /is not a Cityscapes root: a Cityscapes root holds leftImg8bit\/val\/<city>\/\*_leftImg8bit\.png and gtFine\/val\/.* Choose its parent folder/,
    )
    await expect(importCityscapes(ctx(), { root: fx.root, split: 'train' })).rejects.toThrow(
      /has no "train" split folder: a Cityscapes root holds leftImg8bit\/train\//,
    )
    await expect(
      importCityscapes(ctx(), { root: path.join(fx.root, 'nope'), split: 'val' }),
    ).rejects.toThrow(/does not exist/)
  })

  it('fails on a label map of the wrong size and leaves nothing behind', async () => {
    const gt = path.join(
      fx.root,
      'gtFine',
      'val',
      'testcity',
      `${fx.frames[1]}_gtFine_labelIds.png`,
    )
    await sharp(new Uint8Array(100), { raw: { width: 10, height: 10, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(gt + '.tmp.png')
    fs.renameSync(gt + '.tmp.png', gt)
    await expect(importCityscapes(ctx(), { root: fx.root, split: 'val' })).rejects.toThrow(
      /labelIds\.png is 10x10 but its image is 64x32/,
    )
    expect(db.prepare('SELECT count(*) AS n FROM images').get()).toEqual({ n: 0 })
    expect(db.prepare('SELECT count(*) AS n FROM datasets').get()).toEqual({ n: 0 })
  })

  it('fails on a truncated instance map with the file named', async () => {
    const inst = path.join(
      fx.root,
      'gtFine',
      'val',
      'testcity',
      `${fx.frames[0]}_gtFine_instanceIds.png`,
    )
    const bytes = fs.readFileSync(inst)
    fs.writeFileSync(inst, bytes.subarray(0, Math.floor(bytes.length / 2)))
    await expect(importCityscapes(ctx(), { root: fx.root, split: 'val' })).rejects.toThrow(
      /instanceIds\.png cannot be decoded/,
    )
    expect(db.prepare('SELECT count(*) AS n FROM datasets').get()).toEqual({ n: 0 })
  })
})
