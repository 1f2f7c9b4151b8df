// The comparison the studio exists for, end to end in the core on the demo zoo: the baseline,
// GC r16 and GC r4 detectors run over the demo COCO set, compared through the API (evaluations
// computed first, the work on a worker thread, the result stored). r4 must beat the baseline by
// an interval that excludes zero; the segmenters compare too; runs that cannot be compared are
// refused with the reason; a deleted run leaves the saved comparison readable with a message.
import fs from 'node:fs'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Model } from '../../../src-main/common/api'
import type {
  CompareImageInstances,
  Comparison,
  ComparisonDetail,
} from '../../../src-main/common/api/compare'
import { Studio } from '../../../src-main/core/studio'
import { main } from '../../../src-main/cli/index'
import { tempDir } from '../../helpers/fixtures'

let studio: Studio
let dataDir: string
let models: Model[]
const datasets: Record<'coco' | 'cityscapes', number> = { coco: 0, cityscapes: 0 }
const runs: Record<string, number> = {}

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await studio.dispatch(method, input)
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r.value as T
}
async function refusal(method: string, input: unknown): Promise<string> {
  const r = await studio.dispatch(method, input)
  if (r.ok) throw new Error(`${method} was expected to fail`)
  return `${r.error.code}: ${r.error.message}`
}

// Half the demo sets keep the test quick; r4's lead is large enough to show on any half.
const LIMIT = { coco: 120, cityscapes: 30 }

async function startRun(modelName: string, dataset: number, limit: number): Promise<number> {
  const model = models.find((m) => m.name === modelName || m.name.startsWith(`${modelName} (`))!
  const run = await call<{ id: number }>('runs:start', {
    modelId: model.id,
    datasetId: dataset,
    taps: false,
    limit,
  })
  return run.id
}

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] }
  stdout.on('data', (c: Buffer) => chunks.out.push(c))
  stderr.on('data', (c: Buffer) => chunks.err.push(c))
  const code = await main([...argv, '--data-dir', dataDir], {
    stdout,
    stderr,
    cwd: dataDir,
    signal: new AbortController().signal,
  })
  return {
    code,
    stdout: Buffer.concat(chunks.out).toString(),
    stderr: Buffer.concat(chunks.err).toString(),
  }
}

beforeAll(async () => {
  dataDir = tempDir()
  studio = Studio.open({ dataDir, host: 'browser' })
  await studio.ensureDemoDatasets()
  studio.ensureDemoModels()
  for (const d of await call<{ id: number; kind: 'coco' | 'cityscapes' }[]>('datasets:list', {}))
    datasets[d.kind] = d.id
  models = await call<Model[]>('models:list', {})
  for (const name of ['mask-rcnn-baseline', 'mask-rcnn-gc-r16', 'mask-rcnn-gc-r4'])
    runs[name] = await startRun(name, datasets.coco, LIMIT.coco)
  for (const name of ['fcn-baseline', 'gc-head'])
    runs[name] = await startRun(name, datasets.cityscapes, LIMIT.cityscapes)
  await studio.runs.idle()
}, 300_000)
afterAll(async () => studio?.close())

describe('comparing the demo zoo', () => {
  let comparison: Comparison
  let detail: ComparisonDetail

  it(
    'r4 beats the baseline with a bootstrap interval that excludes zero',
    { timeout: 120_000 },
    async () => {
      comparison = await call<Comparison>('compare:create', {
        runIds: [runs['mask-rcnn-baseline'], runs['mask-rcnn-gc-r16'], runs['mask-rcnn-gc-r4']],
      })
      detail = await call<ComparisonDetail>('compare:get', { id: comparison.id })
      const s = detail.summary!
      expect(s.imageCount).toBe(LIMIT.coco)
      // Each run's stats are its stored evaluation's (computed first, at the same ground truth).
      for (const r of s.runs) {
        const evals = await call<{ kind: string; primaryMetric: number }[]>('evaluations:list', {
          runId: r.runId,
        })
        expect(evals.find((e) => e.kind === 'coco-bbox')!.primaryMetric).toBe(r.stats![0])
      }
      const r4 = s.vsReference.find((v) => v.runId === runs['mask-rcnn-gc-r4'])!
      expect(r4.delta).toBeGreaterThan(0.2) // the zoo's r4 is ~36 AP points over its baseline
      expect(r4.ci95![0]).toBeGreaterThan(0)
      expect(r4.ci95![0]).toBeLessThanOrEqual(r4.delta!)
      expect(r4.ci95![1]).toBeGreaterThanOrEqual(r4.delta!)
      expect(r4.fixed).toBeGreaterThan(r4.broken)
      expect(r4.deltaStats![0]).toBe(r4.delta)
      expect(s.categories.length).toBeGreaterThan(0)
      expect(s.prCurves[0]!.curves.every((c) => c!.length === 101)).toBe(true)
      expect(s.runs.map((r) => r.gcLabel)).toEqual(['none', 'r16', 'r4'])
      expect(s.runs.every((r) => r.forwardMs! > 0)).toBe(true)
      expect(detail.problems).toEqual([])
      // It ran as a job of the job system (progress in the tray, cancellable).
      const jobs = await call<{ kind: string; state: string }[]>('jobs:list', {})
      expect(jobs.filter((j) => j.kind === 'comparison').map((j) => j.state)).toContain('done')
    },
  )

  it("lists images by fixed - broken and outlines one image's fixed instances", async () => {
    const list = await call<{
      total: number
      images: { imageId: number; fixed: number[]; broken: number[] }[]
    }>('compare:images', { id: comparison.id, runId: runs['mask-rcnn-gc-r4'] })
    expect(list.total).toBeGreaterThan(0)
    const net = list.images.map((i) => i.fixed[1]! - i.broken[1]!)
    expect(net).toEqual([...net].sort((a, b) => b - a))
    const top = list.images[0]!
    expect(top.fixed[1]).toBeGreaterThan(0)
    const outlines = await call<CompareImageInstances>('compare:imageInstances', {
      id: comparison.id,
      imageId: top.imageId,
    })
    const r4 = outlines.runs.find((r) => r.runId === runs['mask-rcnn-gc-r4'])!
    expect(r4.fixed).toHaveLength(top.fixed[1]!)
    const image = await call<{ annotations: { id: number; bbox: number[] }[] }>('images:get', {
      id: top.imageId,
    })
    for (const f of r4.fixed)
      expect(image.annotations.find((a) => a.id === f.annotationId)!.bbox).toEqual(f.bbox)
    // Totals over all images are the summary's.
    const all = await call<{ images: { fixed: number[]; broken: number[] }[] }>('compare:images', {
      id: comparison.id,
      runId: runs['mask-rcnn-gc-r4'],
      limit: 5000,
    })
    const r4Summary = detail.summary!.vsReference[1]!
    expect(all.images.reduce((s, i) => s + i.fixed[1]!, 0)).toBe(r4Summary.fixed)
    expect(all.images.reduce((s, i) => s + i.broken[1]!, 0)).toBe(r4Summary.broken)
  })

  it('compares the segmenters on mIoU', { timeout: 120_000 }, async () => {
    const c = await call<Comparison>('compare:create', {
      runIds: [runs['fcn-baseline'], runs['gc-head']],
      resamples: 200,
    })
    const s = (await call<ComparisonDetail>('compare:get', { id: c.id })).summary!
    expect(s.kind).toBe('cityscapes')
    const d = s.vsReference[0]!
    expect(d.delta).toBeCloseTo(s.runs[1]!.mIoU! - s.runs[0]!.mIoU!, 12)
    expect(d.delta).toBeGreaterThan(0)
    expect(d.ci95![0]).toBeLessThanOrEqual(d.delta!)
    expect(d.fixed).toBeGreaterThan(d.broken)
    // One image's per-class pixels add up to its row in the difference list.
    const list = await call<{ images: { imageId: number; fixed: number[]; broken: number[] }[] }>(
      'compare:images',
      { id: c.id },
    )
    const top = list.images[0]!
    const one = await call<CompareImageInstances>('compare:imageInstances', {
      id: c.id,
      imageId: top.imageId,
    })
    const classes = one.runs[1]!.classes!
    expect(classes).toHaveLength(19)
    expect(classes.reduce((sum, k) => sum + k.fixedPixels, 0)).toBe(top.fixed[0])
    expect(classes.reduce((sum, k) => sum + k.brokenPixels, 0)).toBe(top.broken[0])
  })

  it('refuses runs that cannot be compared, saying why', async () => {
    expect(
      await refusal('compare:create', { runIds: [runs['mask-rcnn-baseline'], runs['gc-head']] }),
    ).toMatch(
      /CONFLICT: Run \d+ is on dataset ".*" and run \d+ on ".*": only runs of the same dataset/,
    )
    expect(await refusal('compare:create', { runIds: [runs['mask-rcnn-baseline'], 999] })).toBe(
      'NOT_FOUND: Run 999 does not exist.',
    )
    const partial = await call<{ id: number }>('runs:start', {
      modelId: models.find((m) => m.name.startsWith('mask-rcnn-gc-r16'))!.id,
      datasetId: datasets.coco,
      taps: false,
      limit: 10,
    })
    expect(
      await refusal('compare:create', { runIds: [runs['mask-rcnn-baseline'], partial.id] }),
    ).toMatch(/still (running|queued)|finished 120 images and run \d+ 10/)
    await studio.runs.idle()
    expect(
      await refusal('compare:create', { runIds: [runs['mask-rcnn-baseline'], partial.id] }),
    ).toMatch(/finished 120 images and run \d+ 10: a paired comparison needs the same images/)
    const before = (await call<Comparison[]>('compare:list', {})).length
    expect(before).toBe(2) // refusals stored nothing (the CLI's comparison comes next)
  })

  it(
    'compares from the CLI, printing intervals and writing the stable JSON',
    { timeout: 120_000 },
    async () => {
      const json = path.join(dataDir, 'out.json')
      const ids = [runs['mask-rcnn-baseline']!, runs['mask-rcnn-gc-r4']!]
      const out = await cli([
        'compare',
        ...ids.flatMap((id) => ['--run', String(id)]),
        '--json',
        json,
      ])
      expect(out.code).toBe(0)
      const doc = JSON.parse(fs.readFileSync(json, 'utf8')) as {
        iouType: string
        scoreThr: number
        runs: { id: number; model: string; stats: number[] }[]
        vsFirst: {
          id: number
          deltaStats: (number | null)[]
          apCI95: [number, number]
          fixed: number
          broken: number
        }[]
      }
      const s = detail.summary!
      expect(doc.iouType).toBe('bbox')
      expect(doc.scoreThr).toBe(0.5)
      expect(doc.runs.map((r) => r.id)).toEqual(ids)
      expect(doc.runs[0]!.stats).toEqual(s.runs[0]!.stats)
      expect(doc.runs[1]!.stats).toEqual(s.runs[2]!.stats)
      const v = doc.vsFirst[0]!
      // Same seed and resamples as the API's default: the same interval, the same instances.
      expect(v.apCI95).toEqual(s.vsReference[1]!.ci95)
      expect(v.deltaStats).toEqual(s.vsReference[1]!.deltaStats)
      expect([v.fixed, v.broken]).toEqual([s.vsReference[1]!.fixed, s.vsReference[1]!.broken])
      const pts = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}`
      expect(out.stdout).toContain(
        `${pts(v.deltaStats[0]!)} [${pts(v.apCI95[0])}, ${pts(v.apCI95[1])}]`,
      )
      expect(out.stdout).toMatch(/AP\s+AP50\s+AP75/)

      const list = await cli(['run', 'list'])
      expect(list.stdout).toMatch(new RegExp(`^\\s*${ids[1]}\\s+done\\s+mask-rcnn-gc-r4`, 'm'))
      expect((await cli(['dataset', 'list'])).stdout).toMatch(/signal-shapes|coco/i)
      const evaluated = await cli(['eval', '--run', String(ids[1])])
      expect(evaluated.code).toBe(0)
      expect(evaluated.stdout).toContain(`AP     ${s.runs[2]!.stats![0]!.toFixed(3)}`)
      const bad = await cli(['compare', '--run', String(ids[0]), '--run', String(runs['gc-head'])])
      expect(bad.code).toBe(1)
      expect(bad.stderr).toMatch(/only runs of the same dataset can be compared/)
      expect((await cli(['compare', '--run', '1'])).code).toBe(2)
    },
  )

  it('keeps a saved comparison readable after one of its runs is deleted', async () => {
    await call('runs:delete', { id: runs['mask-rcnn-gc-r16'] })
    const after = await call<ComparisonDetail>('compare:get', { id: comparison.id })
    expect(after.summary!.runs).toHaveLength(3)
    expect(after.problems).toEqual([
      `Run ${runs['mask-rcnn-gc-r16']} (${after.summary!.runs[1]!.modelName}) was deleted after this comparison was made: its numbers below are kept, but its predictions can no longer be shown.`,
    ])
    expect(await call('compare:delete', { id: comparison.id })).toEqual({ deleted: true })
    expect(await refusal('compare:get', { id: comparison.id })).toMatch(/NOT_FOUND: Comparison/)
  })
})
