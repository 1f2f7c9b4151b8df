import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Evaluation, Model } from '../../../src-main/common/api'
import type { LabelImageState, ReviewItem, ReviewQueue } from '../../../src-main/common/api/labels'
import { Studio } from '../../../src-main/core/studio'
import { tempDir } from '../../helpers/fixtures'
import { call, imageIds, labelDataset } from './helpers'

let studio: Studio
let datasetId: number
let runId: number
let one: number

beforeAll(async () => {
  studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
  ;({ datasetId } = await labelDataset(studio))
  ;[one] = imageIds(studio.db, datasetId) as [number]
  const { model } = await call<{ model: Model }>(studio, 'models:add', {
    path: path.join(import.meta.dirname, '../../fixtures/onnx/mmdeploy_det'),
  })
  runId = (await call<{ id: number }>(studio, 'runs:start', { modelId: model.id, datasetId })).id
  await studio.runs.idle()
})
afterAll(async () => studio.close())

describe('the review queue', () => {
  it('finds a class confusion, accepts the predicted class, and keeps decisions across rebuilds', async () => {
    const [bbox] = await call<Evaluation[]>(studio, 'evaluations:run', { runId })
    // Image one's car is relabelled cat by mistake: the car prediction now sits on a cat label.
    const car = (await call<LabelImageState>(studio, 'labels:image', { imageId: one }))
      .annotations[0]!
    await call(studio, 'labels:edit', {
      imageId: one,
      changes: [{ op: 'update', annotationId: car.id, revision: 0, categoryId: 17 }],
    })
    const q = await call<ReviewQueue>(studio, 'review:build', { evaluationId: bbox!.id })
    const confusion = q.items.find((i) => i.kind === 'class_confusion')!
    expect([
      confusion.fileName,
      confusion.categoryId,
      confusion.predictedCategoryId,
      confusion.iou,
      confusion.annotationId,
    ]).toEqual(['one.png', 17, 3, 1, car.id])
    // Priority: score x IoU; a missing label's is its score.
    expect(confusion.priority).toBe(confusion.score! * confusion.iou!)
    const missing = q.items.find((i) => i.kind === 'missing_label')!
    expect(missing.priority).toBe(missing.score)
    const decided = await call<ReviewItem>(studio, 'review:decide', {
      itemId: confusion.id,
      status: 'accepted',
    })
    expect(decided.status).toBe('accepted')
    const after = await call<LabelImageState>(studio, 'labels:image', { imageId: one })
    expect(after.annotations[0]!.categoryId).toBe(3)
    await call(studio, 'review:decide', { itemId: missing.id, status: 'dismissed' })
    // A rebuild adds nothing twice and forgets no decision.
    const again = await call<ReviewQueue>(studio, 'review:build', { evaluationId: bbox!.id })
    expect(again.items.length).toBe(q.items.length)
    expect(again.totals).toMatchObject({ accepted: 1, dismissed: 1 })
    const open = await call<ReviewQueue>(studio, 'review:queue', {
      evaluationId: bbox!.id,
      status: 'open',
    })
    expect(open.items.every((i) => i.status === 'open')).toBe(true)
    expect(open.items.length).toBe(q.items.length - 2)
  })
})
