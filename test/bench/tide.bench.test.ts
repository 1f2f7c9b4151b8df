/**
 * TIDE speed against tidecv 1.0.1 on the same generated files, with a parity check of every
 * number (1e-6). Set: 500 images / 10 categories / ~3,500 ground truth (3% crowd) / 10,000
 * detections with two-decimal scores (ties), bbox and segm; and, studio only, 5,000 images with
 * 100 detections each (500,000, bbox), the size the comparison view must handle.
 *
 * Timed: tidecv `TIDE.evaluate` + `get_all_errors` on already loaded `datasets.COCO` /
 * `COCOResult` objects (its own timer, in its process), against the studio's `computeTide` on
 * data already prepared for COCOeval (what the evaluation job runs after COCOeval), and
 * `evaluateTide` from parsed JSON (preparation included). Median of RUNS, wall and CPU seconds
 * (CPU is the fairer number on a shared machine).
 * Run: npm run bench -- tide.bench   (TIDE_BENCH_RUNS=N, default 5; TIDECV=/work/ref/tide)
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import {
  type CocoDataset,
  type CocoResult,
  type IouType,
  prepareGroundTruth,
  prepareResults,
} from '../../src-main/core/eval/cocoData'
import {
  TIDE_MAIN_ERRORS,
  TIDE_SPECIAL_ERRORS,
  type TideErrors,
  computeTide,
  evaluateTide,
  fileImageOrder,
} from '../../src-main/core/eval/tide'
import { tempDir } from '../helpers/fixtures'
import { generateCocoSet } from './evalGenerate'
import { pycocotoolsPath, python } from './evalReference'
import { writeReport } from './report'

const RUNS = Number(process.env.TIDE_BENCH_RUNS ?? 5)
const tidecvPath = process.env.TIDECV ?? '/work/ref/tide'
const env = { ...process.env, PYTHONPATH: `${pycocotoolsPath}:${tidecvPath}` }

// Calls tidecv only; prints its errors and its own timing as JSON.
const TIDECV_RUNNER = `
import contextlib, io, json, sys, time
import numpy as np
if not hasattr(np, 'float'):
    np.float = float
from tidecv import TIDE, datasets
gt_path, dets_path, mode, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
gt = datasets.COCO(gt_path)
dets = datasets.COCOResult(dets_path)
seconds, cpu = [], []
for _ in range(runs):
    tide = TIDE(mode=TIDE.BOX if mode == 'bbox' else TIDE.MASK)
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        run = tide.evaluate(gt, dets, name='run')
        errors = tide.get_all_errors()
    seconds.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
print(json.dumps({'ap50': run.ap, 'main': errors['main']['run'], 'special': errors['special']['run'], 'seconds': seconds, 'cpu': cpu}))
`

function tidecvAvailable(): boolean {
  return spawnSync(python, ['-c', 'import tidecv'], { env }).status === 0
}

function runTidecv(
  gt: string,
  dets: string,
  iouType: IouType,
): TideErrors & { seconds: number[]; cpu: number[] } {
  const run = spawnSync(
    python,
    ['-c', TIDECV_RUNNER, gt, dets, iouType === 'bbox' ? 'bbox' : 'mask', String(RUNS)],
    { env, encoding: 'utf8', maxBuffer: 1 << 28 },
  )
  if (run.status !== 0) throw new Error(`tidecv failed: ${run.stderr}`)
  return JSON.parse(run.stdout) as TideErrors & { seconds: number[]; cpu: number[] }
}

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}
const round3 = (v: number): number => Math.round(v * 1000) / 1000

function timeOurs(dataset: CocoDataset, results: CocoResult[], iouType: IouType) {
  const prepared: number[] = []
  const preparedCpu: number[] = []
  const fromJson: number[] = []
  let errors: TideErrors | null = null
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now()
    evaluateTide(dataset, results, iouType)
    fromJson.push((performance.now() - t0) / 1000)
    const gt = prepareGroundTruth(dataset, iouType)
    const dt = prepareResults(gt, results)
    const order = fileImageOrder(dataset, gt)
    const t1 = performance.now()
    const c1 = process.cpuUsage()
    errors = computeTide(gt, dt, order)
    const c2 = process.cpuUsage(c1)
    prepared.push((performance.now() - t1) / 1000)
    preparedCpu.push((c2.user + c2.system) / 1e6)
  }
  return { errors: errors!, prepared, preparedCpu, fromJson }
}

it('TIDE against tidecv: same numbers, time', () => {
  const withPython = tidecvAvailable()
  if (!withPython) console.warn(`tidecv not importable from ${tidecvPath}: timing the studio only`)
  const dir = tempDir('gcstudio-tidebench-')
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
    },
  }
  for (const iouType of ['bbox', 'segm'] as IouType[]) {
    const dets = iouType === 'bbox' ? set.bboxResults : set.segmResults
    const detFile = path.join(dir, `${iouType}.json`)
    fs.writeFileSync(detFile, JSON.stringify(dets))
    const ours = timeOurs(set.dataset, dets, iouType)
    const row: Record<string, unknown> = {
      oursPreparedMedianS: round3(median(ours.prepared)),
      oursPreparedCpuMedianS: round3(median(ours.preparedCpu)),
      oursFromJsonMedianS: round3(median(ours.fromJson)),
      ap50: ours.errors.ap50,
    }
    if (withPython) {
      const theirs = runTidecv(gtFile, detFile, iouType)
      row.tidecvMedianS = round3(median(theirs.seconds))
      row.tidecvCpuMedianS = round3(median(theirs.cpu))
      // CPU time: the machine running this may be shared, which inflates wall time.
      row.speedupCpu = round3(median(theirs.cpu) / median(ours.preparedCpu))
      expect(Math.abs(ours.errors.ap50 - theirs.ap50)).toBeLessThanOrEqual(1e-6)
      for (const type of TIDE_MAIN_ERRORS)
        expect(Math.abs(ours.errors.main[type] - theirs.main[type]), type).toBeLessThanOrEqual(1e-6)
      for (const type of TIDE_SPECIAL_ERRORS)
        expect(
          Math.abs(ours.errors.special[type] - theirs.special[type]),
          type,
        ).toBeLessThanOrEqual(1e-6)
      row.sameNumbers = true
    }
    results[iouType] = row
  }

  // The comparison view's size: 5,000 images, 500,000 detections (bbox), studio only.
  const large = generateCocoSet({
    seed: 5000,
    images: 5000,
    categories: 80,
    gtPerImage: 7,
    detsPerImage: 100,
    exactDetections: true,
    masks: false,
    scoreDecimals: 3,
  })
  const ours = timeOurs(large.dataset, large.bboxResults, 'bbox')
  results.large = {
    images: large.dataset.images.length,
    detections: large.bboxResults.length,
    oursPreparedMedianS: round3(median(ours.prepared)),
    oursPreparedCpuMedianS: round3(median(ours.preparedCpu)),
    oursFromJsonMedianS: round3(median(ours.fromJson)),
  }
  writeReport('tide', results)
})
