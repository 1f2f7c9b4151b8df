// The zoo README's attention table, measured by the studio on its own runs: GC r4's c3 block
// puts its mass on the signal strip at the image edge (far from every shape: context reach),
// r16's c3/c4 blocks stay near uniform and its c5 block reaches for the strip; the GC head of
// the segmenter looks at the bus-stop board (the `traffic sign` class of the label maps).
//
// Truth: the zoo's PyTorch reference cases hold no attention maps (models/reference/*/index.json
// lists only the models' own outputs), so the float maps come from the studio's float taps: the
// tapped model run in onnxruntime on the reference images, the softmax read before the run
// writer quantises it. Statistics of the stored uint8 maps must equal those of the float maps.
import fs from 'node:fs'
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Studio } from '../../../src-main/core/studio'
import type { Model } from '../../../src-main/common/api'
import type { AttentionStats } from '../../../src-main/common/api/attention'
import { loadImageContext, storedProbabilities } from '../../../src-main/core/attentionJob'
import { dequantize, mapStats, quantizedEntropyTop } from '../../../src-main/core/attention/stats'
import {
  finishedRunImage,
  imageMaps,
  runForAttention,
} from '../../../src-main/core/store/attentionStats'
import { decodeImage } from '../../../src-main/core/inference/runner'
import { geometry, resizeBilinearRgb, toTensor } from '../../../src-main/core/inference/preprocess'
import { tappedModelPath } from '../../../src-main/core/inference/runs'
import { getModel } from '../../../src-main/core/models/registry'
import { packageRoot } from '../../../src-main/core/paths'
import { tempDir } from '../../helpers/fixtures'
import { attentionCommand } from '../../../src-main/cli/commands/attention'
import { captureIo } from '../eval/streams'

let studio: Studio
let dataDir: string
const stats: Record<string, AttentionStats> = {}
const runIds: Record<string, number> = {}

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await studio.dispatch(method, input)
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r.value as T
}

beforeAll(async () => {
  dataDir = tempDir()
  studio = Studio.open({ dataDir, host: 'browser' })
  await studio.ensureDemoDatasets()
  studio.ensureDemoModels()
  const datasets = await call<{ id: number; kind: string }[]>('datasets:list', {})
  const models = await call<Model[]>('models:list', {})
  for (const name of ['mask-rcnn-gc-r16', 'mask-rcnn-gc-r4', 'gc-head']) {
    const model = models.find((m) => m.name === name || m.name.startsWith(`${name} (`))!
    const run = await call<{ id: number }>('runs:start', {
      modelId: model.id,
      datasetId: datasets.find((d) => d.kind === (name === 'gc-head' ? 'cityscapes' : 'coco'))!.id,
      taps: true,
    })
    await studio.runs.idle()
    runIds[name] = run.id
    stats[name] = await call<AttentionStats>('attention:compute', {
      runId: run.id,
      params: { contextDistance: 48 },
    })
  }
}, 300_000)
afterAll(async () => studio?.close())

const stage = (name: string, s: string) => stats[name]!.stages[s]!

describe('attention statistics of the demo zoo', () => {
  it('cover every image of the full runs, with masks, unlabelled as partial', () => {
    for (const name of ['mask-rcnn-gc-r16', 'mask-rcnn-gc-r4']) {
      expect(stats[name]!.images).toBe(240)
      expect(stats[name]!.partial).toBe(false)
      // Every signal-shapes object has a polygon or an RLE mask.
      expect(stats[name]!.regions).toBe('masks')
      expect(Object.keys(stats[name]!.stages).sort()).toEqual(['c3', 'c4', 'c5'])
    }
  })

  it("r4's c3 block attends the strip: low entropy, mass far from every object", () => {
    const c3 = stage('mask-rcnn-gc-r4', 'c3')
    expect(c3.entropy.mean).toBeLessThan(0.8)
    expect(c3.contextMass!.mean).toBeGreaterThan(0.9)
    expect(c3.inObjectRatio!.mean).toBeLessThan(0.2)
  })

  it("r16's c3 and c4 blocks stay near uniform; its c5 block reaches for context", () => {
    const [c3, c4, c5] = ['c3', 'c4', 'c5'].map((s) => stage('mask-rcnn-gc-r16', s))
    expect(c3!.entropy.mean).toBeGreaterThan(0.95)
    expect(c4!.entropy.mean).toBeGreaterThan(0.9)
    // Near uniform: context gets about its area share, not the strip.
    expect(Math.abs(c3!.contextMass!.mean - c3!.contextArea!.mean)).toBeLessThan(0.05)
    expect(c5!.contextMass!.mean).toBeGreaterThan(c5!.contextArea!.mean + 0.2)
    expect(c5!.entropy.mean).toBeLessThan(c3!.entropy.mean - 0.2)
  })

  it('the GC head looks at the bus-stop board (traffic sign) far above its area share', () => {
    const head = stats['gc-head']!.blocks[0]!
    const sign = head.classes.find((c) => c.name === 'traffic sign')!
    expect(sign.ratio!).toBeGreaterThan(3)
  })
})

describe('gcstudio attention', () => {
  it('prints the per-stage table and writes the stable JSON, from the stored statistics', async () => {
    const io = captureIo(dataDir)
    const json = path.join(dataDir, 'r4-attention.json')
    const runId = runIds['mask-rcnn-gc-r4']!
    const code = await attentionCommand.run(
      ['--run', String(runId), '--json', json, '--context-distance', '48', '--data-dir', dataDir],
      io,
    )
    expect(code, io.err()).toBe(0)
    const doc = JSON.parse(fs.readFileSync(json, 'utf8')) as {
      run: number
      blocks: {
        index: number
        stage: string
        ratio: number
        entropy: { mean: number; p50: number }
      }[]
      stages: Record<string, { entropy: { mean: number }; inObjectRatio: { mean: number } }>
    }
    const s = stats['mask-rcnn-gc-r4']!
    expect(doc.run).toBe(runId)
    expect(doc.blocks.map((b) => [b.index, b.stage, b.ratio])).toEqual([
      [0, 'c3', 4],
      [1, 'c4', 4],
      [2, 'c5', 4],
    ])
    expect(doc.blocks[0]!.entropy.mean).toBe(s.blocks[0]!.entropy.mean)
    expect(doc.stages.c3!.inObjectRatio.mean).toBe(s.stages.c3!.inObjectRatio!.mean)
    const c3 = io
      .out()
      .split('\n')
      .find((l) => l.startsWith('stage c3'))!
    expect(c3).toContain(s.stages.c3!.entropy.mean.toFixed(3))
  })
})

describe('statistics of the stored uint8 maps equal those of the float maps', () => {
  for (const name of ['mask-rcnn-gc-r16', 'mask-rcnn-gc-r4', 'gc-head']) {
    it(`${name}: on the zoo's reference images, within 1e-3`, { timeout: 60_000 }, async () => {
      const db = studio.db
      const run = runForAttention(db, runIds[name]!)!
      const model = getModel(db, studio.runs.get(run.id).modelId)
      const tapped = tappedModelPath(dataDir, model)
      const session = await ort.InferenceSession.create(tapped.file, { intraOpNumThreads: 1 })
      const index = JSON.parse(
        fs.readFileSync(path.join(packageRoot(), `models/reference/${name}/index.json`), 'utf8'),
      ) as { cases: { image: string }[] }
      let compared = 0
      let codesError = 0
      for (const c of index.cases) {
        const file = path.join(packageRoot(), c.image)
        const row = db
          .prepare('SELECT id FROM images WHERE dataset_id = ? AND file_name LIKE ?')
          .get(run.datasetId, `%${path.basename(file)}`) as { id: number }
        const img = finishedRunImage(db, run.id, row.id)!
        const decoded = await decodeImage({
          imageId: row.id,
          file,
          width: img.width,
          height: img.height,
          applyOrientation: null,
        })
        const spec = model.config.preprocess
        const g = geometry(decoded.width, decoded.height, spec)
        expect(g).toEqual(img.geometry)
        const input = toTensor(
          resizeBilinearRgb(
            decoded.rgb,
            decoded.width,
            decoded.height,
            g.resizedWidth,
            g.resizedHeight,
          ),
          g,
          spec,
        )
        const dims =
          model.config.inputRank === 3
            ? [3, g.inputHeight, g.inputWidth]
            : [1, 3, g.inputHeight, g.inputWidth]
        const out = await session.run({
          [model.config.inputName]: new ort.Tensor('float32', input, dims),
        })
        const ctx = await loadImageContext(
          db,
          run,
          { ...img, geometry: g },
          { contextDistance: 48 },
        )
        const stored = new Map(imageMaps(db, run.id, row.id).map((m) => [m.block_index, m]))
        for (const t of tapped.taps) {
          const m = stored.get(t.block)!
          const floatMap = Float64Array.from(out[t.attention]!.data as Float32Array)
          expect(floatMap.length).toBe(m.height * m.width)
          const { grid, regions } = ctx.image.on(m.height, m.width)
          const want = mapStats(floatMap, grid, regions)
          expect(m.weights_f16, 'half-float weights stored').not.toBeNull()
          const probs = new Float64Array(m.height * m.width)
          const got = mapStats(probs, grid, regions, storedProbabilities(m, probs))
          // The 8-bit codes alone (maps stored before the half floats): the known, larger bound.
          const data = new Uint8Array(m.data)
          const lut = new Float64Array(256)
          const p8 = dequantize({ data, min: m.min_value, max: m.max_value }, undefined, lut)
          const codes = mapStats(p8, grid, regions, quantizedEntropyTop(data, lut))
          codesError = Math.max(codesError, Math.abs(codes.entropy - want.entropy))
          const where = `${name} block ${t.block} on ${path.basename(file)}`
          expect(Math.abs(got.entropy - want.entropy), `${where}: entropy`).toBeLessThan(1e-3)
          if (want.inObjectRatio !== null)
            expect(
              Math.abs(got.inObjectRatio! - want.inObjectRatio),
              `${where}: in-object ratio`,
            ).toBeLessThan(1e-3)
          expect(Math.abs(got.top1Mass - want.top1Mass), `${where}: top 1%`).toBeLessThan(1e-3)
          expect(Math.abs(got.contextMass! - want.contextMass!), `${where}: context`).toBeLessThan(
            1e-3,
          )
          compared++
        }
      }
      await session.release()
      expect(compared).toBe(index.cases.length * tapped.taps.length)
      expect(codesError).toBeLessThan(0.02)
    })
  }
})
