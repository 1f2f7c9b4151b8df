import fs from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Studio } from '../../../src-main/core/studio'
import { forkLauncher, type ProcessLauncher } from '../../../src-main/core/inference/engine'
import { InteractiveInference } from '../../../src-main/core/inference/interactive'
import type { ImageInference, Model } from '../../../src-main/common/api'
import { makeCocoFixture, tempDir } from '../../helpers/fixtures'
import { torchvisionDetector, writeModel } from '../../helpers/onnxGraphs'

let studio: Studio
let imageId: number

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await studio.dispatch(method, input)
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r.value as T
}

/** A detector that answers one box of category `label` (labels are category ids). */
async function detector(label: number): Promise<{ model: Model; file: string }> {
  const file = writeModel(tempDir(), `label${label}.onnx`, torchvisionDetector({ label }))
  const { model } = await call<{ model: Model }>('models:add', { path: file })
  return { model, file }
}

const runImage = (modelId: number) =>
  call<ImageInference>('inference:image', { modelId, imageId, taps: false })

function open(launcher?: ProcessLauncher): Studio {
  return Studio.open({ dataDir: tempDir(), host: 'browser', ...(launcher ? { launcher } : {}) })
}

async function importCoco(s: Studio): Promise<void> {
  const fx = await makeCocoFixture()
  const job = s.jobs.startImport({ kind: 'coco', annotations: fx.annotations, images: fx.images })
  await s.jobs.settled(job.id)
  imageId = (
    s.db.prepare(`SELECT id FROM images WHERE file_name = 'a.png'`).get() as { id: number }
  ).id
}

beforeEach(async () => {
  studio = open()
  await importCoco(studio)
})
afterEach(async () => studio.close())

describe('engine pool', () => {
  it('answers two overlapping requests for different models each with its own model', async () => {
    await studio.close()
    // Answers take 400 ms, so a request is still in flight when the next one arrives.
    const slow: ProcessLauncher = (script) => {
      const ch = forkLauncher(script)
      const inner = ch.onMessage.bind(ch)
      return {
        ...ch,
        onMessage: (cb) =>
          inner((m) => (m.type === 'ready' ? cb(m) : setTimeout(() => cb(m), 400))),
      }
    }
    studio = open(slow)
    await importCoco(studio)
    const [a, b] = [await detector(3), await detector(17)]
    // Both start before either engine is warm: each must still run on its own model's engine.
    const [ra, rb] = await Promise.all([runImage(a.model.id), runImage(b.model.id)])
    expect(ra.predictions!.map((p) => p.categoryId)).toEqual([3])
    expect(rb.predictions!.map((p) => p.categoryId)).toEqual([17])
    // A request for B while one for A is in flight: A's must not be lost or answered by B.
    const pa = runImage(a.model.id)
    await new Promise((r) => setTimeout(r, 150))
    const both = Promise.all([pa, runImage(b.model.id), runImage(a.model.id)])
    const outcome = await Promise.race([
      both.then((rs) => rs.map((r) => r.predictions![0]!.categoryId)),
      new Promise((r) => setTimeout(() => r('a request is still pending after 10 s'), 10_000)),
    ])
    expect(outcome).toEqual([3, 17, 3])
    expect(studio.interactive.pool.keys()).toHaveLength(2)
  })

  it('a disposed engine rejects its pending request at once, with the reason', async () => {
    await studio.close()
    // A process that never answers an image: the request would wait for ever.
    const silent: ProcessLauncher = (script) => {
      const ch = forkLauncher(script)
      return { ...ch, send: (m) => (m.type === 'infer' ? undefined : ch.send(m)) }
    }
    studio = open(silent)
    await importCoco(studio)
    const { model } = await detector(3)
    const pending = runImage(model.id)
    pending.catch(() => {})
    await expect.poll(() => studio.interactive.pool.keys().length).toBe(1)
    await new Promise((r) => setTimeout(r, 300))
    studio.interactive.pool.forget(model.id, 'The model was removed.')
    const outcome = await Promise.race([
      pending.then(
        () => 'answered',
        (err: Error) => err.message,
      ),
      new Promise((r) => setTimeout(() => r('still pending after 2 s'), 2000)),
    ])
    expect(outcome).toBe('CANCELLED: The model was removed.')
  })

  it('keeps at most the configured engines warm, closing the least recently used', async () => {
    const pool = new InteractiveInference({
      db: studio.db,
      dataDir: tempDir(),
      media: studio.media,
      maxEngines: 2,
    })
    try {
      const ms = [await detector(3), await detector(17), await detector(90)]
      const run = (m: Model) => pool.image(m.id, imageId, false)
      await run(ms[0]!.model)
      await run(ms[1]!.model)
      await run(ms[0]!.model) // 0 is now more recent than 1
      await run(ms[2]!.model) // 1 goes
      const ids = pool.pool.keys().map((k) => Number(k.split(':')[0]))
      expect(ids).toEqual([ms[2]!.model.id, ms[0]!.model.id])
      // A memory budget below two engines keeps one.
      const small = new InteractiveInference({
        db: studio.db,
        dataDir: tempDir(),
        media: studio.media,
        budgetBytes: fs.statSync(ms[0]!.file).size * 3 * 1.5,
      })
      await small.image(ms[0]!.model.id, imageId, false)
      await small.image(ms[1]!.model.id, imageId, false)
      expect(small.pool.keys()).toHaveLength(1)
      small.dispose()
    } finally {
      pool.dispose()
    }
  })
})

describe('Run this image checks the model file as runs do', () => {
  it('refuses after the file was truncated or deleted, instead of answering from the warm session', async () => {
    const { model, file } = await detector(3)
    expect((await runImage(model.id)).predictions).toHaveLength(1)
    fs.truncateSync(file, 100)
    await expect(runImage(model.id)).rejects.toThrow(/CONFLICT: The model file .* changed since/)
    expect(studio.interactive.pool.keys()).toEqual([])
    fs.rmSync(file)
    await expect(runImage(model.id)).rejects.toThrow(/NOT_FOUND: The model file .* is gone/)
  })
})
