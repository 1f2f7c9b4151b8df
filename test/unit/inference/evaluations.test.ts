import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import os from 'node:os'
import { Studio } from '../../../src-main/core/studio'
import { EvaluationManager } from '../../../src-main/core/evaluations'
import { EventBus } from '../../../src-main/core/events'
import type { Model } from '../../../src-main/common/api'
import { GREY, makeCityscapesFixture, tempDir } from '../../helpers/fixtures'
import { PassThrough } from 'node:stream'
import { exportCocoResults } from '../../../src-main/core/exports'
import { evalCommand } from '../../../src-main/cli/commands/eval'

const onnxDir = path.join(import.meta.dirname, '../../fixtures/onnx')
let studio: Studio

beforeEach(() => {
  studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
})
afterEach(async () => studio.close())

/**
 * Two 64x48 images. The fixture detector predicts, on every image, a car box [4,4,16,16] with
 * the mask [8,16)x[8,16) (score 0.9) and a toothbrush [24,4,8,8] with its full box as mask
 * (score 0.6). Image 1's ground truth is exactly that; image 2's car is elsewhere.
 */
let gtFile = ''

async function dataset(): Promise<number> {
  const dir = tempDir()
  fs.mkdirSync(path.join(dir, 'images'))
  for (const f of ['one.png', 'two.png']) {
    await sharp({
      create: { width: 64, height: 48, channels: 3, background: { r: GREY, g: GREY, b: GREY } },
    })
      .png()
      .toFile(path.join(dir, 'images', f))
  }
  const car = (id: number, image: number, x: number, y: number) => ({
    id,
    image_id: image,
    category_id: 3,
    iscrowd: 0,
    area: 64,
    bbox: [x, y, 16, 16],
    segmentation: [[x + 4, y + 4, x + 12, y + 4, x + 12, y + 12, x + 4, y + 12]],
  })
  const brush = (id: number, image: number) => ({
    id,
    image_id: image,
    category_id: 90,
    iscrowd: 0,
    area: 64,
    bbox: [24, 4, 8, 8],
    segmentation: [[24, 4, 32, 4, 32, 12, 24, 12]],
  })
  const doc = {
    images: [
      { id: 1, file_name: 'one.png', width: 64, height: 48 },
      { id: 2, file_name: 'two.png', width: 64, height: 48 },
    ],
    annotations: [car(1, 1, 4, 4), brush(2, 1), car(3, 2, 40, 28), brush(4, 2)],
    categories: [
      { id: 3, name: 'car' },
      { id: 17, name: 'cat' },
      { id: 90, name: 'toothbrush' },
    ],
  }
  gtFile = path.join(dir, 'gt.json')
  fs.writeFileSync(gtFile, JSON.stringify(doc))
  const job = studio.jobs.startImport({
    kind: 'coco',
    annotations: path.join(dir, 'gt.json'),
    images: path.join(dir, 'images'),
  })
  return (await studio.jobs.settled(job.id)).datasetId!
}

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await studio.dispatch(method, input)
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r.value as T
}

/** The Cityscapes fixture imported and run through the mmseg argmax model (sky everywhere). */
async function cityscapesRun(): Promise<{ id: number }> {
  const fx = await makeCityscapesFixture()
  const job = studio.jobs.startImport({ kind: 'cityscapes', root: fx.root, split: 'val' })
  const datasetId = (await studio.jobs.settled(job.id)).datasetId!
  const { model } = await call<{ model: Model }>('models:add', {
    path: path.join(onnxDir, 'mmseg_argmax.onnx'),
  })
  const run = await call<{ id: number }>('runs:start', { modelId: model.id, datasetId })
  await studio.runs.idle()
  return run
}

describe('evaluating stored runs', () => {
  it('scores a detector run with COCO bbox and segm AP and stores per-image rows', async () => {
    const datasetId = await dataset()
    const { model } = await call<{ model: Model }>('models:add', {
      path: path.join(onnxDir, 'mmdeploy_det'),
    })
    const run = await call<{ id: number }>('runs:start', { modelId: model.id, datasetId })
    await studio.runs.idle()
    const evals = await call<{ id: number; kind: string; status: string; primaryMetric: number }[]>(
      'evaluations:run',
      { runId: run.id },
    )
    expect(evals.map((e) => [e.kind, e.status])).toEqual([
      ['coco-bbox', 'done'],
      ['coco-segm', 'done'],
    ])
    for (const e of evals) {
      const detail = await call<{
        metrics: { stats: number[]; perCategory: Record<string, number | null> }
      }>('evaluations:get', { id: e.id })
      // Toothbrush: found exactly on both images (AP 1). Car: two detections tied at 0.9, kept in
      // file order (image 1's true positive first, then image 2's false positive): precision 1
      // up to recall 0.5, never more recall, so 51 of the 101 recall points score 1.
      const carAp = 51 / 101
      expect(detail.metrics.perCategory['90']).toBe(1)
      expect(detail.metrics.perCategory['3']).toBeCloseTo(carAp, 12)
      expect(detail.metrics.perCategory['17']).toBeNull()
      expect(detail.metrics.stats[0]).toBeCloseTo((1 + carAp) / 2, 12)
      expect(e.primaryMetric).toBeCloseTo((1 + carAp) / 2, 12)
      // All objects are small (area 64): no medium or large ground truth.
      expect([detail.metrics.stats[4], detail.metrics.stats[5]]).toEqual([-1, -1])
      const rows = await call<{ fileName: string; tp: number; fp: number; fn: number }[]>(
        'evaluations:images',
        { id: e.id },
      )
      expect(rows.map((r) => [r.fileName, r.tp, r.fp, r.fn])).toEqual([
        ['two.png', 1, 1, 1],
        ['one.png', 2, 0, 0],
      ])
    }
    // The exported results file, scored by `gcstudio eval coco` against the original annotation
    // file, gives the numbers stored for the run: what a researcher cross-checking with the
    // official tools would do.
    const out = path.join(tempDir(), 'results.json')
    expect(await exportCocoResults(studio.db, run.id, out)).toBe(4)
    for (const e of evals) {
      const json = path.join(tempDir(), 'eval.json')
      const io = {
        stdout: new PassThrough(),
        stderr: new PassThrough(),
        env: {},
        cwd: process.cwd(),
        signal: new AbortController().signal,
      }
      const code = await evalCommand.run(
        ['coco', '--gt', gtFile, '--dets', out, '--iou-type', e.kind.slice(5), '--json', json],
        io,
      )
      expect(code).toBe(0)
      const stored = await call<{ metrics: { stats: number[] } }>('evaluations:get', { id: e.id })
      expect((JSON.parse(fs.readFileSync(json, 'utf8')) as { stats: number[] }).stats).toEqual(
        stored.metrics.stats,
      )
    }
    // Re-evaluating the same run and ground truth replaces, not duplicates.
    await call('evaluations:run', { runId: run.id })
    expect(await call<unknown[]>('evaluations:list', { runId: run.id })).toHaveLength(2)
  })

  it('scores a label-map run with Cityscapes mIoU', async () => {
    const run = await cityscapesRun()
    const [e] = await call<{ id: number; kind: string; status: string; primaryMetric: number }[]>(
      'evaluations:run',
      { runId: run.id },
    )
    expect([e!.kind, e!.status]).toEqual(['cityscapes', 'done'])
    // The model says "sky" everywhere. Sky IoU: sky pixels / (all evaluated pixels);
    // every other class present in the ground truth has IoU 0.
    const detail = await call<{
      metrics: { mIoU: number; perClass: Record<string, number | null> }
    }>('evaluations:get', { id: e!.id })
    const W = 64
    const H = 32
    // Frame 1: sky is the top half minus the person's pixels in it and the unlabeled strip.
    // Frame 2 has no sky.
    const personInSky = 6 * (16 - 10)
    const unlabeledTop = 2 * 16
    const skyTp = W * 16 - personInSky - unlabeledTop
    // Frame 1's unlabeled strip (2 px wide, full height) is not evaluated.
    const evaluated = 2 * W * H - 2 * H
    expect(detail.metrics.perClass['10']).toBeCloseTo(skyTp / evaluated, 12)
    expect(detail.metrics.perClass['0']).toBe(0)
    expect(detail.metrics.perClass['18']).toBeNull()
    const rows = await call<{ miou: number }[]>('evaluations:images', { id: e!.id, order: 'miou' })
    expect(rows).toHaveLength(2)
  })

  it('lays out a label-map run for the Cityscapes script in the worker: the thread serving the UI reads no label map', async () => {
    const dataDir = tempDir()
    await studio.close()
    studio = Studio.open({ dataDir, host: 'browser' })
    const run = await cityscapesRun()
    const [expected] = await call<{ id: number; primaryMetric: number }[]>('evaluations:run', {
      runId: run.id,
    })
    await studio.close()

    // The app's evaluation service on a connection that records every statement it runs.
    const statements: string[] = []
    const traced = new Database(path.join(dataDir, 'gcstudio.db'), {
      verbose: (sql) => statements.push(String(sql)),
    })
    const tmpBefore = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('gcstudio-eval-'))
    try {
      const manager = new EvaluationManager({ db: traced, bus: new EventBus(), dataDir })
      const [e] = await manager.evaluate(run.id)
      expect([e!.kind, e!.status]).toEqual(['cityscapes', 'done'])
      expect(e!.primaryMetric).toBe(expected!.primaryMetric)
      expect(manager.images(e!.id, 'miou', 'asc', 0, 10)).toHaveLength(2)
      expect(statements.filter((s) => /semantic_outputs|label_map/.test(s))).toEqual([])
      // The temporary folder the worker filled is gone.
      expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('gcstudio-eval-'))).toEqual(
        tmpBefore,
      )
    } finally {
      traced.close()
      studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
    }
  })
})
