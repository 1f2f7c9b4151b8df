/**
 * Ground-truth reads for the browser and the viewer, through `live_annotations` (a soft-deleted
 * annotation is never seen). The label editor reads and writes the table itself
 * (core/store/labelEdits.ts); an import writes it in bulk (core/store/datasetImport.ts).
 */
import type { Annotation } from '../../common/api'
import { LIVE_ANNOTATIONS, perDb } from './sql'
import type { Db } from './store'

/** An annotation as stored: the segmentation as its kind and JSON text (decoded by the service). */
export interface StoredAnnotation extends Omit<Annotation, 'segmentation'> {
  segmKind: 'none' | 'polygon' | 'rle'
  segmentationJson: string | null
}

interface RawRow {
  id: number
  source_id: number
  image_id: number
  category_id: number
  iscrowd: number
  area: number
  bbox_x: number
  bbox_y: number
  bbox_w: number
  bbox_h: number
  segm_kind: StoredAnnotation['segmKind']
  segmentation: string | null
}

const toAnnotation = (a: RawRow): StoredAnnotation => ({
  id: a.id,
  sourceId: a.source_id,
  imageId: a.image_id,
  categoryId: a.category_id,
  iscrowd: a.iscrowd === 1,
  area: a.area,
  bbox: [a.bbox_x, a.bbox_y, a.bbox_w, a.bbox_h],
  segmKind: a.segm_kind,
  segmentationJson: a.segmentation,
})

export class AnnotationStore {
  #forImage

  constructor(db: Db) {
    this.#forImage = db.prepare<[number], RawRow>(
      `SELECT id, source_id, image_id, category_id, iscrowd, area, bbox_x, bbox_y, bbox_w, bbox_h, segm_kind, segmentation
       FROM ${LIVE_ANNOTATIONS} WHERE image_id = ? ORDER BY id`,
    )
  }

  /** An image's annotations, in id order. */
  forImage(imageId: number): StoredAnnotation[] {
    return this.#forImage.all(imageId).map(toAnnotation)
  }
}

export const annotationStore = perDb((db: Db) => new AnnotationStore(db))
