/**
 * The review queue: likely label errors of a COCO evaluation, most likely first.
 *
 * Per image, the run's predictions are matched greedily by score to the current ground truth at
 * box IoU >= 0.5 (COCOeval's rule at its loosest threshold; detections inside crowd regions are
 * ignored as COCOeval ignores them). What is left over becomes an item:
 * - missing_label: a prediction scoring at least `minScore` that overlaps no label — often an
 *   object the annotators missed. Priority: its score.
 * - class_confusion: a prediction overlapping a label of another class at IoU >= 0.5 — often a
 *   wrong class in the label. Priority: score x IoU.
 * - wrong_label: a label no prediction matched, from a model that is otherwise good — often a
 *   spurious or misplaced label. Priority: the run's AP x (1 - best IoU of any prediction).
 *
 * Items are inserted once (a rebuild adds new ones and keeps every decision); deciding "accept"
 * applies the suggested fix as an ordinary, undoable edit.
 */
import type { ReviewItem, ReviewQueue } from '../../common/api/labels'
import { AppError } from '../../common/errors'
import { boxIou } from '../eval/rle'
import type { NewReviewItem, ReviewItemRow } from '../store/labelEdits'
import type { LabelEditor } from './editor'
import { acceptPredictions } from './predictions'

export function buildReviewQueue(
  editor: LabelEditor,
  evaluationId: number,
  minScore: number,
): ReviewQueue {
  const ev = editor.store.evaluation(evaluationId)
  if (!ev) throw new AppError('NOT_FOUND', `Evaluation ${evaluationId} does not exist.`)
  if (ev.kind === 'cityscapes')
    throw new AppError(
      'UNSUPPORTED',
      'The review queue is drawn from COCO evaluations (boxes and masks).',
    )
  if (ev.status !== 'done')
    throw new AppError(
      'CONFLICT',
      `Evaluation ${evaluationId} is ${ev.status}; build the queue once it is done.`,
    )
  const strength = ev.primary_metric ?? 0
  const items: NewReviewItem[] = []
  for (const imageId of editor.store.evaluationImageIds(evaluationId)) {
    const gts = editor.store.imageAnnotations(imageId).filter((a) => a.deleted === 0)
    const preds = editor.store.imagePredictions(ev.run_id, imageId, 0)
    const box = (r: { bbox_x: number; bbox_y: number; bbox_w: number; bbox_h: number }) => [
      r.bbox_x,
      r.bbox_y,
      r.bbox_w,
      r.bbox_h,
    ]
    const matched = new Set<number>()
    const bestIou = new Map<number, number>()
    const base = { evaluation_id: evaluationId, dataset_id: ev.dataset_id, image_id: imageId }
    for (const p of preds) {
      let same: { id: number; iou: number } | null = null
      let other: { id: number; iou: number; category: number } | null = null
      let inCrowd = false
      for (const g of gts) {
        const crowd = g.iscrowd === 1
        const iou = boxIou(box(p), box(g), crowd)
        if (crowd) {
          if (iou >= 0.5) inCrowd = true
          continue
        }
        bestIou.set(g.id, Math.max(bestIou.get(g.id) ?? 0, iou))
        if (iou < 0.5 || matched.has(g.id)) continue
        if (g.category_id === p.category_id) {
          if (!same || iou > same.iou) same = { id: g.id, iou }
        } else if (!other || iou > other.iou) other = { id: g.id, iou, category: g.category_id }
      }
      if (same) {
        matched.add(same.id)
        continue
      }
      if (p.score < minScore) continue
      if (other) {
        matched.add(other.id)
        items.push({
          ...base,
          kind: 'class_confusion',
          priority: p.score * other.iou,
          prediction_id: p.id,
          annotation_id: other.id,
          category_id: other.category,
          predicted_category_id: p.category_id,
          score: p.score,
          iou: other.iou,
        })
      } else if (!inCrowd) {
        items.push({
          ...base,
          kind: 'missing_label',
          priority: p.score,
          prediction_id: p.id,
          annotation_id: null,
          category_id: p.category_id,
          predicted_category_id: p.category_id,
          score: p.score,
          iou: null,
        })
      }
    }
    for (const g of gts) {
      if (g.iscrowd === 1 || matched.has(g.id)) continue
      const iou = bestIou.get(g.id) ?? 0
      items.push({
        ...base,
        kind: 'wrong_label',
        priority: strength * (1 - iou),
        prediction_id: null,
        annotation_id: g.id,
        category_id: g.category_id,
        predicted_category_id: null,
        score: null,
        iou,
      })
    }
  }
  editor.write(() => {
    for (const item of items) editor.store.insertReviewItem(item)
  })
  return reviewQueue(editor, evaluationId, undefined, 0, 100)
}

function toItem(editor: LabelEditor, r: ReviewItemRow): ReviewItem {
  const image = editor.store.image(r.image_id)
  let bbox: [number, number, number, number] | null = null
  if (r.prediction_id !== null) {
    const p = editor.store.prediction(r.prediction_id)
    if (p) bbox = [p.bbox_x, p.bbox_y, p.bbox_w, p.bbox_h]
  } else if (r.annotation_id !== null) {
    const a = editor.store.annotation(r.annotation_id)
    if (a) bbox = [a.bbox_x, a.bbox_y, a.bbox_w, a.bbox_h]
  }
  return {
    id: r.id,
    evaluationId: r.evaluation_id,
    imageId: r.image_id,
    fileName: image?.file_name ?? '',
    kind: r.kind,
    priority: r.priority,
    predictionId: r.prediction_id,
    annotationId: r.annotation_id,
    categoryId: r.category_id,
    predictedCategoryId: r.predicted_category_id,
    score: r.score,
    iou: r.iou,
    bbox,
    status: r.status,
    reviewedAt: r.reviewed_at,
  }
}

export function reviewQueue(
  editor: LabelEditor,
  evaluationId: number,
  status: ReviewItemRow['status'] | undefined,
  offset: number,
  limit: number,
): ReviewQueue {
  const ev = editor.store.evaluation(evaluationId)
  if (!ev) throw new AppError('NOT_FOUND', `Evaluation ${evaluationId} does not exist.`)
  const t = editor.store.reviewTotals(evaluationId)
  return {
    evaluationId,
    runId: ev.run_id,
    totals: {
      open: t.get('open') ?? 0,
      accepted: t.get('accepted') ?? 0,
      fixed: t.get('fixed') ?? 0,
      dismissed: t.get('dismissed') ?? 0,
    },
    items: editor.store
      .reviewQueue(evaluationId, status ?? null, offset, limit)
      .map((r) => toItem(editor, r)),
  }
}

/**
 * Records a decision. "accepted" applies the suggestion: a missing label is added from the
 * prediction, a confused class takes the predicted class, a wrong label is deleted.
 */
export function decideReview(
  editor: LabelEditor,
  itemId: number,
  status: ReviewItemRow['status'],
): ReviewItem {
  const item = editor.store.reviewItem(itemId)
  if (!item) throw new AppError('NOT_FOUND', `Review item ${itemId} does not exist.`)
  if (status === 'accepted' && item.status !== 'accepted') {
    const ev = editor.store.evaluation(item.evaluation_id)!
    if (item.kind === 'missing_label') {
      acceptPredictions(editor, { runId: ev.run_id, predictionIds: [item.prediction_id!] })
    } else {
      const a = editor.store.annotation(item.annotation_id!)
      if (!a || a.deleted)
        throw new AppError(
          'CONFLICT',
          `Annotation ${item.annotation_id} is already gone; dismiss the item.`,
        )
      const revision = editor.store.revision(a.id)
      editor.edit(
        a.image_id,
        item.kind === 'class_confusion'
          ? [
              {
                op: 'update',
                annotationId: a.id,
                revision,
                categoryId: item.predicted_category_id!,
              },
            ]
          : [{ op: 'delete', annotationId: a.id, revision }],
        'prediction',
        `review item ${item.id}`,
      )
    }
  }
  editor.write(() => editor.store.setReviewStatus(itemId, status))
  return toItem(editor, editor.store.reviewItem(itemId)!)
}
