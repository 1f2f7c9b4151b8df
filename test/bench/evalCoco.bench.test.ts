/**
 * COCO evaluation speed against pycocotools on the same generated files, in the same run:
 * 500 images / 10 categories / ~3,500 ground truth (polygons, 3% crowd RLE) / 10,000 detections,
 * scores rounded to two decimals so ties are common; bbox and segm.
 *
 * Timed: pycocotools `loadRes + evaluate + accumulate` (its own timers, in its process) against
 * the studio's whole `evaluateCoco` (validation, rasterising, evaluate, accumulate, summarize,
 * per-image rows, confusion matrix), and the same without the confusion matrix. Both start from
 * parsed JSON. Runs alternate so both see the same machine load; the first of ours is a cold
 * start (code not yet optimised by V8), reported separately.
 * Run: npm run bench -- evalCoco.bench   (EVAL_BENCH_RUNS=N, default 7)
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expect, it } from 'vitest'
import type { CocoDataset, CocoResult, IouType } from '../../src-main/core/eval/cocoData'
import { evaluateCoco } from '../../src-main/core/eval/cocoEval'
import { tempDir } from '../helpers/fixtures'
import { generateCocoSet } from './evalGenerate'
import { pycocotoolsAvailable, runPycocotools } from './evalReference'
import { writeReport } from './report'

const RUNS = Number(process.env.EVAL_BENCH_RUNS ?? 7)

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}
const round3 = (v: number): number => Math.round(v * 1000) / 1000

it('COCO bbox and segm: evaluate + accumulate against pycocotools', () => {
  const withPython = pycocotoolsAvailable()
  if (!withPython) console.warn('pycocotools not importable: timing the studio only')
  const dir = tempDir('gcstudio-evalbench-')
  const set = generateCocoSet({
    seed: 500,
    images: 500,
    categories: 10,
    gtPerImage: 7,
    detsPerImage: 20,
    exactDetections: true,
    masks: true,
    scoreDecimals: 2,
  })
  const gtFile = path.join(dir, 'instances.json')
  fs.writeFileSync(gtFile, JSON.stringify(set.dataset))
  const results: Record<string, unknown> = {
    set: {
      images: set.dataset.images.length,
      categories: set.dataset.categories.length,
      groundTruth: set.dataset.annotations.length,
      detections: set.bboxResults.length,
      distinctScores: new Set(set.bboxResults.map((r) => r.score)).size,
    },
    loadAverageAtStart: os.loadavg().map(round3),
  }
  for (const iouType of ['bbox', 'segm'] as IouType[]) {
    const detFile = path.join(dir, `${iouType}.json`)
    fs.writeFileSync(
      detFile,
      JSON.stringify(iouType === 'bbox' ? set.bboxResults : set.segmResults),
    )
    const ours: number[] = []
    const oursWithoutConfusion: number[] = []
    const theirs: number[] = []
    const theirsEvalAccumulate: number[] = []
    let ourStats: number[] = []
    let theirStats: number[] = []
    for (let run = 0; run < RUNS; run++) {
      const dataset = JSON.parse(fs.readFileSync(gtFile, 'utf8')) as CocoDataset
      const dets = JSON.parse(fs.readFileSync(detFile, 'utf8')) as CocoResult[]
      const t0 = performance.now()
      ourStats = evaluateCoco(dataset, dets, { iouType }).stats
      ours.push((performance.now() - t0) / 1000)
      // The same without the confusion matrix (which COCOeval does not compute).
      const again = JSON.parse(fs.readFileSync(detFile, 'utf8')) as CocoResult[]
      const t1 = performance.now()
      evaluateCoco(dataset, again, { iouType, confusion: false })
      oursWithoutConfusion.push((performance.now() - t1) / 1000)
      if (withPython) {
        const ref = runPycocotools(gtFile, detFile, iouType)
        const s = ref.seconds
        theirs.push(s.loadRes + s.evaluate + s.accumulate)
        theirsEvalAccumulate.push(s.evaluate + s.accumulate)
        theirStats = ref.stats
      }
    }
    const entry: Record<string, unknown> = {
      oursMedianSeconds: round3(median(ours)),
      oursColdStartSeconds: round3(ours[0]!),
      oursRuns: ours.map(round3),
      oursWithoutConfusionMedianSeconds: round3(median(oursWithoutConfusion)),
    }
    if (withPython) {
      expect(ourStats).toEqual(theirStats)
      Object.assign(entry, {
        pycocotoolsMedianSeconds: round3(median(theirs)),
        pycocotoolsEvaluateAccumulateMedianSeconds: round3(median(theirsEvalAccumulate)),
        pycocotoolsRuns: theirs.map(round3),
        ratio: Math.round((median(theirs) / median(ours)) * 100) / 100,
        ratioEvaluateAccumulateOnly:
          Math.round((median(theirsEvalAccumulate) / median(ours)) * 100) / 100,
        ratioColdStart: Math.round((median(theirs) / ours[0]!) * 100) / 100,
        ratioWithoutConfusion:
          Math.round((median(theirs) / median(oursWithoutConfusion)) * 100) / 100,
        statsIdentical: true,
      })
    }
    results[iouType] = entry
  }
  results.loadAverageAtEnd = os.loadavg().map(round3)
  writeReport('evalCoco', results)
  fs.rmSync(dir, { recursive: true, force: true })
})
