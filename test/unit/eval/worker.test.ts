import { join } from 'node:path'
import { builtWorkerPath } from '../../../src-main/core/paths'
import { beforeAll, describe, expect, it } from 'vitest'
import type { CocoDataset, CocoResult } from '../../../src-main/core/eval/cocoData'
import { evaluateCoco } from '../../../src-main/core/eval/cocoEval'
import type { EvalJob } from '../../../src-main/core/eval/job'
import { runEvalInWorker } from '../../../src-main/core/eval/workerClient'
import { createEvalWorkerHost } from '../../../src-main/core/eval/workerHost'
import type { EvalWorkerMessage } from '../../../src-main/core/eval/workerProtocol'
import { generateCocoSet } from '../../bench/evalGenerate'
import { fixtureDir, loadFixture } from './fixtures'

interface CocoCase {
  name: string
  iouType: 'bbox' | 'segm'
  gt: CocoDataset
  dets: CocoResult[]
  expected: { stats: number[] }
}
const cases = loadFixture<CocoCase[]>('coco-cases.json')
const crowd = cases.find((c) => c.name === 'crowd overlap (bbox)')!

async function collect(job: EvalJob): Promise<EvalWorkerMessage[]> {
  const messages: EvalWorkerMessage[] = []
  const host = createEvalWorkerHost((m) => messages.push(m))
  await host.handle({ type: 'run', id: 7, job })
  return messages
}

describe('evaluation worker protocol (in-process host)', () => {
  it('posts progress, then exactly one result', async () => {
    const messages = await collect({
      kind: 'coco',
      iouType: 'bbox',
      groundTruth: { data: crowd.gt },
      detections: { data: crowd.dets },
    })
    const last = messages.at(-1)!
    expect(last.type).toBe('result')
    expect(messages.filter((m) => m.type === 'result')).toHaveLength(1)
    const progress = messages.filter((m) => m.type === 'progress')
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.at(-1)).toMatchObject({ done: progress.at(-1)!.total })
    progress.forEach((m, i) => i > 0 && expect(m.done).toBeGreaterThan(progress[i - 1]!.done))
    expect(messages.every((m) => m.id === 7)).toBe(true)
    if (last.type === 'result' && last.result.kind === 'coco') {
      expect(last.result.evaluation.stats).toEqual(crowd.expected.stats)
      expect(last.result.report.stats).toEqual(crowd.expected.stats)
    }
  })

  it('posts one error naming the bad entry, and no result', async () => {
    const dets = structuredClone(crowd.dets)
    dets[4]!.image_id = 42
    const messages = await collect({
      kind: 'coco',
      iouType: 'bbox',
      groundTruth: { data: crowd.gt },
      detections: { data: dets },
    })
    expect(messages.filter((m) => m.type === 'result')).toHaveLength(0)
    expect(messages.at(-1)).toMatchObject({
      type: 'error',
      id: 7,
      code: 'INVALID_INPUT',
      reason: 'EVAL_UNKNOWN_IMAGE',
      message: expect.stringMatching(/results\[4\] names image_id 42/),
      details: { index: 4, imageId: 42, reason: 'EVAL_UNKNOWN_IMAGE' },
    })
  })

  it('runs Cityscapes jobs from directories', async () => {
    const root = join(fixtureDir, 'cityscapes')
    const messages = await collect({
      kind: 'cityscapes',
      groundTruthDir: join(root, 'gtFine'),
      predictionDir: join(root, 'pred'),
    })
    const last = messages.at(-1)!
    expect(last.type).toBe('result')
    expect(messages.filter((m) => m.type === 'progress').at(-1)).toMatchObject({
      done: 3,
      total: 3,
    })
  })
})

describe('evaluation on a real worker thread', () => {
  // The worker as the app runs it: the build's entry point (`npm test` builds first).
  let bundle: string
  beforeAll(() => {
    bundle = builtWorkerPath('evalWorker')
  })

  it('returns the same evaluation as in-process, with typed arrays intact', async () => {
    const progress: number[] = []
    const result = await runEvalInWorker(
      bundle,
      {
        kind: 'coco',
        iouType: crowd.iouType,
        groundTruth: { data: crowd.gt },
        detections: { data: crowd.dets },
      },
      { onProgress: (done) => progress.push(done) },
    )
    expect(result.kind).toBe('coco')
    if (result.kind !== 'coco') return
    const direct = evaluateCoco(crowd.gt, crowd.dets, { iouType: crowd.iouType })
    expect(result.evaluation.stats).toEqual(direct.stats)
    expect(result.evaluation.precision).toBeInstanceOf(Float64Array)
    expect(Array.from(result.evaluation.precision)).toEqual(Array.from(direct.precision))
    expect(progress.length).toBeGreaterThan(0)
  })

  it('rejects with the worker error code', async () => {
    await expect(
      runEvalInWorker(bundle, {
        kind: 'coco',
        iouType: 'bbox',
        groundTruth: { path: '/nonexistent/instances.json' },
        detections: { data: [] },
      }),
    ).rejects.toMatchObject({
      code: 'IO_ERROR',
      reason: 'EVAL_READ_FAILED',
      message: expect.stringMatching(/instances\.json/),
    })
  })

  it('cancels a running evaluation at once', async () => {
    const set = generateCocoSet({
      seed: 9,
      images: 300,
      categories: 20,
      gtPerImage: 6,
      detsPerImage: 60,
      exactDetections: true,
      masks: false,
      scoreDecimals: 2,
    })
    const controller = new AbortController()
    const started = Date.now()
    const pending = runEvalInWorker(
      bundle,
      {
        kind: 'coco',
        iouType: 'bbox',
        groundTruth: { data: set.dataset },
        detections: { data: set.bboxResults },
      },
      { signal: controller.signal, onProgress: () => controller.abort() },
    )
    await expect(pending).rejects.toMatchObject({ reason: 'EVAL_ABORTED', code: 'CANCELLED' })
    expect(Date.now() - started).toBeLessThan(10_000)
  })
})
