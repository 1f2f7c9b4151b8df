/**
 * Comparing three runs at COCO val scale: 5,000 images / 80 categories / ~35,000 ground truth,
 * 100 detections per image per run (500,000 per run; the second and third runs are the first
 * with jittered boxes and scores, so matches differ). Timed in this process, phase by phase:
 * COCOeval of each run (matching, accumulate, per-image rows, confusion matrix), the comparison
 * proper (stat and per-category deltas, PR curves, instance differences), and the 1,000-resample
 * paired bootstrap on this one thread; then the whole job end to end on the compare worker
 * thread, as the app runs it (its bootstrap split over one helper thread per core, up to 8).
 * Run: npm run bench -- compare
 */
import os from 'node:os'
import path from 'node:path'
import { expect, it } from 'vitest'
import {
  bootstrapApDeltas,
  instanceDifferences,
  precisionCurve,
  statDeltas,
} from '../../src-main/core/compare/cocoCompare'
import { runCompareInWorker } from '../../src-main/core/compare/worker'
import type { CocoResult } from '../../src-main/core/eval/cocoData'
import { evaluateCoco } from '../../src-main/core/eval/cocoEval'
import { packageRoot } from '../../src-main/core/paths'
import { generateCocoSet, random } from './evalGenerate'
import { writeReport } from './report'

const RESAMPLES = Number(process.env.COMPARE_BENCH_RESAMPLES ?? 1000)

/** Another run of "the same model": boxes moved by up to `shift` of their size, scores jittered. */
function jittered(results: CocoResult[], seed: number, shift: number): CocoResult[] {
  const rand = random(seed)
  return results.map((r) => {
    const [x, y, w, h] = r.bbox! as [number, number, number, number]
    const score = Math.min(1, Math.max(0.001, r.score + (rand() - 0.5) * 0.2))
    return {
      ...r,
      score: Math.round(score * 1000) / 1000,
      bbox: [x + (rand() - 0.5) * shift * w, y + (rand() - 0.5) * shift * h, w, h],
    }
  })
}

const seconds = (from: number) => Math.round((performance.now() - from) / 10) / 100
/** CPU seconds of this process since `from` (the build machine is shared: wall time inflates). */
const cpuSeconds = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from)
  return Math.round((u.user + u.system) / 1e4) / 100
}

it('three runs: 5,000 images, 500,000 detections each', async () => {
  const set = generateCocoSet({
    seed: 5000,
    images: 5000,
    categories: 80,
    gtPerImage: 7,
    detsPerImage: 100,
    exactDetections: true,
    masks: false,
    scoreDecimals: 3,
  })
  const runs = [
    set.bboxResults,
    jittered(set.bboxResults, 1, 0.3),
    jittered(set.bboxResults, 2, 0.15),
  ]

  let t = performance.now()
  let cpu = process.cpuUsage()
  const evaluations = runs.map((results) =>
    evaluateCoco(set.dataset, results, { iouType: 'bbox', confusion: {} }),
  )
  const evaluate = seconds(t)
  const evaluateCpu = cpuSeconds(cpu)

  t = performance.now()
  cpu = process.cpuUsage()
  const [reference] = evaluations
  const deltas = evaluations.slice(1).map((e) => statDeltas(reference!.stats, e.stats))
  const perCategory = reference!.categoryIds.map((_, k) =>
    evaluations.map((e) => [e.perCategory[k]!.stats[0], precisionCurve(e, k, 0.5)]),
  )
  const differences = evaluations.slice(1).map((e) => instanceDifferences(reference!, e, 0.5))
  const compare = seconds(t)
  const compareCpu = cpuSeconds(cpu)

  t = performance.now()
  cpu = process.cpuUsage()
  const bootstrap = bootstrapApDeltas(evaluations, { seed: 1, resamples: RESAMPLES })
  const bootstrapSeconds = seconds(t)
  const bootstrapCpu = cpuSeconds(cpu)

  // The app's path: the same job on the compare worker (the build must be current).
  t = performance.now()
  const phases: Record<string, number> = {}
  const worker = path.join(packageRoot(), 'out/main/workers/compareWorker.js')
  const result = await runCompareInWorker(
    worker,
    {
      kind: 'coco',
      iouType: 'bbox',
      groundTruth: set.dataset,
      runs,
      scoreThreshold: 0.5,
      seed: 1,
      resamples: RESAMPLES,
    },
    { onProgress: (_done, _total, phase) => (phases[phase] ??= seconds(t)) },
  )
  const workerTotal = seconds(t)

  expect(result.computed.vsReference.map((v) => v.ci95)).toEqual(bootstrap.intervals)
  expect(result.computed.vsReference.map((v) => v.fixed)).toEqual(
    differences.map((d) => d.fixed.length),
  )
  expect(deltas[0]!.length).toBe(12)
  expect(perCategory.length).toBe(80)
  writeReport('compare', {
    images: 5000,
    detectionsPerRun: runs[0]!.length,
    groundTruth: set.dataset.annotations.length,
    runs: 3,
    resamples: RESAMPLES,
    cpuSeconds: {
      evaluateThreeRuns: evaluateCpu,
      deltasPerCategoryAndInstanceDifferences: compareCpu,
      bootstrap: bootstrapCpu,
    },
    loadAverage: os.loadavg()[0],
    bootstrapThreadsOnWorker: Math.min(8, os.availableParallelism()),
    seconds: {
      evaluateThreeRuns: evaluate,
      deltasPerCategoryAndInstanceDifferences: compare,
      bootstrap: bootstrapSeconds,
      workerEndToEnd: workerTotal,
      workerPhaseStarts: phases,
      workerBootstrap: Math.round((workerTotal - (phases.Bootstrap ?? 0)) * 100) / 100,
    },
    apDeltas: evaluations.slice(1).map((e) => e.stats[0]! - reference!.stats[0]!),
    intervals: bootstrap.intervals,
    fixedBroken: differences.map((d) => [d.fixed.length, d.broken.length]),
  })
})
