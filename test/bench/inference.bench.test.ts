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
import { launchChromium, studioPage } from '../helpers/browser'
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
  const rows: { id: string; dataset: string; flops: number; bareMs: number }[] = []
  interface Subject {
    bm: BenchModel
    model: ReturnType<typeof addModel>['model']
    datasetId: number
    images: { id: number }[]
    tensors: ort.Tensor[]
    session: ort.InferenceSession
    session1: ort.InferenceSession
    bare: number[]
    bare1: number[]
    plain1: number[]
    latencies: number[]
    plain: number[]
    tapped: number[]
    startup: number[]
  }
  const subjects: Subject[] = []
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
    // The same with one onnxruntime thread: a core left free for the pipeline.
    const session1 = await ort.InferenceSession.create(model.path, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: 1,
    })
    for (const t of tensors.slice(0, 3)) {
      await session.run({ [model.config.inputName]: t })
      await session1.run({ [model.config.inputName]: t })
    }
    subjects.push({
      bm,
      model,
      datasetId,
      images,
      tensors,
      session,
      session1,
      bare: [],
      bare1: [],
      plain1: [],
      latencies: [],
      plain: [],
      tapped: [],
      startup: [],
    })
  }
  const bareLoop = async (x: Subject, oneThread = false) => {
    const t0 = performance.now()
    for (const t of x.tensors) {
      const s = performance.now()
      await (oneThread ? x.session1 : x.session).run({ [x.model.config.inputName]: t })
      if (!oneThread) x.latencies.push(performance.now() - s)
    }
    return x.tensors.length / ((performance.now() - t0) / 1000)
  }
  // A run's throughput in steady state, as the bare loop's: from the moment the first images
  // are through (process started, session created and warmed) to the last image. The
  // start-up is reported on its own.
  const timeRun = async (x: Subject, taps: boolean, threads = 0) => {
    const start = performance.now()
    let warm = 0
    let warmDone = 0
    const off = studio.bus.subscribe((e) => {
      if (e.name !== 'run:progress' || warm) return
      const p = e.payload as { imagesDone: number }
      if (p.imagesDone >= 3) [warm, warmDone] = [performance.now(), p.imagesDone]
    })
    const run = studio.runs.start({
      modelId: x.model.id,
      datasetId: x.datasetId,
      ep: 'cpu',
      taps,
      threads,
    })
    await studio.runs.idle()
    off()
    const end = performance.now()
    const r = studio.runs.get(run.id)
    expect(r.status).toBe('done')
    return {
      ips: (r.imagesDone - warmDone) / ((end - warm) / 1000),
      startup: (warm - start) / 1000,
    }
  }
  // Short windows on a shared machine are noisy: every round measures every model in turn
  // (bare loop, run, run with taps), so a slow spell hits all of them, and the medians over
  // the rounds are compared.
  const rounds = 5
  for (let k = 0; k < rounds; k++) {
    for (const x of subjects) {
      x.bare.push(await bareLoop(x))
      const r = await timeRun(x, false)
      x.plain.push(r.ips)
      x.startup.push(r.startup)
      x.tapped.push(x.model.card.gcBlocks.length ? (await timeRun(x, true)).ips : r.ips)
      x.bare1.push(await bareLoop(x, true))
      x.plain1.push((await timeRun(x, false, 1)).ips)
    }
  }
  for (const x of subjects) {
    await x.session.release()
    await x.session1.release()
    // "Run this image" in the viewer: the first call starts the model's process, later ones
    // reuse it.
    const onDemand: number[] = []
    for (const im of x.images.slice(0, 6)) {
      const t = performance.now()
      const r = await studio.dispatch('inference:image', { modelId: x.model.id, imageId: im.id })
      expect(r.ok).toBe(true)
      onDemand.push(performance.now() - t)
    }
    const bareIps = percentile(x.bare, 50)
    const runIps = percentile(x.plain, 50)
    const tapIps = percentile(x.tapped, 50)
    rows.push({
      id: x.bm.id,
      dataset: x.bm.dataset,
      flops: x.model.card.flops,
      bareMs: percentile(x.latencies, 50),
    })
    results[x.bm.id] = {
      images: x.images.length,
      rounds,
      gcBlocks: x.model.card.gcBlocks.length,
      params: x.model.card.params,
      flops: x.model.card.flops,
      bareImagesPerSecond: Number(bareIps.toFixed(2)),
      runImagesPerSecond: Number(runIps.toFixed(2)),
      runWithTapsImagesPerSecond: Number(tapIps.toFixed(2)),
      pipelineCost: Number((1 - runIps / bareIps).toFixed(3)),
      tapCost: Number((1 - tapIps / runIps).toFixed(3)),
      oneThread: {
        bareImagesPerSecond: Number(percentile(x.bare1, 50).toFixed(2)),
        runImagesPerSecond: Number(percentile(x.plain1, 50).toFixed(2)),
        pipelineCost: Number((1 - percentile(x.plain1, 50) / percentile(x.bare1, 50)).toFixed(3)),
      },
      medianForwardMs: Number(percentile(x.latencies, 50).toFixed(2)),
      runStartupSeconds: Number(percentile(x.startup, 50).toFixed(2)),
      onDemandFirstMs: Number(onDemand[0]!.toFixed(1)),
      onDemandWarmMs: Number(percentile(onDemand.slice(1), 50).toFixed(1)),
    }
  }
  // Relative to the baseline of the same task (the model without GC blocks on that dataset).
  for (const r of rows) {
    const same = rows.filter((x) => x.dataset === r.dataset)
    const base = same.find((x) => !(results[x.id] as { gcBlocks: number }).gcBlocks) ?? same[0]!
    Object.assign(results[r.id] as object, {
      baseline: base.id,
      flopsVsBaseline: Number((r.flops / base.flops).toFixed(4)),
      latencyVsBaseline: Number((r.bareMs / base.bareMs).toFixed(3)),
    })
  }
  await studio.close()

  // UI frame times while a run is in progress: the renderer only receives progress events.
  const server = await startServer({ dataDir, importDemo: false })
  const browser = await launchChromium()
  try {
    const page = await studioPage(browser)
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
