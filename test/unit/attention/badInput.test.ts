// What a researcher sees when a run cannot give full statistics: each case a message or a label,
// never a silent zero; and a second request never computes the same statistics again.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Studio } from '../../../src-main/core/studio'
import type { Model, Run } from '../../../src-main/common/api'
import type { AttentionStats } from '../../../src-main/common/api/attention'
import { resourcesDir } from '../../../src-main/core/paths'
import { tempDir } from '../../helpers/fixtures'

let studio: Studio
let models: Model[]
let coco = 0

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await studio.dispatch(method, input)
  if (!r.ok) throw Object.assign(new Error(r.error.message), { code: r.error.code })
  return r.value as T
}
const model = (name: string) =>
  models.find((m) => m.name === name || m.name.startsWith(`${name} (`))!

async function run(name: string, datasetId: number, taps: boolean, limit?: number): Promise<Run> {
  const r = await call<Run>('runs:start', {
    modelId: model(name).id,
    datasetId,
    taps,
    ...(limit ? { limit } : {}),
  })
  await studio.runs.idle()
  return r
}

beforeAll(async () => {
  studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
  await studio.ensureDemoDatasets()
  studio.ensureDemoModels()
  coco = (await call<{ id: number; kind: string }[]>('datasets:list', {})).find(
    (d) => d.kind === 'coco',
  )!.id
  models = await call<Model[]>('models:list', {})
}, 120_000)
afterAll(async () => studio?.close())

describe('attention statistics: bad input and labels', () => {
  it('a run without taps says so; taps on demand add attention and leave predictions be', async () => {
    const r = await run('mask-rcnn-gc-r4', coco, false, 4)
    await expect(call('attention:compute', { runId: r.id })).rejects.toThrow(
      new RegExp(`Run ${r.id} was made without attention taps`),
    )
    const rows = () =>
      studio.db
        .prepare('SELECT * FROM predictions WHERE run_id = ? ORDER BY id')
        .all(r.id) as unknown[]
    const runRows = () =>
      studio.db.prepare('SELECT * FROM run_images WHERE run_id = ? ORDER BY image_id').all(r.id)
    const [before, beforeImages] = [rows(), runRows()]
    expect(before.length).toBeGreaterThan(0)
    expect(await call('attention:tap', { runId: r.id })).toEqual({ runId: r.id, images: 4 })
    expect(rows()).toEqual(before)
    expect(runRows()).toEqual(beforeImages)
    const s = await call<AttentionStats>('attention:compute', { runId: r.id })
    expect(s.blocks.map((b) => b.images)).toEqual([4, 4, 4])
    // The same maps as a run made with taps.
    const tapped = await run('mask-rcnn-gc-r4', coco, true, 4)
    const maps = (id: number) =>
      studio.db
        .prepare(
          'SELECT image_id, block_index, data, weights_f16 FROM attention_maps WHERE run_id = ? ORDER BY image_id, block_index',
        )
        .all(id)
    expect(maps(r.id)).toEqual(maps(tapped.id))
  })

  it('a model without GC blocks has no attention to analyse', async () => {
    const r = await run('mask-rcnn-baseline', coco, true, 2)
    await expect(call('attention:compute', { runId: r.id })).rejects.toThrow(/has no GC blocks/)
  })

  it('a partial run is computed over its finished images and labelled so', async () => {
    const started = await call<Run>('runs:start', {
      modelId: model('mask-rcnn-gc-r4').id,
      datasetId: coco,
    })
    await new Promise<void>((resolve) => {
      const off = studio.bus.subscribe((e) => {
        if (e.name !== 'run:progress') return
        const r = e.payload as Run
        if (r.id === started.id && r.imagesDone >= 8) {
          off()
          studio.runs.cancel(started.id)
          resolve()
        }
      })
    })
    await studio.runs.idle()
    const r = await call<Run>('runs:get', { id: started.id })
    expect(r.status).toBe('cancelled')
    const s = await call<AttentionStats>('attention:compute', { runId: r.id })
    expect(s.partial).toBe(true)
    expect(s.images).toBe(r.imagesDone)
    expect(s.images).toBeLessThan(240)
    expect(s.blocks[0]!.images).toBe(r.imagesDone)
    expect(s.notes[0]).toBe(
      `Partial run: run ${r.id} is cancelled, statistics cover its ${r.imagesDone} finished of 240 images.`,
    )
  })

  it('a dataset without masks uses the boxes and says so', async () => {
    const demo = path.join(resourcesDir(), 'demo', 'coco')
    const gt = JSON.parse(
      fs.readFileSync(path.join(demo, 'annotations', 'instances_val.json'), 'utf8'),
    ) as { annotations: Record<string, unknown>[] }
    for (const a of gt.annotations) delete a.segmentation
    const file = path.join(tempDir(), 'boxes_only.json')
    fs.writeFileSync(file, JSON.stringify(gt))
    const { jobId } = await call<{ jobId: string }>('datasets:import', {
      kind: 'coco',
      annotations: file,
      images: path.join(demo, 'val'),
      name: 'boxes only',
    })
    const job = await studio.jobs.settled(jobId)
    expect(job.state).toBe('done')
    const r = await run('mask-rcnn-gc-r4', job.datasetId!, true, 6)
    const s = await call<AttentionStats>('attention:compute', { runId: r.id })
    expect(s.regions).toBe('boxes')
    expect(s.notes).toContain(
      'The dataset has no instance masks: object regions are the annotated boxes.',
    )
    expect(s.blocks[0]!.inObjectRatio!.n).toBe(6)
  })

  it('computes once: the same request finds the stored statistics', async () => {
    const r = await run('mask-rcnn-gc-r16', coco, true, 5)
    expect(await call('attention:stats', { runId: r.id })).toBeNull()
    const first = await call<AttentionStats>('attention:compute', { runId: r.id })
    const again = await call<AttentionStats>('attention:compute', { runId: r.id })
    expect(again.id).toBe(first.id)
    expect(again.finishedAt).toBe(first.finishedAt)
    expect((await call<AttentionStats>('attention:stats', { runId: r.id }))!.id).toBe(first.id)
    // Other parameters are another computation.
    const far = await call<AttentionStats>('attention:compute', {
      runId: r.id,
      params: { contextDistance: 64 },
    })
    expect(far.id).not.toBe(first.id)
    expect(far.params.contextDistance).toBe(64)
    const rows = await call<{ block: number }[]>('attention:images', {
      statsId: first.id,
      block: 0,
      limit: 10,
    })
    expect(rows).toHaveLength(5)
  })
})
