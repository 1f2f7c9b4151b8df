// The annotations store reads an image's ground truth through live_annotations: a soft-deleted
// annotation (the label editor's delete) is never seen; rows come back exactly as stored.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { annotationStore } from '../../../src-main/core/store/annotations'
import type { Db } from '../../../src-main/core/store/store'
import { box, memoryStore, newImport } from '../../helpers/storeRows'

describe('AnnotationStore', () => {
  let db: Db
  beforeEach(() => (db = memoryStore()))
  afterEach(() => db.close())

  it("reads an image's live annotations in id order, as stored", () => {
    const w = newImport(db, 'd')
    w.category({ id: 3, name: 'cat', supercategory: null, trainId: null, color: [0, 0, 0] })
    const im = w.image(1, 'a.jpg', 10, 10)
    const other = w.image(2, 'b.jpg', 10, 10)
    const polygon = '[[0,0,4,0,4,4]]'
    const rle = '{"size":[10,10],"counts":[11,2,87]}'
    w.annotation(
      box(im, 70, 3, { area: 8, bbox: [0, 0, 4, 4], segmKind: 'polygon', segmentation: polygon }),
    )
    w.annotation(
      box(im, 71, 3, {
        iscrowd: true,
        area: 2,
        bbox: [1, 1, 2, 1],
        segmKind: 'rle',
        segmentation: rle,
      }),
    )
    w.annotation(box(im, 72, 3))
    w.annotation(box(other, 73, 3))
    w.finish()
    db.prepare('UPDATE annotations SET deleted = 1 WHERE source_id = 72').run()
    const anns = annotationStore(db).forImage(im)
    const stored = { dataset_id: w.datasetId, image_id: im, category_id: 3, deleted: 0 }
    expect(anns).toEqual([
      {
        ...stored,
        id: expect.any(Number),
        source_id: 70,
        iscrowd: 0,
        area: 8,
        bbox_x: 0,
        bbox_y: 0,
        bbox_w: 4,
        bbox_h: 4,
        segm_kind: 'polygon',
        segmentation: polygon,
      },
      {
        ...stored,
        id: expect.any(Number),
        source_id: 71,
        iscrowd: 1,
        area: 2,
        bbox_x: 1,
        bbox_y: 1,
        bbox_w: 2,
        bbox_h: 1,
        segm_kind: 'rle',
        segmentation: rle,
      },
    ])
    expect(anns[0]!.id).toBeLessThan(anns[1]!.id)
    expect(
      annotationStore(db)
        .forImage(other)
        .map((a) => a.source_id),
    ).toEqual([73])
  })
})
