// The predictions, semantic_outputs and attention_maps tables through their store modules: an
// image's results replace what an earlier attempt stored, read back best first for the viewer,
// as COCO results (either image ids) and as label PNGs; attention maps read back byte for byte.
import type Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { AttentionMapStore } from '../../../src-main/core/store/attentionMaps'
import { ModelStore } from '../../../src-main/core/store/models'
import { PredictionStore, type StoredDetection } from '../../../src-main/core/store/predictions'
import { RunStore } from '../../../src-main/core/store/runs'
import { newModel, seedDataset, storeAt } from './runRows'

function setUp(): {
  db: Database.Database
  store: PredictionStore
  images: number[]
  runId: number
} {
  const db = storeAt()
  const images = seedDataset(db)
  new ModelStore(db).add(newModel('aaa'))
  const runId = new RunStore(db).create({
    modelId: 1,
    datasetId: 1,
    settings: { modelId: 1, datasetId: 1, ep: 'auto', taps: true, threads: 0 },
    imagesTotal: 3,
  })
  return { db, store: new PredictionStore(db), images, runId }
}

const det = (categoryId: number, score: number, maskRle: string | null = null) => ({
  categoryId,
  score,
  bbox: [1, 2, 30, 40] as StoredDetection['bbox'],
  maskRle,
  area: 1200,
})

describe('PredictionStore', () => {
  it("replaces an image's detections and reads them best first", () => {
    const { db, store, images, runId } = setUp()
    const [a, b] = images as [number, number]
    store.replaceImage(runId, a, [det(3, 0.4), det(1, 0.9, 'PPYo1'), det(2, 0.6)], null)
    store.replaceImage(runId, b, [det(5, 0.7)], null)
    expect(store.forImage(runId, a)).toEqual([
      { categoryId: 1, score: 0.9, bbox: [1, 2, 30, 40], maskRle: 'PPYo1' },
      { categoryId: 2, score: 0.6, bbox: [1, 2, 30, 40], maskRle: null },
      { categoryId: 3, score: 0.4, bbox: [1, 2, 30, 40], maskRle: null },
    ])
    expect(db.prepare('SELECT area FROM predictions WHERE image_id = ? LIMIT 1').get(a)).toEqual({
      area: 1200,
    })
    // A retried image keeps only its new results; the other image is untouched.
    store.replaceImage(runId, a, [det(4, 0.5)], null)
    expect(store.forImage(runId, a).map((d) => d.categoryId)).toEqual([4])
    expect(store.forImage(runId, b).map((d) => d.categoryId)).toEqual([5])
    store.replaceImage(runId, a, [], null)
    expect(store.forImage(runId, a)).toEqual([])
    expect(store.semanticPng(runId, a)).toBeNull()
  })

  it('gives COCO results in stored order, with the dataset file or the store image ids', () => {
    const { store, images, runId } = setUp()
    const [a, b] = images as [number, number]
    store.replaceImage(runId, b, [det(5, 0.7, 'PPYo1')], null)
    store.replaceImage(runId, a, [det(1, 0.9)], null)
    expect(store.cocoResults(runId, 'source')).toEqual([
      {
        image_id: 102,
        category_id: 5,
        bbox: [1, 2, 30, 40],
        score: 0.7,
        segmentation: { size: [240, 320], counts: 'PPYo1' },
      },
      { image_id: 101, category_id: 1, bbox: [1, 2, 30, 40], score: 0.9 },
    ])
    expect(store.cocoResults(runId, 'store').map((r) => r.image_id)).toEqual([b, a])
    expect(store.cocoResults(runId + 1, 'store')).toEqual([])
  })

  it('stores label maps, and lists them by image, with ground truth only when asked', () => {
    const { store, images, runId } = setUp()
    const [a, b] = images as [number, number]
    const png = (n: number) => new Uint8Array([0x89, 0x50, 0x4e, 0x47, n])
    store.replaceImage(runId, b, [], png(2))
    store.replaceImage(runId, a, [], png(1))
    store.replaceImage(runId, a, [], png(3))
    expect(store.semanticPng(runId, a)).toEqual(Buffer.from(png(3)))
    expect(store.labelPngs(runId, false)).toEqual([
      { imageId: a, fileName: 'a.jpg', png: Buffer.from(png(3)) },
      { imageId: b, fileName: 'b.jpg', png: Buffer.from(png(2)) },
    ])
    expect(store.labelPngs(runId, true).map((p) => p.imageId)).toEqual([a])
  })
})

describe('AttentionMapStore', () => {
  it("writes an image's maps, replaces them, and reads them back by block", () => {
    const { db, images, runId } = setUp()
    const maps = new AttentionMapStore(db)
    const transform = new Uint16Array([0x3c00, 0xbc00, 0x0001])
    const map = (block: number, fill: number) => ({
      block,
      height: 2,
      width: 3,
      min: 0.001,
      max: 0.25,
      data: new Uint8Array(6).fill(fill),
      transform: block === 0 ? transform : null,
      weights: new Uint16Array(6).fill(0x2000),
    })
    maps.write(runId, images[0]!, [map(1, 9), map(0, 7)])
    maps.write(runId, images[0]!, [map(1, 200)])
    const read = maps.forImage(runId, images[0]!)
    expect(read.map((m) => m.block)).toEqual([0, 1])
    expect(read[0]).toEqual({
      block: 0,
      height: 2,
      width: 3,
      min: 0.001,
      max: 0.25,
      data: new Uint8Array(6).fill(7),
      transform,
    })
    expect(read[1]!.data).toEqual(new Uint8Array(6).fill(200))
    expect(read[1]!.transform).toBeNull()
    expect(
      db.prepare('SELECT length(weights_f16) AS n FROM attention_maps WHERE block_index = 1').get(),
    ).toEqual({ n: 12 })
    expect(maps.forImage(runId, images[1]!)).toEqual([])
  })
})
