// The runs and run_images tables through their store module: a run reads back as the API's Run
// (model and dataset names, GC block count, parsed settings), moves through its statuses with
// timestamps written once, counts its images, and tells resume what is left to do.
import type Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import type { Run } from '../../../src-main/common/api'
import { AttentionMapStore } from '../../../src-main/core/store/attentionMaps'
import { ModelStore } from '../../../src-main/core/store/models'
import { RunStore } from '../../../src-main/core/store/runs'
import { ISO_MS, newModel, seedDataset, storeAt } from './runRows'

const settings: Run['settings'] = {
  modelId: 1,
  datasetId: 1,
  scoreThreshold: 0.3,
  ep: 'auto',
  taps: true,
  threads: 0,
}
const geometry = {
  width: 640,
  height: 480,
  resizedWidth: 1333,
  resizedHeight: 1000,
  inputWidth: 1344,
  inputHeight: 1024,
  scaleX: 2.083,
  scaleY: 2.083,
}
const timings = (ms: number) => ({ preprocessMs: 1, inferenceMs: ms, postprocessMs: 2 })

function setUp(): { db: Database.Database; store: RunStore; images: number[]; runId: number } {
  const db = storeAt()
  const images = seedDataset(db)
  new ModelStore(db).add(newModel('aaa', 'gc r16'))
  const store = new RunStore(db)
  const runId = store.create({ modelId: 1, datasetId: 1, settings, imagesTotal: 3 })
  return { db, store, images, runId }
}

describe('RunStore', () => {
  it('creates a queued run and reads it back as the API shows it', () => {
    const { store, runId } = setUp()
    const run = store.get(runId)!
    expect(run).toEqual({
      id: runId,
      modelId: 1,
      modelName: 'gc r16',
      datasetId: 1,
      datasetName: 'val',
      task: 'detection',
      status: 'queued',
      settings,
      executionProvider: null,
      imagesTotal: 3,
      imagesDone: 0,
      imagesFailed: 0,
      rate: null,
      etaSeconds: null,
      meanInferenceMs: null,
      gcBlocks: 3,
      error: null,
      failures: [],
      notes: null,
      createdAt: run.createdAt,
      startedAt: null,
      finishedAt: null,
    })
    expect(run.createdAt).toMatch(ISO_MS)
    expect(store.exists(runId)).toBe(true)
    expect(store.get(99)).toBeNull()
    expect(store.exists(99)).toBe(false)
  })

  it('lists newest first, by dataset or by model', () => {
    const { db, store, runId } = setUp()
    seedDataset(db, 2, 'test')
    new ModelStore(db).add(newModel('bbb'))
    const other = store.create({ modelId: 2, datasetId: 2, settings, imagesTotal: 3 })
    expect(store.list().map((r) => r.id)).toEqual([other, runId])
    expect(store.list({ datasetId: 1 }).map((r) => r.id)).toEqual([runId])
    expect(store.list({ modelId: 2 }).map((r) => r.id)).toEqual([other])
    expect(store.list({ datasetId: 1, modelId: 2 })).toEqual([])
    expect(store.list({ datasetId: 2 })[0]!.datasetName).toBe('test')
  })

  it('records per-image outcomes, counts them, and says why images failed', () => {
    const { db, store, images, runId } = setUp()
    db.transaction(() => {
      store.imageDone(runId, images[0]!, { note: null, timings: timings(10), geometry })
      store.imageDone(runId, images[1]!, { note: 'no detections', timings: timings(30), geometry })
      store.imageError(runId, images[2]!, 'The image file sub/c.jpg is missing.')
      store.refreshCounts(runId)
    })()
    expect(store.counts(runId)).toEqual({ done: 2, failed: 1, total: 3 })
    expect(store.image(runId, images[0]!)).toEqual({
      status: 'done',
      error: null,
      geometry,
      timings: timings(10),
    })
    expect(store.image(runId, images[1]!)!.error).toBe('no detections')
    expect(store.image(runId, images[2]!)).toEqual({
      status: 'error',
      error: 'The image file sub/c.jpg is missing.',
      geometry: null,
      timings: null,
    })
    expect(store.image(runId, 999)).toBeNull()
    expect(store.failures(runId)).toEqual([
      { message: 'The image file sub/c.jpg is missing.', images: 1 },
    ])
    store.finish(runId, 'done', null)
    const run = store.get(runId)!
    expect(run).toMatchObject({ imagesDone: 2, imagesFailed: 1, meanInferenceMs: 20 })
    // Two images in 13 + 33 ms of compute.
    expect(run.rate).toBeCloseTo(2000 / 46)
    expect(run.failures).toEqual(store.failures(runId))
    // A retried image replaces its failure.
    store.imageDone(runId, images[2]!, { note: null, timings: timings(5), geometry })
    store.refreshCounts(runId)
    expect(store.counts(runId)).toEqual({ done: 3, failed: 0, total: 3 })
    expect(store.failures(runId)).toEqual([])
  })

  it('moves through its statuses, writing each time once', () => {
    const { store, runId } = setUp()
    expect(store.unfinished()).toEqual([{ id: runId, ownerPid: null }])
    store.markRunning(runId, 4242)
    store.setExecutionProvider(runId, 'cpu')
    const started = store.get(runId)!
    expect(started).toMatchObject({ status: 'running', executionProvider: 'cpu', rate: null })
    expect(started.startedAt).toMatch(ISO_MS)
    expect(store.unfinished()).toEqual([{ id: runId, ownerPid: 4242 }])
    store.markInterrupted(runId)
    store.markInterrupted(runId)
    expect(store.get(runId)).toMatchObject({
      status: 'paused',
      notes:
        'Interrupted; resume continues where it stopped. Interrupted; resume continues where it stopped.',
    })
    store.fail(runId, 'The disk is full.', 'Ran on the CPU.')
    const failed = store.get(runId)!
    expect(failed).toMatchObject({
      status: 'failed',
      error: 'The disk is full.',
      notes: 'Ran on the CPU.',
    })
    expect(failed.finishedAt).toMatch(ISO_MS)
    store.requeue(runId)
    expect(store.get(runId)).toMatchObject({ status: 'queued', error: null, finishedAt: null })
    // A resumed run keeps the time it first started.
    store.markRunning(runId, 4243)
    expect(store.get(runId)!.startedAt).toBe(started.startedAt)
    store.finish(runId, 'cancelled', null)
    expect(store.get(runId)).toMatchObject({ status: 'cancelled', notes: null })
    expect(store.unfinished()).toEqual([])
    const queued = store.create({ modelId: 1, datasetId: 1, settings, imagesTotal: 1 })
    store.cancelQueued(queued)
    expect(store.get(queued)!.status).toBe('cancelled')
    expect(store.get(queued)!.finishedAt).toMatch(ISO_MS)
  })

  it('tells resume the images left (failed ones included), within the limit', () => {
    const { store, images, runId } = setUp()
    expect(store.pendingImages(runId, 1, null)).toEqual([
      { id: images[0], fileName: 'a.jpg', width: 640, height: 480, applyOrientation: true },
      { id: images[1], fileName: 'b.jpg', width: 320, height: 240, applyOrientation: false },
      { id: images[2], fileName: 'sub/c.jpg', width: 800, height: 600, applyOrientation: null },
    ])
    store.imageDone(runId, images[0]!, { note: null, timings: timings(1), geometry })
    store.imageError(runId, images[1]!, 'broken')
    expect(store.pendingImages(runId, 1, null).map((p) => p.id)).toEqual([images[1], images[2]])
    expect(store.pendingImages(runId, 1, 2).map((p) => p.id)).toEqual([images[1]])
  })

  it('lists the finished images still without attention maps', () => {
    const { db, store, images, runId } = setUp()
    for (const id of images)
      store.imageDone(runId, id, { note: null, timings: timings(1), geometry })
    store.imageError(runId, images[2]!, 'broken')
    new AttentionMapStore(db).write(runId, images[0]!, [
      {
        block: 0,
        height: 1,
        width: 2,
        min: 0,
        max: 1,
        data: new Uint8Array([0, 255]),
        transform: null,
      },
    ])
    expect(store.imagesWithoutAttention(runId)).toEqual([
      { id: images[1], fileName: 'b.jpg', width: 320, height: 240, applyOrientation: false },
    ])
  })

  it('removes a run with its images', () => {
    const { db, store, images, runId } = setUp()
    store.imageDone(runId, images[0]!, { note: null, timings: timings(1), geometry })
    expect(store.remove(runId)).toBe(true)
    expect(store.remove(runId)).toBe(false)
    expect(store.get(runId)).toBeNull()
    expect(db.prepare('SELECT count(*) AS n FROM run_images').get()).toEqual({ n: 0 })
  })
})
