import type { LabelChange } from '../../common/api/labels'
import { AppError } from '../../common/errors'
import type { Handlers } from '../dispatcher'
import type { Studio } from '../studio'
import { LabelEditor } from './editor'
import { runDatasetTaskInWorker } from '../datasets/handlers'
import { labelMapFromModel, paintLabelMap } from './labelMaps'
import { maskStrokeChange } from './masks'
import { acceptPredictions, runPredictions } from './predictions'
import { buildReviewQueue, decideReview, reviewQueue } from './review'

type LabelMethods = Extract<keyof Handlers, `labels:${string}` | `review:${string}`>

/** The label-editing methods over one studio; every change announces the dataset as changed. */
export function labelsHandlers(studio: Studio): Pick<Handlers, LabelMethods> {
  const editor = new LabelEditor(studio.db)
  const changed = (datasetId: number) => studio.bus.emit('dataset:changed', { datasetId })
  const after = <T extends { image: { datasetId: number } }>(r: T): T => {
    if ('operation' in r && r.operation) changed(r.image.datasetId)
    return r
  }
  return {
    'labels:image': ({ imageId }) => editor.imageState(imageId),
    'labels:edit': ({ imageId, changes, source, note }) =>
      after(editor.edit(imageId, changes, source, note ?? null)),
    'labels:undo': ({ imageId }) => after(editor.undo(imageId)),
    'labels:redo': ({ imageId }) => after(editor.redo(imageId)),
    'labels:revert': ({ imageId, operationId }) => after(editor.revert(imageId, operationId)),
    'labels:history': (q) => editor.history(q),
    'labels:operation': ({ id }) => editor.operation(id),
    'labels:versions': ({ datasetId }) => editor.versions(datasetId),
    'labels:diff': ({ datasetId, from, to }) => editor.diff(datasetId, from, to),
    'labels:predictions': ({ runId, imageId }) => runPredictions(editor, runId, imageId),
    'labels:accept': (q) => {
      const out = acceptPredictions(editor, q)
      const run = editor.store.run(q.runId)
      if (run && out.operations > 0) changed(run.dataset_id)
      return out
    },
    'labels:labelWithModel': async ({ modelId, imageId, minScore }) => {
      const result = await studio.interactive.image(modelId, imageId, false)
      if (result.status === 'done' && result.semanticPng)
        return after(
          await labelMapFromModel(editor, imageId, Buffer.from(result.semanticPng, 'base64')),
        )
      if (result.status !== 'done' || !result.predictions)
        throw new AppError(
          'INFERENCE_FAILED',
          result.error ??
            'The model gave no detections for this image (is it a segmentation model?).',
        )
      const changes: LabelChange[] = result.predictions
        .filter((p) => p.score >= minScore)
        .map((p) =>
          p.mask
            ? {
                op: 'create',
                categoryId: p.categoryId,
                bbox: p.bbox,
                segmentation: { kind: 'rle', ...p.mask },
              }
            : { op: 'create', categoryId: p.categoryId, bbox: p.bbox },
        )
      if (changes.length === 0)
        throw new AppError(
          'NOT_FOUND',
          `The model found nothing scoring ${minScore} or more on this image; lower the score to pre-fill.`,
        )
      return after(editor.edit(imageId, changes, 'prediction', `model ${modelId}`))
    },
    'labels:paint': async (req) => after(await paintLabelMap(editor, req)),
    'labels:maskStroke': (req) =>
      after(
        editor.edit(req.imageId, [maskStrokeChange(editor, req)], 'hand', `${req.tool} stroke`),
      ),
    // A job in the maintenance worker: reading a version's annotations at train2017 scale takes
    // seconds, and the thread serving the UI must not spend them.
    'labels:exportGt': ({ datasetId, version, format, out }) =>
      studio.jobs
        .run(
          {
            kind: 'labels',
            title: `Export the ground truth of dataset ${datasetId}${version === undefined ? '' : ` (v${version})`}`,
            datasetId,
          },
          (ctx) =>
            runDatasetTaskInWorker(
              studio,
              {
                kind: 'export-gt',
                datasetId,
                format,
                out,
                ...(version === undefined ? {} : { version }),
              },
              ctx,
            ),
          (outcome) => outcome.detail,
        )
        .then((outcome) => outcome.exported!),
    'review:build': ({ evaluationId, minScore }) =>
      buildReviewQueue(editor, evaluationId, minScore),
    'review:queue': ({ evaluationId, status, offset, limit }) =>
      reviewQueue(editor, evaluationId, status, offset, limit),
    'review:decide': ({ itemId, status }) => {
      const item = decideReview(editor, itemId, status)
      if (status === 'accepted') {
        const image = editor.store.image(item.imageId)
        if (image) changed(image.dataset_id)
      }
      return item
    },
  }
}
