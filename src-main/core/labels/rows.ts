/** Conversions between stored annotation rows, their JSON snapshots and the API's forms. */
import type { Annotation } from '../../common/api'
import { segmentationForApi } from '../datasets/segmentation'
import type { AnnotationRow } from '../store/labelEdits'

/**
 * A row's snapshot for annotation_edits.before/after: every column, so that undo writes back
 * exactly what was there (JSON round-trips doubles exactly).
 */
export const snapshot = (row: AnnotationRow | null | undefined): string | null =>
  row ? JSON.stringify(row) : null

export const fromSnapshot = (json: string | null): AnnotationRow | null =>
  json === null ? null : (JSON.parse(json) as AnnotationRow)

export function rowToAnnotation(r: AnnotationRow): Annotation {
  return {
    id: r.id,
    sourceId: r.source_id,
    imageId: r.image_id,
    categoryId: r.category_id,
    iscrowd: r.iscrowd === 1,
    area: r.area,
    bbox: [r.bbox_x, r.bbox_y, r.bbox_w, r.bbox_h],
    segmentation: segmentationForApi(r.segm_kind, r.segmentation),
  }
}

export const rowToState = (r: AnnotationRow | null) =>
  r ? { ...rowToAnnotation(r), deleted: r.deleted === 1 } : null

/** Whether two rows hold the same annotation content (ids aside). */
export function sameContent(a: AnnotationRow, b: AnnotationRow): boolean {
  return (
    a.category_id === b.category_id &&
    a.iscrowd === b.iscrowd &&
    a.area === b.area &&
    a.bbox_x === b.bbox_x &&
    a.bbox_y === b.bbox_y &&
    a.bbox_w === b.bbox_w &&
    a.bbox_h === b.bbox_h &&
    a.segm_kind === b.segm_kind &&
    a.segmentation === b.segmentation &&
    a.deleted === b.deleted
  )
}
