/**
 * COCO evaluation benchmark: GC Studio against pycocotools on the same generated files, in the
 * same run, so the ratio means something on a shared machine.
 *
 *   node test/bench/evalRun.mjs test/bench/evalBench.ts [--runs N] [--skip-python] [--skip-5k] [--python-5k]
 *
 * 1. 500 images / 10 categories / ~3,500 ground truth / 10,000 detections, scores rounded to two
 *    decimals: bbox and segm, evaluate + accumulate (pycocotools: loadRes + evaluate + accumulate;
 *    ours: the whole `evaluateCoco`, which also validates, rasterises, and builds per-image rows
 *    and the confusion matrix). Median of N runs each, interleaved.
 * 2. COCO val-sized: 5,000 images / 80 categories / ~35,000 ground truth / 100 detections per
 *    image, bbox, in a fresh child process: read + parse the JSON files, evaluate, peak RSS.
 *
 * Environment: PYTHON (default /usr/bin/python3), PYCOCOTOOLS (directory holding the built
 * pycocotools package, default /work/ref/cocoapi/PythonAPI).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { CocoDataset, CocoResult, IouType } from '../../src-main/core/eval/cocoData'
import { evaluateCoco } from '../../src-main/core/eval/cocoEval'
import { generateCocoSet } from './evalGenerate'

const args = process.argv.slice(2)
const flag = (name: string): boolean => args.includes(name)
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(name)
  return at >= 0 ? Number(args[at + 1]) : fallback
}
const python = process.env.PYTHON ?? '/usr/bin/python3'
const pythonPath = process.env.PYCOCOTOOLS ?? '/work/ref/cocoapi/PythonAPI'
const runner = resolve('test/fixtures/eval/pycocotools_runner.py')

// Collect the previous run's garbage before timing the next: pycocotools (reference counting)
// frees as it goes, and a deferred major GC of the last parse would be charged to us otherwise.
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function pycocotools(
  gt: string,
  dets: string,
  iouType: IouType,
): { total: number; evalAcc: number; stats: number[] } {
  const run = spawnSync(
    python,
    [runner, 'coco', '--gt', gt, '--dets', dets, '--iou-type', iouType],
    {
      env: { ...process.env, PYTHONPATH: pythonPath },
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    },
  )
  if (run.status !== 0) throw new Error(`pycocotools failed: ${run.stderr}`)
  const out = JSON.parse(run.stdout) as {
    stats: number[]
    seconds: { loadRes: number; evaluate: number; accumulate: number }
  }
  const s = out.seconds
  return {
    total: s.loadRes + s.evaluate + s.accumulate,
    evalAcc: s.evaluate + s.accumulate,
    stats: out.stats,
  }
}

function fmt(seconds: number): string {
  return `${seconds.toFixed(3)} s`
}

async function childFiveK(dir: string): Promise<void> {
  const t0 = performance.now()
  const dataset = JSON.parse(readFileSync(join(dir, 'gt5k.json'), 'utf8')) as CocoDataset
  const results = JSON.parse(readFileSync(join(dir, 'bbox5k.json'), 'utf8')) as CocoResult[]
  const t1 = performance.now()
  const evaluation = evaluateCoco(dataset, results, { iouType: 'bbox' })
  const t2 = performance.now()
  process.stdout.write(
    JSON.stringify({
      parse: (t1 - t0) / 1000,
      evaluate: (t2 - t1) / 1000,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      stats: evaluation.stats,
    }),
  )
}

async function main(): Promise<void> {
  if (args[0] === '--child-5k') return childFiveK(args[1]!)
  const runs = option('--runs', 5)
  const dir = mkdtempSync(join(tmpdir(), 'gcstudio-evalbench-'))
  console.log(
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  )
  try {
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
    const gtFile = join(dir, 'gt.json')
    writeFileSync(gtFile, JSON.stringify(set.dataset))
    console.log(
      `\n500-image set: ${set.dataset.images.length} images, ${set.dataset.categories.length} categories, ` +
        `${set.dataset.annotations.length} ground truth, ${set.bboxResults.length} detections, ` +
        `${new Set(set.bboxResults.map((r) => r.score)).size} distinct scores`,
    )
    for (const iouType of ['bbox', 'segm'] as IouType[]) {
      const results = iouType === 'bbox' ? set.bboxResults : set.segmResults
      const detFile = join(dir, `${iouType}.json`)
      writeFileSync(detFile, JSON.stringify(results))
      const ours: number[] = []
      const theirs: number[] = []
      const theirsEvalAcc: number[] = []
      let ourStats: number[] = []
      let theirStats: number[] = []
      // Interleaved so both see the same machine load.
      for (let run = 0; run < runs; run++) {
        // Fresh objects each run: evaluation must not depend on anything cached in them.
        const dataset = JSON.parse(readFileSync(gtFile, 'utf8')) as CocoDataset
        const dets = JSON.parse(readFileSync(detFile, 'utf8')) as CocoResult[]
        collectGarbage()
        const t0 = performance.now()
        ourStats = evaluateCoco(dataset, dets, { iouType }).stats
        ours.push((performance.now() - t0) / 1000)
        if (!flag('--skip-python')) {
          const ref = pycocotools(gtFile, detFile, iouType)
          theirs.push(ref.total)
          theirsEvalAcc.push(ref.evalAcc)
          theirStats = ref.stats
        }
      }
      const line = `${iouType.padEnd(4)}  ours ${fmt(median(ours))} median (runs: ${ours.map((t) => t.toFixed(3)).join(', ')}; the first is a cold start)`
      if (theirs.length === 0) {
        console.log(line)
        continue
      }
      const same = ourStats.every((v, i) => v === theirStats[i])
      console.log(
        `${line}\n      pycocotools ${fmt(median(theirs))} loadRes+evaluate+accumulate (evaluate+accumulate ${fmt(median(theirsEvalAcc))}; runs: ${theirs.map((t) => t.toFixed(3)).join(', ')})` +
          `\n      ratio ${(median(theirs) / median(ours)).toFixed(2)}x  (vs evaluate+accumulate only: ${(median(theirsEvalAcc) / median(ours)).toFixed(2)}x; cold start ${(median(theirs) / ours[0]!).toFixed(2)}x), stats identical: ${same}`,
      )
    }

    if (!flag('--skip-5k')) {
      const big = generateCocoSet({
        seed: 5000,
        images: 5000,
        categories: 80,
        gtPerImage: 7,
        detsPerImage: 100,
        exactDetections: true,
        masks: false,
        scoreDecimals: 3,
      })
      writeFileSync(join(dir, 'gt5k.json'), JSON.stringify(big.dataset))
      writeFileSync(join(dir, 'bbox5k.json'), JSON.stringify(big.bboxResults))
      console.log(
        `\n5k set: ${big.dataset.images.length} images, ${big.dataset.categories.length} categories, ` +
          `${big.dataset.annotations.length} ground truth, ${big.bboxResults.length} detections (bbox)`,
      )
      const self = fileURLToPath(import.meta.url)
      for (let run = 0; run < Math.min(runs, 3); run++) {
        const child = spawnSync(process.execPath, [self, '--child-5k', dir], {
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        })
        if (child.status !== 0) throw new Error(child.stderr)
        const r = JSON.parse(child.stdout) as { parse: number; evaluate: number; maxRssMiB: number }
        console.log(
          `      run ${run + 1}: parse JSON ${fmt(r.parse)}, evaluate ${fmt(r.evaluate)}, total ${fmt(r.parse + r.evaluate)}, peak RSS ${r.maxRssMiB.toFixed(0)} MiB`,
        )
      }
      if (flag('--python-5k')) {
        const ref = pycocotools(join(dir, 'gt5k.json'), join(dir, 'bbox5k.json'), 'bbox')
        console.log(`      pycocotools loadRes+evaluate+accumulate ${fmt(ref.total)}`)
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
