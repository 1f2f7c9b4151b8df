/**
 * COCO val-sized bbox evaluation: 5,000 images / 80 categories / ~35,000 ground truth / 100
 * detections per image (500,000), in a fresh Node process so its peak RSS is the evaluation's:
 * read + JSON.parse both files, then `evaluateCoco`. Optionally pycocotools on the same files
 * (EVAL_BENCH_PYTHON_5K=1; it takes minutes).
 * Run: npm run bench -- evalCocoScale
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { builtinModules } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { build } from 'rolldown'
import { expect, it } from 'vitest'
import { tempDir } from '../helpers/fixtures'
import { generateCocoSet } from './evalGenerate'
import { pycocotoolsAvailable, runPycocotools } from './evalReference'
import { writeReport } from './report'

const RUNS = Number(process.env.EVAL_BENCH_RUNS ?? 3)

it('5,000 images, 80 categories, 100 detections per image (bbox)', async () => {
  const dir = tempDir('gcstudio-evalscale-')
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
  const gtFile = path.join(dir, 'instances.json')
  const detFile = path.join(dir, 'bbox.json')
  fs.writeFileSync(gtFile, JSON.stringify(set.dataset))
  fs.writeFileSync(detFile, JSON.stringify(set.bboxResults))

  // The measuring process: a bundle of evalScaleChild.ts, run by plain Node.
  const bundle = path.resolve('.cache/eval-bench/evalScaleChild.mjs')
  await build({
    input: path.resolve(import.meta.dirname, 'evalScaleChild.ts'),
    platform: 'node',
    external: [...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'sharp'],
    output: { file: bundle, format: 'esm' },
    logLevel: 'silent',
  })
  const runs: {
    parse: number
    evaluate: number
    total: number
    maxRssMiB: number
    baselineRssMiB: number
  }[] = []
  let stats: number[] = []
  for (let run = 0; run < RUNS; run++) {
    const child = spawnSync(process.execPath, [bundle, gtFile, detFile], { encoding: 'utf8' })
    if (child.status !== 0) throw new Error(child.stderr)
    const r = JSON.parse(child.stdout)
    stats = r.stats
    runs.push({
      parse: r.parse,
      evaluate: r.evaluate,
      total: r.parse + r.evaluate,
      maxRssMiB: r.maxRssMiB,
      baselineRssMiB: r.baselineRssMiB,
    })
  }
  const round = (v: number): number => Math.round(v * 1000) / 1000
  const results: Record<string, unknown> = {
    set: {
      images: set.dataset.images.length,
      categories: set.dataset.categories.length,
      groundTruth: set.dataset.annotations.length,
      detections: set.bboxResults.length,
      gtFileMiB: round(fs.statSync(gtFile).size / 2 ** 20),
      detFileMiB: round(fs.statSync(detFile).size / 2 ** 20),
    },
    loadAverage: os.loadavg().map(round),
    runs: runs.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v)]))),
    bestTotalSeconds: round(Math.min(...runs.map((r) => r.total))),
    worstTotalSeconds: round(Math.max(...runs.map((r) => r.total))),
    peakRssMiB: round(Math.max(...runs.map((r) => r.maxRssMiB))),
  }
  if (process.env.EVAL_BENCH_PYTHON_5K && pycocotoolsAvailable()) {
    const ref = runPycocotools(gtFile, detFile, 'bbox')
    expect(stats).toEqual(ref.stats)
    const s = ref.seconds
    results.pycocotools = {
      loadResEvaluateAccumulateSeconds: round(s.loadRes + s.evaluate + s.accumulate),
      peakRssMiB: round(ref.maxRssMiB),
      ratioToOurEvaluate: round(
        (s.loadRes + s.evaluate + s.accumulate) / Math.min(...runs.map((r) => r.evaluate)),
      ),
    }
  }
  writeReport('evalCocoScale', results)
  fs.rmSync(dir, { recursive: true, force: true })
  expect(Math.max(...runs.map((r) => r.total))).toBeLessThan(10)
})
