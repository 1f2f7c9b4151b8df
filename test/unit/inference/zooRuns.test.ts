// The newcomer's path, end to end in the core: a fresh data folder picks up the bundled demo
// datasets and every demo model by itself; each model runs over its whole demo val split in the
// inference process, the run is evaluated in the studio, and the numbers are the ones the
// zoo's recipe measured on the PyTorch models (models/manifest.json, rounded to 4 decimals
// there). A mistake anywhere on the way (preprocessing, adapters, mask pasting, label mapping,
// storage, evaluation) moves these numbers.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Studio } from '../../../src-main/core/studio'
import { packageRoot } from '../../../src-main/core/paths'
import type { Model } from '../../../src-main/common/api'
import { tempDir } from '../../helpers/fixtures'

interface ZooModel {
  id: string
  task: string
  metrics: { bbox?: { AP: number }; segm?: { AP: number }; mIoU?: number }
}
const manifest = JSON.parse(
  fs.readFileSync(path.join(packageRoot(), 'models/manifest.json'), 'utf8'),
) as { models: ZooModel[] }

let studio: Studio
let models: Model[]
const datasets: Record<'coco' | 'cityscapes', number> = { coco: 0, cityscapes: 0 }

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await studio.dispatch(method, input)
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r.value as T
}

beforeAll(async () => {
  studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
  await studio.ensureDemoDatasets()
  studio.ensureDemoModels()
  for (const d of await call<{ id: number; kind: 'coco' | 'cityscapes' }[]>('datasets:list', {}))
    datasets[d.kind] = d.id
  models = await call<Model[]>('models:list', {})
}, 120_000)
afterAll(async () => studio?.close())

describe('demo models on the demo datasets, evaluated in the studio', () => {
  it('finds both demo datasets and every shipped model on first start', () => {
    expect(datasets.coco).toBeGreaterThan(0)
    expect(datasets.cityscapes).toBeGreaterThan(0)
    expect(models).toHaveLength(manifest.models.length)
  })

  for (const zm of manifest.models) {
    it(`${zm.id}: a full run scores what the recipe measured`, { timeout: 120_000 }, async () => {
      // Demo models are named after their export folder (or their sidecar's name).
      const model = models.find((m) => m.name === zm.id || m.name.startsWith(`${zm.id} (`))
      expect(model, `model ${zm.id} imported`).toBeDefined()
      const semantic = zm.task === 'semantic-segmentation'
      const run = await call<{ id: number }>('runs:start', {
        modelId: model!.id,
        datasetId: semantic ? datasets.cityscapes : datasets.coco,
        taps: false,
      })
      await studio.runs.idle()
      const done = await call<{ status: string; imagesDone: number; imagesFailed: number }>(
        'runs:get',
        { id: run.id },
      )
      expect([done.status, done.imagesFailed]).toEqual(['done', 0])
      const evals = await call<{ kind: string; status: string; primaryMetric: number }[]>(
        'evaluations:run',
        { runId: run.id },
      )
      const got = Object.fromEntries(evals.map((e) => [e.kind, e.primaryMetric]))
      const want = semantic
        ? { cityscapes: zm.metrics.mIoU! }
        : { 'coco-bbox': zm.metrics.bbox!.AP, 'coco-segm': zm.metrics.segm!.AP }
      for (const [kind, value] of Object.entries(want))
        expect(
          Math.abs(got[kind]! - value),
          `${kind}: studio ${got[kind]} recipe ${value}`,
        ).toBeLessThanOrEqual(5e-4)
    })
  }
})
