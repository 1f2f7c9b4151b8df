/**
 * The UI while heavy work runs: a ~180 MB model is added (hashing, decoding, the model card, the
 * tapped copy) while a full COCO evaluation of a 5,000-image / 100,000-detection run is repeated
 * as jobs. Measured: Chromium's frame times on the Runs view, and the latency of a trivial API
 * call (`app:info` over HTTP, every 25 ms), against the same measures with nothing running.
 * Target: p99 under 50 ms for both.
 * Run: npm run bench -- responsiveness
 */
import fs from 'node:fs'
import path from 'node:path'
import { it } from 'vitest'
import type { CocoDataset } from '../../src-main/core/eval/cocoData'
import { packageRoot } from '../../src-main/core/paths'
import { startServer } from '../../src-main/hosts/server/serve'
import { launchChromium, studioPage } from '../helpers/browser'
import { tempDir } from '../helpers/fixtures'
import { generateCocoSet } from './evalGenerate'
import { percentile, writeReport } from './report'

/** Protobuf varint. */
function varint(n: number): Buffer {
  const out: number[] = []
  while (n > 127) {
    out.push((n & 127) | 128)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Buffer.from(out)
}
const field = (num: number, payload: Buffer) =>
  Buffer.concat([varint((num << 3) | 2), varint(payload.length), payload])

/**
 * A real model made large: the GC r4 detector's bytes followed by a second `graph` field holding
 * one unused float initializer of `mb` MB (protobuf merges repeated message fields, as the
 * studio's own taps do), so it still loads and runs.
 */
function bigModel(dir: string, mb: number): string {
  const src = path.join(packageRoot(), 'models/mask-rcnn-gc-r4/end2end.onnx')
  const n = Math.floor((mb * 1e6) / 4)
  const tensor = Buffer.concat([
    Buffer.from([0x08]),
    varint(n), // dims
    Buffer.from([0x10, 0x01]), // data_type FLOAT
    field(8, Buffer.from('bench_padding')),
    field(9, Buffer.alloc(n * 4, 1)),
  ])
  const file = path.join(dir, 'big.onnx')
  fs.writeFileSync(file, Buffer.concat([fs.readFileSync(src), field(7, field(5, tensor))]))
  return file
}

const summary = (v: number[]) => ({
  n: v.length,
  p50: Number(percentile(v, 50).toFixed(1)),
  p99: Number(percentile(v, 99).toFixed(1)),
  max: Number(Math.max(...v).toFixed(1)),
  over50: v.filter((x) => x > 50).length,
})

it('frame time and API latency while a 180 MB model is added and evaluations run', async () => {
  const dataDir = tempDir('gcstudio-resp-')
  const work = tempDir('gcstudio-resp-work-')
  const modelFile = bigModel(work, 180)
  // A 5,000-image ground truth (no image files: they are flagged missing, which evaluation
  // does not need) and a finished run whose predictions are the generated detections.
  const set = generateCocoSet({
    seed: 9,
    images: 5000,
    categories: 20,
    gtPerImage: 7,
    detsPerImage: 20,
    exactDetections: true,
    masks: false,
    scoreDecimals: 3,
  })
  fs.mkdirSync(path.join(work, 'images'))
  const gtFile = path.join(work, 'instances.json')
  fs.writeFileSync(gtFile, JSON.stringify(set.dataset satisfies CocoDataset))
  const server = await startServer({ dataDir, importDemo: false })
  const studio = server.studio
  const job = studio.jobs.startImport({
    kind: 'coco',
    annotations: gtFile,
    images: path.join(work, 'images'),
  })
  const datasetId = (await studio.jobs.settled(job.id)).datasetId!
  studio.ensureDemoModels()
  const db = studio.db
  const modelId = (
    db.prepare(`SELECT id FROM models WHERE task != 'semantic_segmentation' LIMIT 1`).get() as {
      id: number
    }
  ).id
  const runId = Number(
    db
      .prepare(
        `INSERT INTO runs (model_id, dataset_id, settings, status, images_total, images_done, finished_at)
         VALUES (?, ?, ?, 'done', 5000, 5000, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`,
      )
      .run(
        modelId,
        datasetId,
        JSON.stringify({ modelId, datasetId, ep: 'cpu', taps: false, threads: 0 }),
      ).lastInsertRowid,
  )
  const imageId = new Map(
    (
      db.prepare('SELECT id, source_id FROM images WHERE dataset_id = ?').all(datasetId) as {
        id: number
        source_id: number
      }[]
    ).map((r) => [r.source_id, r.id]),
  )
  db.transaction(() => {
    const ri = db.prepare(`INSERT INTO run_images (run_id, image_id, status) VALUES (?, ?, 'done')`)
    for (const id of imageId.values()) ri.run(runId, id)
    const p = db.prepare(
      `INSERT INTO predictions (run_id, image_id, category_id, score, bbox_x, bbox_y, bbox_w, bbox_h) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    for (const d of set.bboxResults)
      p.run(runId, imageId.get(Number(d.image_id)), d.category_id, d.score, ...d.bbox!)
  })()

  const call = async (method: string, input: unknown) => {
    const res = await fetch(`http://127.0.0.1:${server.port}/api/${method}`, {
      method: 'POST',
      headers: { 'x-gcstudio-token': server.token, 'content-type': 'application/json' },
      body: JSON.stringify(input),
    })
    return (await res.json()) as { ok: boolean; value?: unknown; error?: { message: string } }
  }

  const browser = await launchChromium()
  const results: Record<string, unknown> = {
    model: { file: 'GC r4 detector + 180 MB initializer', bytes: fs.statSync(modelFile).size },
    evaluation: { images: 5000, detections: set.bboxResults.length },
  }
  try {
    const page = await studioPage(browser)
    await page.goto(server.url + '#/runs')
    await page.waitForTimeout(1000)
    const measure = async (ms: number) => {
      const latencies: number[] = []
      let stop = false
      const pinger = (async () => {
        while (!stop) {
          const t0 = performance.now()
          await call('app:info', {})
          latencies.push(performance.now() - t0)
          await new Promise((r) => setTimeout(r, 25))
        }
      })()
      const frames = (await page.evaluate(
        (windowMs) =>
          new Promise<number[]>((resolve) => {
            const raf = (
              globalThis as unknown as { requestAnimationFrame(cb: (t: number) => void): void }
            ).requestAnimationFrame.bind(globalThis)
            const out: number[] = []
            let last = performance.now()
            const end = last + windowMs
            const tick = (t: number) => {
              out.push(t - last)
              last = t
              if (t < end) raf(tick)
              else resolve(out)
            }
            raf(tick)
          }),
        ms,
      )) as number[]
      stop = true
      await pinger
      return { frameMs: summary(frames), apiLatencyMs: summary(latencies) }
    }

    results.idle = await measure(3000)

    // The load: the model import and evaluations back to back until the import has ended.
    let adding = true
    let evaluations = 0
    const t0 = performance.now()
    const add = call('models:add', { path: modelFile }).then((r) => {
      adding = false
      if (!r.ok) throw new Error(`models:add failed: ${r.error?.message}`)
      return (performance.now() - t0) / 1000
    })
    const evaluate = (async () => {
      while (adding || evaluations === 0) {
        const r = await call('evaluations:run', { runId })
        if (!r.ok) throw new Error(`evaluation failed: ${r.error?.message}`)
        evaluations++
      }
    })()
    const under = await measure(8000)
    const addSeconds = await add
    await evaluate
    results.underLoad = { ...under, modelAddSeconds: Number(addSeconds.toFixed(2)), evaluations }
  } finally {
    await browser.close()
    await server.close()
  }
  writeReport('responsiveness', results)
})
