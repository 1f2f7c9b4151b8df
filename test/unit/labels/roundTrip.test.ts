/**
 * The edited ground truth, end to end: a run is evaluated (version 1), labels are fixed
 * (a prediction accepted as a label, a class changed, a label deleted, a polygon drawn), the run
 * is evaluated again (version 2), and the export of version 2 scored by pycocotools gives the
 * studio's version-2 numbers. The exported files and pycocotools' numbers are committed under
 * test/fixtures/labels/ (README there says how they were made); this test checks that the export
 * is still those files and the studio still those numbers.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Evaluation, EvaluationDetail, Job, Model } from '../../../src-main/common/api'
import type {
  AcceptResult,
  EditResult,
  LabelImageState,
  ReviewItem,
  ReviewQueue,
  RunPrediction,
} from '../../../src-main/common/api/labels'
import { exportCocoResults } from '../../../src-main/core/exports'
import { Studio } from '../../../src-main/core/studio'
import { tempDir } from '../../helpers/fixtures'
import { call, imageIds, labelDataset } from './helpers'

const fixtures = path.join(import.meta.dirname, '../../fixtures/labels')
const onnxDir = path.join(import.meta.dirname, '../../fixtures/onnx')
const write = process.env.GCSTUDIO_WRITE_FIXTURES === '1'

let studio: Studio
let datasetId: number
let runId: number
let one: number
let two: number
const out = tempDir()

beforeAll(async () => {
  studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
  ;({ datasetId } = await labelDataset(studio))
  ;[one, two] = imageIds(studio.db, datasetId) as [number, number]
  const { model } = await call<{ model: Model }>(studio, 'models:add', {
    path: path.join(onnxDir, 'mmdeploy_det'),
  })
  runId = (await call<{ id: number }>(studio, 'runs:start', { modelId: model.id, datasetId })).id
  await studio.runs.idle()
})
afterAll(async () => studio.close())

const evaluate = () => call<Evaluation[]>(studio, 'evaluations:run', { runId })
const stats = async (e: Evaluation) =>
  (await call<EvaluationDetail>(studio, 'evaluations:get', { id: e.id })).metrics!.stats as number[]

describe('fixing labels, re-evaluating and exporting', () => {
  it('evaluates on the new version, keeps the old one, and matches pycocotools on the export', async () => {
    const v1 = await evaluate()
    expect(v1.map((e) => [e.kind, e.gtVersion])).toEqual([
      ['coco-bbox', 1],
      ['coco-segm', 1],
    ])
    // The review queue of the bbox evaluation: image two's car prediction overlaps no label
    // (a possibly missing label), its labelled car is missed (possibly a wrong label).
    const queue = await call<ReviewQueue>(studio, 'review:build', { evaluationId: v1[0]!.id })
    expect(queue.items.map((i) => [i.kind, i.fileName, i.categoryId, i.score])).toEqual([
      ['missing_label', 'two.png', 3, Math.fround(0.9)],
      ['wrong_label', 'two.png', 3, null],
    ])
    expect(queue.totals).toEqual({ open: 2, accepted: 0, fixed: 0, dismissed: 0 })

    // 1. Accept the car prediction on image two as a label, from the review queue.
    const decided = await call<ReviewItem>(studio, 'review:decide', {
      itemId: queue.items[0]!.id,
      status: 'accepted',
    })
    expect(decided.status).toBe('accepted')
    const preds = await call<RunPrediction[]>(studio, 'labels:predictions', { runId, imageId: two })
    expect(preds.map((p) => [p.categoryId, p.score])).toEqual([
      [3, Math.fround(0.9)],
      [90, Math.fround(0.6)],
    ])
    // 2. The other car on image two is really a cat; 3. its toothbrush label goes.
    const s2 = await call<LabelImageState>(studio, 'labels:image', { imageId: two })
    const car = s2.annotations.find((a) => a.categoryId === 3 && a.bbox[0] === 40)!
    const brush = s2.annotations.find((a) => a.categoryId === 90)!
    await call<EditResult>(studio, 'labels:edit', {
      imageId: two,
      changes: [
        { op: 'update', annotationId: car.id, revision: 0, categoryId: 17 },
        { op: 'delete', annotationId: brush.id, revision: 0 },
      ],
    })
    // 4. A toothbrush the annotators missed on image one, drawn as a polygon.
    await call<EditResult>(studio, 'labels:edit', {
      imageId: one,
      changes: [
        {
          op: 'create',
          categoryId: 90,
          segmentation: { kind: 'polygon', polygons: [[40, 30, 52.5, 31, 50, 44.25, 41, 40]] },
        },
      ],
    })
    // Accepting the same image's predictions above 0.95 finds nothing to add.
    const none = await call<AcceptResult>(studio, 'labels:accept', {
      runId,
      imageId: one,
      minScore: 0.95,
    })
    expect([none.created, none.gtVersion]).toEqual([0, 2])

    const v2 = await evaluate()
    expect(v2.map((e) => [e.kind, e.gtVersion])).toEqual([
      ['coco-bbox', 2],
      ['coco-segm', 2],
    ])
    // Both versions' numbers are kept; the first evaluation says which ground truth it used.
    const all = await call<Evaluation[]>(studio, 'evaluations:list', { runId })
    expect(all.map((e) => e.gtVersion).sort()).toEqual([1, 1, 2, 2])
    expect(await stats(v2[0]!)).not.toEqual(await stats(v1[0]!))

    const gtFile = path.join(out, 'instances_edited.json')
    const done = await call<{ version: number; annotations: number }>(studio, 'labels:exportGt', {
      datasetId,
      out: gtFile,
    })
    expect(done).toMatchObject({ version: 2, annotations: 6 })
    // The export ran as a job in the maintenance worker: the jobs tray lists it, done.
    const jobs = await call<Job[]>(studio, 'jobs:list', {})
    expect(jobs.find((j) => j.kind === 'labels')).toMatchObject({
      state: 'done',
      datasetId,
      detail: 'v2: 6 annotations',
    })
    const resultsFile = path.join(out, 'results.json')
    await exportCocoResults(studio.db, runId, resultsFile)
    const exported = JSON.parse(fs.readFileSync(gtFile, 'utf8')) as {
      annotations: { id: number; category_id: number; segmentation?: unknown }[]
    }
    // Original ids kept (1..7 minus the deleted 4), the new ones after the largest (7).
    expect(exported.annotations.map((a) => [a.id, a.category_id])).toEqual([
      [1, 3],
      [2, 90],
      [3, 17],
      [7, 3],
      [8, 3],
      [9, 90],
    ])
    const studioStats = { bbox: await stats(v2[0]!), segm: await stats(v2[1]!) }
    if (write) {
      fs.mkdirSync(fixtures, { recursive: true })
      fs.copyFileSync(gtFile, path.join(fixtures, 'instances_edited.json'))
      fs.copyFileSync(resultsFile, path.join(fixtures, 'results.json'))
    }
    expect(JSON.parse(fs.readFileSync(gtFile, 'utf8'))).toEqual(
      JSON.parse(fs.readFileSync(path.join(fixtures, 'instances_edited.json'), 'utf8')),
    )
    expect(JSON.parse(fs.readFileSync(resultsFile, 'utf8'))).toEqual(
      JSON.parse(fs.readFileSync(path.join(fixtures, 'results.json'), 'utf8')),
    )
    const reference = JSON.parse(
      fs.readFileSync(path.join(fixtures, 'pycocotools.json'), 'utf8'),
    ) as { bbox: number[]; segm: number[] }
    expect(studioStats).toEqual(reference)

    // Version 1 can still be exported: it is the file as imported (ids, classes).
    const v1File = path.join(out, 'v1.json')
    await call(studio, 'labels:exportGt', { datasetId, version: 1, out: v1File })
    const first = JSON.parse(fs.readFileSync(v1File, 'utf8')) as {
      annotations: { id: number; category_id: number }[]
    }
    expect(first.annotations.map((a) => [a.id, a.category_id])).toEqual([
      [1, 3],
      [2, 90],
      [3, 3],
      [4, 90],
      [7, 3],
    ])
    // Accepting across the dataset needs a score; then every image is one operation.
    const refused = await studio.dispatch('labels:accept', { runId })
    expect(refused.ok ? null : refused.error.message).toBe(
      'Accepting predictions across a dataset needs a minimum score (minScore).',
    )
    const everything = await call<AcceptResult>(studio, 'labels:accept', { runId, minScore: 0.5 })
    expect([
      everything.created,
      everything.images,
      everything.operations,
      everything.gtVersion,
    ]).toEqual([4, 2, 2, 3])
    await call(studio, 'labels:undo', { imageId: one })
    expect(
      (await call<LabelImageState>(studio, 'labels:image', { imageId: two })).annotations.filter(
        (a) => a.categoryId === 90,
      ),
    ).toHaveLength(1)

    // Deleting the dataset takes its edits, versions and review items along.
    // Hidden at once, removed by a background job.
    const removal = (await call(studio, 'datasets:delete', { id: datasetId })) as {
      deleted: boolean
      jobId: string
    }
    expect(removal.deleted).toBe(true)
    expect((await studio.jobs.settled(removal.jobId)).state).toBe('done')
    for (const t of ['label_operations', 'annotation_edits', 'gt_versions', 'review_items'])
      expect(studio.db.prepare(`SELECT count(*) AS n FROM ${t}`).get()).toEqual({ n: 0 })
  })
})
