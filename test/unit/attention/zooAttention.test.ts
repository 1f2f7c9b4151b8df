// The zoo README's attention table, measured by the studio on its own runs: GC r4's c3 block
// puts its mass on the signal strip at the image edge (far from every shape: context reach),
// r16's c3/c4 blocks stay near uniform and its c5 block reaches for the strip; the GC head of
// the segmenter looks at the bus-stop board (the `traffic sign` class of the label maps).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Studio } from '../../../src-main/core/studio'
import type { Model } from '../../../src-main/common/api'
import type { AttentionStats } from '../../../src-main/common/api/attention'
import { tempDir } from '../../helpers/fixtures'

let studio: Studio
const stats: Record<string, AttentionStats> = {}

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await studio.dispatch(method, input)
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r.value as T
}

beforeAll(async () => {
  studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
  await studio.ensureDemoDatasets()
  studio.ensureDemoModels()
  const datasets = await call<{ id: number; kind: string }[]>('datasets:list', {})
  const models = await call<Model[]>('models:list', {})
  for (const name of ['mask-rcnn-gc-r16', 'mask-rcnn-gc-r4', 'gc-head']) {
    const model = models.find((m) => m.name === name || m.name.startsWith(`${name} (`))!
    const run = await call<{ id: number }>('runs:start', {
      modelId: model.id,
      datasetId: datasets.find((d) => d.kind === (name === 'gc-head' ? 'cityscapes' : 'coco'))!
        .id,
      taps: true,
    })
    await studio.runs.idle()
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
