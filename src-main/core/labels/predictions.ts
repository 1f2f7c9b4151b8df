/**
 * Model-assisted labels: a run's predictions accepted as ground truth (one, all above a score in
 * an image, or in the whole dataset), each image's acceptance one undoable operation with source
 * 'prediction', all of them in one transaction.
 */
import type { AcceptResult, LabelChange, RunPrediction } from '../../common/api/labels'
import { AppError } from '../../common/errors'
import { rleFromString } from '../eval/rle'
import type { PredictionRow } from '../store/labelEdits'
import type { LabelEditor } from './editor'

export function predictionChange(p: PredictionRow, height: number, width: number): LabelChange {
  if (p.mask_rle) {
    const rle = rleFromString(p.mask_rle, height, width)
    return {
      op: 'create',
      categoryId: p.category_id,
      bbox: [p.bbox_x, p.bbox_y, p.bbox_w, p.bbox_h],
      segmentation: { kind: 'rle', size: [height, width], counts: Array.from(rle.counts) },
    }
  }
  return { op: 'create', categoryId: p.category_id, bbox: [p.bbox_x, p.bbox_y, p.bbox_w, p.bbox_h] }
}

export function runPredictions(
  editor: LabelEditor,
  runId: number,
  imageId: number,
): RunPrediction[] {
  if (!editor.store.run(runId)) throw new AppError('NOT_FOUND', `Run ${runId} does not exist.`)
  return editor.store.imagePredictions(runId, imageId, 0).map((p) => ({
    id: p.id,
    imageId: p.image_id,
    categoryId: p.category_id,
    score: p.score,
    bbox: [p.bbox_x, p.bbox_y, p.bbox_w, p.bbox_h],
    hasMask: p.mask_rle !== null,
  }))
}

export function acceptPredictions(
  editor: LabelEditor,
  q: { runId: number; predictionIds?: number[]; imageId?: number; minScore?: number },
): AcceptResult {
  const run = editor.store.run(q.runId)
  if (!run) throw new AppError('NOT_FOUND', `Run ${q.runId} does not exist.`)
  let rows: PredictionRow[]
  if (q.predictionIds) {
    rows = q.predictionIds.map((id) => {
      const p = editor.store.prediction(id)
      if (!p || p.run_id !== q.runId)
        throw new AppError('NOT_FOUND', `Prediction ${id} is not a prediction of run ${q.runId}.`)
      return p
    })
  } else if (q.imageId !== undefined) {
    rows = editor.store.imagePredictions(q.runId, q.imageId, q.minScore ?? 0.5)
  } else {
    if (q.minScore === undefined)
      throw new AppError(
        'INVALID_INPUT',
        'Accepting predictions across a dataset needs a minimum score (minScore).',
      )
    rows = editor.store.runPredictions(q.runId, q.minScore)
  }
  const byImage = new Map<number, PredictionRow[]>()
  for (const p of rows) {
    const list = byImage.get(p.image_id)
    if (list) list.push(p)
    else byImage.set(p.image_id, [p])
  }
  const warnings: string[] = []
  let operations = 0
  editor.write(() => {
    for (const [imageId, preds] of byImage) {
      const image = editor.image(imageId)
      const changes = preds.map((p) => predictionChange(p, image.height, image.width))
      editor.applyChanges(
        image,
        changes,
        'prediction',
        `run ${q.runId}: prediction ${preds.map((p) => p.id).join(', ')}`,
        warnings,
      )
      operations++
    }
  })
  return {
    operations,
    created: rows.length,
    images: byImage.size,
    gtVersion: editor.dataset(run.dataset_id).gt_version,
    warnings: [...new Set(warnings)].slice(0, 20),
  }
}
