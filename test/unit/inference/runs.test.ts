import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Studio } from '../../../src-main/core/studio'
import { forkLauncher, type ProcessLauncher } from '../../../src-main/core/inference/engine'
import type { Model, Run } from '../../../src-main/common/api'
import {
  makeBulkCoco,
  makeCityscapesFixture,
  makeCocoFixture,
  tempDir,
} from '../../helpers/fixtures'

const onnxDir = path.join(import.meta.dirname, '../../fixtures/onnx')
let studio: Studio
let datasetId: number

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await studio.dispatch(method, input)
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r.value as T
}

async function importCoco(s: Studio): Promise<number> {
  const fx = await makeCocoFixture()
  const job = s.jobs.startImport({ kind: 'coco', annotations: fx.annotations, images: fx.images })
  return (await s.jobs.settled(job.id)).datasetId!
}

async function finished(id: number): Promise<Run> {
  await studio.runs.idle()
  return call<Run>('runs:get', { id })
}

function open(launcher?: ProcessLauncher, imageTimeoutMs?: number): Studio {
  const s = Studio.open({ dataDir: tempDir(), host: 'browser', ...(launcher ? { launcher } : {}) })
  if (imageTimeoutMs)
    (s.runs as unknown as { opts: { imageTimeoutMs: number } }).opts.imageTimeoutMs = imageTimeoutMs
  return s
}

beforeEach(async () => {
  studio = open()
  datasetId = await importCoco(studio)
})
afterEach(async () => studio.close())

describe('model import', () => {
  it('reads an mmdeploy folder: format, preprocessing and GC blocks from the files themselves', async () => {
    const { model } = await call<{ model: Model }>('models:add', {
      path: path.join(onnxDir, 'mmdeploy_det'),
    })
    expect(model.format).toBe('mmdeploy-instance-seg')
    expect(model.config.preprocess).toMatchObject({
      resize: { mode: 'keep_ratio', scale: [128, 96] },
      padDivisor: 32,
      channelOrder: 'rgb',
    })
    expect(model.config.scoreThreshold).toBe(0.05)
    expect(model.card.gcBlocks.map((b) => [b.stage, b.ratio])).toEqual([
      ['c3', 4],
      ['c4', 4],
    ])
    expect(model.card.gcRatioLabel).toBe('r4')
    const again = await call<{ model: Model; existed: boolean }>('models:add', {
      path: path.join(onnxDir, 'mmdeploy_det', 'end2end.onnx'),
    })
    expect(again.existed).toBe(true)
    expect(again.model.id).toBe(model.id)
  })

  it('refuses a model whose outputs match no adapter, listing them', async () => {
    const r = await studio.dispatch('models:add', {
      path: path.join(onnxDir, 'plain_opset11.onnx'),
    })
    expect(r.ok).toBe(false)
    if (!r.ok)
      expect(r.error.message).toMatch(/outputs \(probs float32\[1,10\]\) match no supported format/)
  })
})

describe('runs', () => {
  it('runs an mmdeploy detector over a dataset: boxes scaled back, padding row dropped, masks pasted, labels mapped, attention stored', async () => {
    const { model } = await call<{ model: Model }>('models:add', {
      path: path.join(onnxDir, 'mmdeploy_det'),
    })
    const run = await call<Run>('runs:start', { modelId: model.id, datasetId })
    const done = await finished(run.id)
    expect(done.status).toBe('done')
    expect(done.executionProvider).toBe('cpu')
    expect(done.imagesTotal).toBe(6)
    // Five images decode; the missing file is an error for that image, not for the run.
    expect([done.imagesDone, done.imagesFailed]).toEqual([5, 1])
    const img = studio.db.prepare(`SELECT id FROM images WHERE file_name = 'a.png'`).get() as {
      id: number
    }
    const res = (await call<{
      predictions: {
        categoryId: number
        score: number
        bbox: number[]
        mask: { counts: number[] }
      }[]
      attention: { height: number; width: number; stage: string }[]
    }>('runs:imageResult', { runId: run.id, imageId: img.id }))!
    // 64x48 image, keep-ratio to 128x96: scale 2. Label 0 -> category 3 (first id), label 2 -> 90.
    expect(res.predictions.map((p) => [p.categoryId, Number(p.score.toFixed(2)), p.bbox])).toEqual([
      [3, 0.9, [4, 4, 16, 16]],
      [90, 0.6, [24, 4, 8, 8]],
    ])
    const area = (counts: number[]) =>
      counts.filter((_, i) => i % 2 === 1).reduce((a, b) => a + b, 0)
    expect(res.predictions.map((p) => area(p.mask.counts))).toEqual([64, 64])
    // Attention at stride 8 and 16 of the 128x96 input.
    expect(res.attention.map((a) => [a.stage, a.height, a.width])).toEqual([
      ['c3', 12, 16],
      ['c4', 6, 8],
    ])
    const rows = studio.db
      .prepare('SELECT count(*) AS n FROM attention_maps WHERE run_id = ?')
      .get(run.id) as { n: number }
    expect(rows.n).toBe(10)
  })

  it('gives the same detections with and without attention taps', async () => {
    const { model } = await call<{ model: Model }>('models:add', {
      path: path.join(onnxDir, 'mmdeploy_det'),
    })
    const a = await call<Run>('runs:start', { modelId: model.id, datasetId, taps: true })
    const b = await call<Run>('runs:start', { modelId: model.id, datasetId, taps: false })
    await studio.runs.idle()
    const preds = (runId: number) =>
      studio.db
        .prepare(
          'SELECT image_id, category_id, score, bbox_x, bbox_y, bbox_w, bbox_h, mask_rle FROM predictions WHERE run_id = ? ORDER BY image_id, score',
        )
        .all(runId)
    expect(preds(a.id)).toEqual(preds(b.id))
    expect(preds(a.id)).toHaveLength(10)
    const att = (runId: number) =>
      (
        studio.db
          .prepare('SELECT count(*) AS n FROM attention_maps WHERE run_id = ?')
          .get(runId) as { n: number }
      ).n
    expect([att(a.id), att(b.id)]).toEqual([10, 0])
  })

  it('maps an mmseg argmax model to Cityscapes label ids and stores the map as a PNG', async () => {
    const fx = await makeCityscapesFixture()
    const job = studio.jobs.startImport({ kind: 'cityscapes', root: fx.root, split: 'val' })
    const cs = (await studio.jobs.settled(job.id)).datasetId!
    for (const file of ['mmseg_argmax.onnx', 'mmseg_logits.onnx']) {
      const { model } = await call<{ model: Model }>('models:add', {
        path: path.join(onnxDir, file),
      })
      expect(model.config.labelMapping).toBe('train-id')
      const run = await call<Run>('runs:start', { modelId: model.id, datasetId: cs })
      expect((await finished(run.id)).imagesDone).toBe(2)
      const png = studio.db
        .prepare('SELECT png FROM semantic_outputs WHERE run_id = ? LIMIT 1')
        .get(run.id) as { png: Buffer }
      const meta = await sharp(png.png).metadata()
      expect([meta.width, meta.height, meta.channels]).toEqual([64, 32, 1])
      const { data } = await sharp(png.png)
        .extractChannel(0)
        .raw()
        .toBuffer({ resolveWithObject: true })
      // Flat grey 128 is brighter than the ImageNet mean: train id 10 (sky) = label id 23.
      expect(new Set(data)).toEqual(new Set([23]))
    }
  })

  it('cancels, then resumes without redoing finished images', async () => {
    const { model } = await call<{ model: Model }>('models:add', {
      path: path.join(onnxDir, 'mmdeploy_det'),
    })
    const run = await call<Run>('runs:start', { modelId: model.id, datasetId })
    await call<Run>('runs:cancel', { id: run.id })
    const stopped = await finished(run.id)
    expect(['cancelled', 'done']).toContain(stopped.status)
    const before = studio.db
      .prepare('SELECT image_id FROM run_images WHERE run_id = ?')
      .all(run.id).length
    if (stopped.status === 'cancelled') {
      await call<Run>('runs:resume', { id: run.id })
      const resumed = await finished(run.id)
      expect(resumed.status).toBe('done')
    }
    const rows = studio.db
      .prepare('SELECT image_id, count(*) AS n FROM run_images WHERE run_id = ? GROUP BY image_id')
      .all(run.id) as { n: number }[]
    expect(rows).toHaveLength(6)
    expect(rows.every((r) => r.n === 1)).toBe(true)
    expect(before).toBeLessThanOrEqual(6)
  })
})

describe('failures', () => {
  it('a crashed inference process fails the run with a message, keeps finished images, and resume finishes it', async () => {
    await studio.close()
    let kills = 0
    // Kills the process right after its second result, once.
    const crashing: ProcessLauncher = (script) => {
      const ch = forkLauncher(script)
      let results = 0
      const inner = ch.onMessage.bind(ch)
      return {
        ...ch,
        onMessage: (cb) =>
          inner((m) => {
            cb(m)
            if (m.type === 'result' && ++results === 2 && kills++ === 0) ch.kill()
          }),
      }
    }
    studio = open(crashing)
    datasetId = await importCoco(studio)
    const { model } = await call<{ model: Model }>('models:add', {
      path: path.join(onnxDir, 'mmdeploy_det'),
    })
    const run = await call<Run>('runs:start', { modelId: model.id, datasetId })
    const failed = await finished(run.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toMatch(
      /inference process stopped unexpectedly \(signal SIGKILL\).*resume continues/,
    )
    expect(failed.imagesDone).toBeGreaterThanOrEqual(2)
    // The app keeps working: resume starts a fresh process and finishes.
    await call<Run>('runs:resume', { id: run.id })
    const resumed = await finished(run.id)
    expect(resumed.status).toBe('done')
    expect(resumed.imagesDone + resumed.imagesFailed).toBe(6)
  })

  it('a hung inference process is stopped after the timeout', async () => {
    await studio.close()
    const silent: ProcessLauncher = (script) => {
      const ch = forkLauncher(script)
      return { ...ch, send: (m) => (m.type === 'infer' ? undefined : ch.send(m)) }
    }
    studio = open(silent, 300)
    datasetId = await importCoco(studio)
    const { model } = await call<{ model: Model }>('models:add', {
      path: path.join(onnxDir, 'mmdeploy_det'),
    })
    const run = await call<Run>('runs:start', { modelId: model.id, datasetId })
    const failed = await finished(run.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toMatch(/did not answer for 0 s on one image and was stopped/)
  })

  it('a full disk mid-run fails the run with a message, keeps what was stored, and resume finishes it', async () => {
    const fx = await makeBulkCoco(240)
    const job = studio.jobs.startImport({
      kind: 'coco',
      annotations: fx.annotations,
      images: fx.images,
      name: 'bulk',
    })
    const bulk = (await studio.jobs.settled(job.id)).datasetId!
    const { model } = await call<{ model: Model }>('models:add', {
      path: path.join(onnxDir, 'mmdeploy_det'),
    })
    // SQLite's own limit on the file's size stands in for the disk: once 16 images are stored,
    // the store may grow by two more pages only.
    let limited = false
    const off = studio.bus.subscribe((e) => {
      if (limited || e.name !== 'run:progress') return
      if ((e.payload as Run).imagesDone < 16) return
      limited = true
      const pages = studio.db.pragma('page_count', { simple: true }) as number
      studio.db.pragma(`max_page_count = ${pages + 2}`)
    })
    const run = await call<Run>('runs:start', { modelId: model.id, datasetId: bulk })
    const failed = await finished(run.id)
    off()
    expect(failed.status).toBe('failed')
    expect(failed.error).toMatch(/is full \(SQLITE_FULL\).*Finished images are kept/)
    expect(failed.imagesDone).toBeGreaterThanOrEqual(16)
    expect(failed.imagesDone).toBeLessThan(240)
    const kept = studio.db
      .prepare('SELECT count(*) AS n FROM run_images WHERE run_id = ?')
      .get(run.id) as { n: number }
    expect(kept.n).toBe(failed.imagesDone)

    // Space again: resume stores the rest, each image exactly once.
    studio.db.pragma('max_page_count = 1073741823')
    await call<Run>('runs:resume', { id: run.id })
    const done = await finished(run.id)
    expect([done.status, done.imagesDone]).toEqual(['done', 240])
    const rows = studio.db
      .prepare(
        'SELECT count(*) AS n, count(DISTINCT image_id) AS d FROM run_images WHERE run_id = ?',
      )
      .get(run.id) as { n: number; d: number }
    expect(rows).toEqual({ n: 240, d: 240 })
  })

  it('refuses, before running, a model made for another class list', async () => {
    // An mmdeploy export whose sidecar names 7 classes, none of them the dataset's.
    const dir = tempDir()
    fs.cpSync(path.join(onnxDir, 'mmdeploy_det'), dir, { recursive: true })
    fs.writeFileSync(
      path.join(dir, 'gcstudio.json'),
      JSON.stringify({ classNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] }),
    )
    const { model } = await call<{ model: Model }>('models:add', { path: dir })
    await expect(call<Run>('runs:start', { modelId: model.id, datasetId })).rejects.toThrow(
      /CONFLICT: The model has 7 classes but the dataset has \d+ categories/,
    )
    // A Cityscapes segmenter pointed at a COCO dataset.
    const seg = await call<{ model: Model }>('models:add', {
      path: path.join(onnxDir, 'mmseg_logits.onnx'),
    })
    await expect(call<Run>('runs:start', { modelId: seg.model.id, datasetId })).rejects.toThrow(
      /predicts Cityscapes train ids but the dataset is not a Cityscapes dataset/,
    )
    expect(studio.db.prepare('SELECT count(*) AS n FROM runs').get()).toEqual({ n: 0 })
  })

  it('notices a model file changed after import', async () => {
    const dir = tempDir()
    fs.cpSync(path.join(onnxDir, 'mmdeploy_det'), dir, { recursive: true })
    const { model } = await call<{ model: Model }>('models:add', { path: dir })
    fs.appendFileSync(path.join(dir, 'end2end.onnx'), Buffer.from([0]))
    const run = await call<Run>('runs:start', { modelId: model.id, datasetId })
    const failed = await finished(run.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toMatch(/changed since .* was imported/)
    fs.rmSync(path.join(dir, 'end2end.onnx'))
    const again = await call<Run>('runs:start', { modelId: model.id, datasetId })
    expect((await finished(again.id)).error).toMatch(/is gone/)
  })
})
