/**
 * COCO masks stored as RLE, edited with a brush and an eraser: the stroke is rasterised as the
 * label-map brush does (discs along the path), applied to the decoded mask and encoded again;
 * the result is an ordinary update of the annotation (one undo step, area and box from the mask).
 */
import type { LabelChange, MaskStroke } from '../../common/api/labels'
import { AppError } from '../../common/errors'
import { decodeRle, encodeMask } from '../eval/rle'
import type { LabelEditor } from './editor'
import { storedRle } from './geometry'
import { strokeMask } from './labelMaps'

export function maskStrokeChange(editor: LabelEditor, req: MaskStroke): LabelChange {
  const row = editor.store.annotation(req.annotationId)
  if (!row || row.image_id !== req.imageId || row.deleted)
    throw new AppError(
      'NOT_FOUND',
      `Annotation ${req.annotationId} is not on image ${req.imageId}.`,
    )
  if (row.segm_kind !== 'rle' || !row.segmentation)
    throw new AppError(
      'INVALID_INPUT',
      `Annotation ${row.id} is a ${row.segm_kind === 'polygon' ? 'polygon: edit its points' : 'box: resize it'}; the brush edits masks.`,
    )
  const rle = storedRle(row.segmentation)
  const mask = decodeRle(rle, 'row-major')
  const stroke = strokeMask(
    { tool: 'brush', points: req.points, radius: req.radius },
    rle.width,
    rle.height,
  )
  const value = req.tool === 'brush' ? 1 : 0
  for (let i = 0; i < mask.length; i++) if (stroke[i]) mask[i] = value
  const next = encodeMask(mask, rle.height, rle.width, 'row-major')
  return {
    op: 'update',
    annotationId: row.id,
    revision: req.revision,
    segmentation: { kind: 'rle', size: [rle.height, rle.width], counts: Array.from(next.counts) },
  }
}
