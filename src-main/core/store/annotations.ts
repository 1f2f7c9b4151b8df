/**
 * Ground-truth reads for the browser and the viewer, through `live_annotations` (a soft-deleted
 * annotation is never seen). Rows come back as stored (`AnnotationRow`, the label editor's
 * type), for `rowToAnnotation` to decode their segmentation. The label editor reads and writes
 * the table itself (core/store/labelEdits.ts); an import writes it in bulk
 * (core/store/datasetImport.ts).
 */
import type { AnnotationRow } from './labelEdits'
import { LIVE_ANNOTATIONS, perDb } from './sql'
import type { Db } from './store'

export class AnnotationStore {
  #forImage

  constructor(db: Db) {
    this.#forImage = db.prepare<[number], AnnotationRow>(
      `SELECT id, dataset_id, image_id, source_id, category_id, iscrowd, area, bbox_x, bbox_y, bbox_w, bbox_h,
         segm_kind, segmentation, deleted
       FROM ${LIVE_ANNOTATIONS} WHERE image_id = ? ORDER BY id`,
    )
  }

  /** An image's annotations, in id order. */
  forImage(imageId: number): AnnotationRow[] {
    return this.#forImage.all(imageId)
  }
}

export const annotationStore = perDb((db: Db) => new AnnotationStore(db))
