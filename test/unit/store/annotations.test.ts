// The annotations store reads an image's ground truth through live_annotations: a soft-deleted
// annotation (the label editor's delete) is never seen; segmentations come back as stored.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { annotationStore } from '../../../src-main/core/store/annotations'
import { DatasetImportStore } from '../../../src-main/core/store/datasetImport'
import type { Db } from '../../../src-main/core/store/store'
import { memoryStore } from '../../helpers/storeRows'

describe('AnnotationStore', () => {
  let db: Db
  beforeEach(() => (db = memoryStore()))
  afterEach(() => db.close())

  it("reads an image's live annotations in id order, segmentation as stored", () => {
    const w = new DatasetImportStore(db, {
      name: 'd',
      kind: 'coco',
      split: null,
      imagesRoot: '/i',
      source: '/a.json',
      isDemo: false,
    })
    w.category({ id: 3, name: 'cat', supercategory: null, trainId: null, color: [0, 0, 0] })
    const im = w.image(1, 'a.jpg', 10, 10)
    const other = w.image(2, 'b.jpg', 10, 10)
    const polygon = '[[0,0,4,0,4,4]]'
    w.annotation({
      imageId: im,
      sourceId: 70,
      categoryId: 3,
      iscrowd: false,
      area: 8,
      bbox: [0, 0, 4, 4],
      segmKind: 'polygon',
      segmentation: polygon,
    })
    w.annotation({
      imageId: im,
      sourceId: 71,
      categoryId: 3,
      iscrowd: true,
      area: 2,
      bbox: [1, 1, 2, 1],
      segmKind: 'rle',
      segmentation: '{"size":[10,10],"counts":[11,2,87]}',
    })
    w.annotation({
      imageId: im,
      sourceId: 72,
      categoryId: 3,
      iscrowd: false,
      area: 1,
      bbox: [5, 5, 1, 1],
      segmKind: 'none',
      segmentation: null,
    })
    w.annotation({
      imageId: other,
      sourceId: 73,
      categoryId: 3,
      iscrowd: false,
      area: 1,
      bbox: [0, 0, 1, 1],
      segmKind: 'none',
      segmentation: null,
    })
    w.finish()
    db.prepare('UPDATE annotations SET deleted = 1 WHERE source_id = 72').run()
    const anns = annotationStore(db).forImage(im)
    expect(anns).toEqual([
      {
        id: expect.any(Number),
        sourceId: 70,
        imageId: im,
        categoryId: 3,
        iscrowd: false,
        area: 8,
        bbox: [0, 0, 4, 4],
        segmKind: 'polygon',
        segmentationJson: polygon,
      },
      {
        id: expect.any(Number),
        sourceId: 71,
        imageId: im,
        categoryId: 3,
        iscrowd: true,
        area: 2,
        bbox: [1, 1, 2, 1],
        segmKind: 'rle',
        segmentationJson: '{"size":[10,10],"counts":[11,2,87]}',
      },
    ])
    expect(anns[0]!.id).toBeLessThan(anns[1]!.id)
    expect(
      annotationStore(db)
        .forImage(other)
        .map((a) => a.sourceId),
    ).toEqual([73])
  })
})
