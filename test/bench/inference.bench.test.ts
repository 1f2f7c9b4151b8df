/**
 * Inference speed on CPU, per model (the demo zoo's baseline, GC r16 and GC r4 when
 * models/manifest.json lists them; the test fixture detector otherwise):
 * - bare: a `session.run` loop on pre-decoded, pre-processed tensors (the ceiling);
 * - run: a full studio run without taps (decode, preprocess, inference, adapters, SQLite), and
 *   with GC attention taps;
 * - pipeline cost = 1 - run/bare, tap cost = 1 - taps/no-taps, FLOPs and latency vs baseline;
 * - the UI's frame times in Chromium while a run is in progress.
 * Run: npm run bench -- inference
 */
import fs from 'node:fs'
import path from 'node:path'
import ort from 'onnxruntime-node'
import { expect, it } from 'vitest'
import { Studio } from '../../src-main/core/studio'
import { decodeImage } from '../../src-main/core/inference/runner'
import { geometry, resizeBilinearRgb, toTensor } from '../../src-main/core/inference/preprocess'
import { addModel } from '../../src-main/core/models/registry'
import { discoverDemoDatasets } from '../../src-main/core/demo'
import { packageRoot } from '../../src-main/core/paths'
import { startServer } from '../../src-main/hosts/server/serve'
import { makeBulkCoco, tempDir } from '../helpers/fixtures'
import { launchChromium } from '../helpers/browser'
import { percentile, writeReport } from './report'

interface BenchModel {
  id: string
  path: string
  dataset: 'coco' | 'cityscapes'
}

function benchModels(): BenchModel[] {
  const manifest = path.join(packageRoot(), 'models', 'manifest.json')
  if (fs.existsSync(manifest)) {
    // The zoo's manifest: paths are relative to the repository root; an mmdeploy export is
    // imported as its folder (deploy.json and friends configure it), anything else as the file.
    const m = JSON.parse(fs.readFileSync(manifest, 'utf8')) as {
      models: { id: string; task: string; format: string; onnx: { path: string } }[]
    }
    return m.models
      .filter((x) => x.format.startsWith('mmdeploy'))
      .map((x) => ({
        id: x.id,
        path: path.dirname(path.join(packageRoot(), x.onnx.path)),
        dataset: x.task.includes('semantic') ? ('cityscapes' as const) : ('coco' as const),
      }))
  }
  return [
    {
      id: 'fixture-mmdeploy-det',
      path: path.join(packageRoot(), 'test', 'fixtures', 'onnx', 'mmdeploy_det'),
      dataset: 'coco',
    },
  ]
}

it('measures inference throughput, pipeline and tap overhead, and UI frame times', async () => {
  const dataDir = tempDir('gcstudio-bench-')
  const studio = Studio.open({ dataDir, host: 'browser' })
  const demos = discoverDemoDatasets(path.join(packageRoot(), 'resources', 'demo'))
  const datasetIds: Record<string, number> = {}
  for (const kind of ['coco', 'cityscapes'] as const) {
    const demo = demos.find((d) => d.request.kind === kind)
    const request =
      demo?.request ??
      (kind === 'coco'
        ? await (async () => {
            const fx = await makeBulkCoco(300)
            return { kind: 'coco' as const, annotations: fx.annotations, images: fx.images }
          })()
        : null)
    if (!request) continue
    const job = studio.jobs.startImport(request)
    datasetIds[kind] = (await studio.jobs.settled(job.id)).datasetId!
  }
  const results: Record<string, unknown> = {}
  const rows: { id: string; flops: number; bareMs: number }[] = []
  for (const bm of benchModels()) {
    const datasetId = datasetIds[bm.dataset]
    if (!datasetId) continue
    const { model } = addModel(studio.db, bm.path)
    const images = studio.db
      .prepare(
        'SELECT id, file_name, width, height FROM images WHERE dataset_id = ? AND missing = 0 ORDER BY id',
      )
      .all(datasetId) as { id: number; file_name: string; width: number; height: number }[]
    const root = (
      studio.db.prepare('SELECT images_root FROM datasets WHERE id = ?').get(datasetId) as {
        images_root: string
      }
    ).images_root
    // Bare loop: tensors prepared up front, one session, same thread settings as a run.
    const tensors: ort.Tensor[] = []
    for (const im of images) {
      const d = await decodeImage({
        imageId: im.id,
        file: path.join(root, im.file_name),
        width: im.width,
        height: im.height,
        applyOrientation: null,
      })
      const g = geometry(d.width, d.height, model.config.preprocess)
      const data = toTensor(
        resizeBilinearRgb(d.rgb, d.width, d.height, g.resizedWidth, g.resizedHeight),
        g,
        model.config.preprocess,
      )
      tensors.push(new ort.Tensor('float32', data, [1, 3, g.inputHeight, g.inputWidth]))
    }
    const session = await ort.InferenceSession.create(model.path, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
    })
    for (const t of tensors.slice(0, 3)) await session.run({ [model.config.inputName]: t })
    const latencies: number[] = []
    const t0 = performance.now()
    for (const t of tensors) {
      const s = performance.now()
      await session.run({ [model.config.inputName]: t })
      latencies.push(performance.now() - s)
    }
    const bareSeconds = (performance.now() - t0) / 1000
    await session.release()
    const timeRun = async (taps: boolean) => {
      const start = performance.now()
      const run = studio.runs.start({ modelId: model.id, datasetId, ep: 'cpu', taps, threads: 0 })
      await studio.runs.idle()
      const r = studio.runs.get(run.id)
      expect(r.status).toBe('done')
      return (performance.now() - start) / 1000
    }
    const noTaps = await timeRun(false)
    const withTaps = model.card.gcBlocks.length ? await timeRun(true) : noTaps
    const n = images.length
    const bareIps = n / bareSeconds
    const runIps = n / noTaps
    const tapIps = n / withTaps
    rows.push({ id: bm.id, flops: model.card.flops, bareMs: percentile(latencies, 50) })
    results[bm.id] = {
      images: n,
      gcBlocks: model.card.gcBlocks.length,
      params: model.card.params,
      flops: model.card.flops,
      bareImagesPerSecond: Number(bareIps.toFixed(2)),
      runImagesPerSecond: Number(runIps.toFixed(2)),
      runWithTapsImagesPerSecond: Number(tapIps.toFixed(2)),
      pipelineCost: Number((1 - runIps / bareIps).toFixed(3)),
      tapCost: Number((1 - tapIps / runIps).toFixed(3)),
      medianForwardMs: Number(percentile(latencies, 50).toFixed(2)),
    }
  }
  const base = rows.find((r) => /baseline|nogc|no-gc/i.test(r.id)) ?? rows[0]!
  for (const r of rows) {
    Object.assign(results[r.id] as object, {
      flopsVsBaseline: Number((r.flops / base.flops).toFixed(4)),
      latencyVsBaseline: Number((r.bareMs / base.bareMs).toFixed(3)),
    })
  }
  await studio.close()

  // UI frame times while a run is in progress: the renderer only receives progress events.
  const server = await startServer({ dataDir, importDemo: false })
  const browser = await launchChromium()
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    await page.goto(server.url + '#/runs')
    await page.waitForTimeout(500)
    const model = server.studio.db.prepare('SELECT id FROM models ORDER BY id LIMIT 1').get() as {
      id: number
    }
    const ds = datasetIds.coco ?? datasetIds.cityscapes!
    server.studio.runs.start({
      modelId: model.id,
      datasetId: ds,
      ep: 'cpu',
      taps: true,
      threads: 0,
    })
    const frames = (await page.evaluate(
      () =>
        new Promise<number[]>((resolve) => {
          // Runs in the page; the Node typings do not know the DOM.
          const requestAnimationFrame = (
            globalThis as unknown as { requestAnimationFrame(cb: (t: number) => void): void }
          ).requestAnimationFrame.bind(globalThis)
          const out: number[] = []
          let last = performance.now()
          const end = last + 5000
          const tick = (t: number) => {
            out.push(t - last)
            last = t
            if (t < end) requestAnimationFrame(tick)
            else resolve(out)
          }
          requestAnimationFrame(tick)
        }),
    )) as number[]
    await server.studio.runs.idle()
    results.uiDuringRun = {
      frames: frames.length,
      p50FrameMs: Number(percentile(frames, 50).toFixed(1)),
      p99FrameMs: Number(percentile(frames, 99).toFixed(1)),
      maxFrameMs: Number(Math.max(...frames).toFixed(1)),
      over50ms: frames.filter((f) => f > 50).length,
    }
  } finally {
    await browser.close()
    await server.close()
  }
  writeReport('inference', results)
})
