import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Studio } from '../../../src-main/core/studio'
import type { Model, Run } from '../../../src-main/common/api'
import {
  makeCityscapesFixture,
  makeCocoFixture,
  tempDir,
  type CocoFixture,
} from '../../helpers/fixtures'
import { mmsegModel, torchvisionDetector, writeModel } from '../../helpers/onnxGraphs'

let studio: Studio
let fx: CocoFixture
let datasetId: number

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await studio.dispatch(method, input)
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r.value as T
}

async function finished(id: number): Promise<Run> {
  await studio.runs.idle()
  return call<Run>('runs:get', { id })
}

async function addModel(file: string): Promise<Model> {
  return (await call<{ model: Model }>('models:add', { path: file })).model
}

const imageId = (name: string) =>
  (studio.db.prepare('SELECT id FROM images WHERE file_name = ?').get(name) as { id: number }).id

const predictions = (runId: number, image: string) =>
  studio.db
    .prepare(
      'SELECT category_id, round(score, 2) AS score, bbox_x, bbox_y, bbox_w, bbox_h FROM predictions WHERE run_id = ? AND image_id = ?',
    )
    .all(runId, imageId(image))

beforeEach(async () => {
  studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
  fx = await makeCocoFixture()
  const job = studio.jobs.startImport({
    kind: 'coco',
    annotations: fx.annotations,
    images: fx.images,
  })
  datasetId = (await studio.jobs.settled(job.id)).datasetId!
})
afterEach(async () => studio.close())

describe('inference errors are failures, never empty results', () => {
  it('feeds a torchvision export with a fixed input size at that size, and scales its boxes back', async () => {
    // Traced at 96x80 without dynamic axes; the fixture's images are 64x48.
    const file = writeModel(
      tempDir(),
      'fixed.onnx',
      torchvisionDetector({ fixedSize: [80, 96], box: [12, 10, 60, 50], label: 3 }),
    )
    const model = await addModel(file)
    expect(model.config.preprocess.resize).toEqual({ mode: 'fixed', scale: [96, 80] })
    const run = await finished((await call<Run>('runs:start', { modelId: model.id, datasetId })).id)
    expect([run.status, run.imagesDone, run.imagesFailed]).toEqual(['done', 5, 1])
    // [12,10,60,50] in the 96x80 input is [8,6,40,30] in the 64x48 image.
    expect(predictions(run.id, 'a.png')).toEqual([
      { category_id: 3, score: 0.9, bbox_x: 8, bbox_y: 6, bbox_w: 32, bbox_h: 24 },
    ])
  })

  it('a run whose images all fail ends failed with the reason, and resuming it fails again', async () => {
    // The same export forced to take images at their own size: onnxruntime rejects each one.
    const dir = tempDir()
    const file = writeModel(dir, 'fixed.onnx', torchvisionDetector({ fixedSize: [80, 96] }), {
      preprocess: { resize: { mode: 'none', scale: [1, 1] } },
    })
    const model = await addModel(file)
    const run = await finished((await call<Run>('runs:start', { modelId: model.id, datasetId })).id)
    expect(run.status).toBe('failed')
    expect(run.imagesDone).toBe(0)
    expect(run.error).toMatch(
      /^All 6 images failed; 5 of them: onnxruntime failed on a 3x48x64 input: Got invalid dimensions for input: image .* Got: 48 Expected: 80/,
    )
    expect(run.failures.map((f) => f.images)).toEqual([5, 1])
    expect(run.failures[1]!.message).toBe('The image file not-copied-yet.jpg is missing.')
    await call<Run>('runs:resume', { id: run.id })
    expect((await finished(run.id)).status).toBe('failed')
  })

  it("recognises the torchvision exporter's zero-detections failure as no detections, and only that", async () => {
    // Images darker than 0.9 on average detect nothing, and the graph then fails as
    // torchvision's exported postprocessing does on an empty detection list.
    const file = writeModel(
      tempDir(),
      'quirk.onnx',
      torchvisionDetector({ quirk: true, quirkBelow: 0.9, label: 3 }),
    )
    const model = await addModel(file)
    const run = await finished((await call<Run>('runs:start', { modelId: model.id, datasetId })).id)
    expect([run.status, run.imagesDone, run.imagesFailed]).toEqual(['done', 5, 1])
    expect(predictions(run.id, 'a.png')).toEqual([])
    const note = studio.db
      .prepare('SELECT error FROM run_images WHERE run_id = ? AND image_id = ?')
      .get(run.id, imageId('a.png')) as { error: string }
    expect(note.error).toMatch(
      /^no detections \(the exported graph fails on an empty detection list/,
    )

    // The same graph where the images are bright enough: a detection, not an empty result.
    const bright = writeModel(
      tempDir(),
      'quirk.onnx',
      torchvisionDetector({ quirk: true, quirkBelow: 0.1, label: 3 }),
    )
    const m2 = await addModel(bright)
    const r2 = await finished((await call<Run>('runs:start', { modelId: m2.id, datasetId })).id)
    expect(predictions(r2.id, 'a.png')).toHaveLength(1)
  })
})

describe('resume', () => {
  it('retries failed images: a file copied in since is run, and the state says what failed and why', async () => {
    const model = await addModel(path.join(import.meta.dirname, '../../fixtures/onnx/mmdeploy_det'))
    const run = await finished((await call<Run>('runs:start', { modelId: model.id, datasetId })).id)
    expect([run.status, run.imagesDone, run.imagesFailed]).toEqual(['done', 5, 1])
    expect(run.failures).toEqual([
      { message: 'The image file not-copied-yet.jpg is missing.', images: 1 },
    ])
    fs.copyFileSync(path.join(fx.images, 'b.jpg'), path.join(fx.images, 'not-copied-yet.jpg'))
    await call<Run>('runs:resume', { id: run.id })
    const resumed = await finished(run.id)
    expect([resumed.status, resumed.imagesDone, resumed.imagesFailed]).toEqual(['done', 6, 0])
    expect(resumed.failures).toEqual([])
    expect(predictions(run.id, 'not-copied-yet.jpg')).toEqual(predictions(run.id, 'b.jpg'))
    // Now it is complete.
    await expect(call<Run>('runs:resume', { id: run.id })).rejects.toThrow(/is complete/)
  })
})

describe('class counts', () => {
  async function importCityscapes(): Promise<number> {
    const cs = await makeCityscapesFixture()
    const job = studio.jobs.startImport({ kind: 'cityscapes', root: cs.root, split: 'val' })
    return (await studio.jobs.settled(job.id)).datasetId!
  }

  it('reads the class count from the graph: the zoo detectors have 5, the segmenters 19', async () => {
    const zoo = path.join(import.meta.dirname, '../../../models')
    const count = async (dir: string) => (await addModel(path.join(zoo, dir))).card.classCount
    expect(await count('mask-rcnn-gc-r4')).toBe(5)
    expect(await count('mask-rcnn-gc-r4-torchvision')).toBe(5)
    expect(await count('gc-head')).toBe(19)
    expect(await count('gc-head-logits')).toBe(19)
  })

  it('refuses segmenters with 5 or 40 classes on Cityscapes, for a run and for "Run this image"; 19 classes run', async () => {
    const cs = await importCityscapes()
    const image = (
      studio.db.prepare('SELECT id FROM images WHERE dataset_id = ? LIMIT 1').get(cs) as {
        id: number
      }
    ).id
    const dir = tempDir()
    for (const [classes, argmax] of [
      [40, false],
      [5, true],
    ] as const) {
      const model = await addModel(
        writeModel(dir, `seg${classes}.onnx`, mmsegModel({ classes, cls: 3, argmax })),
      )
      expect(model.card.classCount).toBe(classes)
      const why = new RegExp(
        `CONFLICT: The model predicts ${classes} classes but Cityscapes has 19 train ids \\(road, sidewalk, building … bicycle\\)`,
      )
      await expect(call<Run>('runs:start', { modelId: model.id, datasetId: cs })).rejects.toThrow(
        why,
      )
      await expect(
        call('inference:image', { modelId: model.id, imageId: image, taps: false }),
      ).rejects.toThrow(why)
    }
    expect(studio.db.prepare('SELECT count(*) AS n FROM runs').get()).toEqual({ n: 0 })
    const ok = await addModel(writeModel(dir, 'seg19.onnx', mmsegModel({ classes: 19, cls: 10 })))
    const run = await finished(
      (await call<Run>('runs:start', { modelId: ok.id, datasetId: cs })).id,
    )
    expect([run.status, run.imagesDone]).toEqual(['done', 2])
  })

  it('refuses a 5-class detector on Cityscapes, naming its 8 instance classes', async () => {
    const cs = await importCityscapes()
    const model = await addModel(
      writeModel(tempDir(), 'det.onnx', torchvisionDetector({ classes: 6 }), {
        labelMapping: 'index-from-1',
      }),
    )
    expect(model.card.classCount).toBe(5)
    await expect(call<Run>('runs:start', { modelId: model.id, datasetId: cs })).rejects.toThrow(
      /The model predicts 5 classes but the dataset has 8 instance classes \(person, rider, car, truck, bus, train, motorcycle, bicycle\)/,
    )
  })
})
