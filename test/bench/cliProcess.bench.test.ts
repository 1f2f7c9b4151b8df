/**
 * The whole `gcstudio` process, as scripts call it once per checkpoint: start-up (`--help`) and
 * `gcstudio eval coco` on 500 images / 10 categories / ~3,500 ground truth / 10,000 detections
 * (bbox and segm), against faster-coco-eval (the C++ COCOeval) and pycocotools as whole Python
 * processes doing load + loadRes + evaluate + accumulate + summarize. Runs alternate (A B C A B C
 * …) so all see the same machine load; medians of the wall times, and the ratio pair by pair.
 * The reference tools are optional: without them only the studio is timed.
 * Run: npm run bench -- cliProcess   (CLI_BENCH_RUNS=N, default 7)
 * Env: FASTER_COCO_EVAL (default /work/ref/faster_coco_eval), PYCOCOTOOLS, PYTHON.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import type { IouType } from '../../src-main/core/eval/cocoData'
import { tempDir } from '../helpers/fixtures'
import { generateCocoSet } from './evalGenerate'
import { pycocotoolsPath, python } from './evalReference'
import { writeReport } from './report'

const RUNS = Number(process.env.CLI_BENCH_RUNS ?? 7)
const fasterCocoEvalPath = process.env.FASTER_COCO_EVAL ?? '/work/ref/faster_coco_eval'
const root = path.resolve(import.meta.dirname, '../..')
const gcstudio = path.join(root, 'bin/gcstudio.js')

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
const r3 = (v: number) => Math.round(v * 1000) / 1000

interface Tool {
  name: string
  cmd: string
  args: (gt: string, dets: string, iou: IouType) => string[]
  env?: NodeJS.ProcessEnv
}

function timed(tool: Tool, gt: string, dets: string, iou: IouType): { wall: number; out: string } {
  const t0 = performance.now()
  const r = spawnSync(tool.cmd, tool.args(gt, dets, iou), {
    encoding: 'utf8',
    env: { ...process.env, ...tool.env },
    maxBuffer: 1 << 26,
  })
  const wall = (performance.now() - t0) / 1000
  if (r.status !== 0) throw new Error(`${tool.name} failed: ${r.stderr}`)
  return { wall, out: r.stdout }
}

/** The twelve numbers of a summarize() printout, as printed. */
const summaryNumbers = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.includes('Average Precision') || l.includes('Average Recall'))
    .map((l) => l.trim().split('=').at(-1)!.trim())
    .slice(0, 12)

const available = (env: NodeJS.ProcessEnv, module: string) =>
  spawnSync(python, ['-c', `import ${module}`], { env: { ...process.env, ...env } }).status === 0

it('gcstudio eval coco as a whole process, against faster-coco-eval and pycocotools', () => {
  const dir = tempDir('gcstudio-clibench-')
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
  const files: Record<IouType, string> = {
    bbox: path.join(dir, 'bbox.json'),
    segm: path.join(dir, 'segm.json'),
  }
  fs.writeFileSync(files.bbox, JSON.stringify(set.bboxResults))
  fs.writeFileSync(files.segm, JSON.stringify(set.segmResults))

  const tools: Tool[] = [
    {
      name: 'gcstudio',
      cmd: process.execPath,
      args: (gt, dets, iou) => [
        gcstudio,
        'eval',
        'coco',
        '--gt',
        gt,
        '--dets',
        dets,
        '--iou-type',
        iou,
      ],
    },
  ]
  const fce = { PYTHONPATH: fasterCocoEvalPath }
  if (available(fce, 'faster_coco_eval'))
    tools.push({
      name: 'faster-coco-eval',
      cmd: python,
      args: (gt, dets, iou) => [
        path.join(import.meta.dirname, 'fasterCocoEvalRunner.py'),
        gt,
        dets,
        iou,
      ],
      env: fce,
    })
  else console.warn(`faster_coco_eval not importable from ${fasterCocoEvalPath}`)
  const pct = { PYTHONPATH: pycocotoolsPath }
  if (available(pct, 'pycocotools.cocoeval'))
    tools.push({
      name: 'pycocotools',
      cmd: python,
      args: (gt, dets, iou) => [
        path.join(import.meta.dirname, 'pycocotoolsScript.py'),
        gt,
        dets,
        iou,
      ],
      env: pct,
    })

  const startup: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now()
    spawnSync(process.execPath, [gcstudio, '--help'])
    startup.push((performance.now() - t0) / 1000)
  }

  const results: Record<string, unknown> = {
    set: {
      images: 500,
      groundTruth: set.dataset.annotations.length,
      detections: set.bboxResults.length,
    },
    runs: RUNS,
    helpStartupSeconds: r3(median(startup)),
  }
  for (const iou of ['bbox', 'segm'] as IouType[]) {
    const walls: Record<string, number[]> = Object.fromEntries(tools.map((t) => [t.name, []]))
    const printed: Record<string, string[]> = {}
    for (const t of tools) timed(t, gtFile, files[iou], iou) // warm-up (file cache, .pyc)
    for (let i = 0; i < RUNS; i++)
      for (const t of tools) {
        const { wall, out } = timed(t, gtFile, files[iou], iou)
        walls[t.name]!.push(wall)
        printed[t.name] = summaryNumbers(out)
      }
    // The same twelve numbers from every tool, or the timing means nothing.
    for (const t of tools) expect(printed[t.name]).toEqual(printed.gcstudio)
    const ours = walls.gcstudio!
    results[iou] = Object.fromEntries(
      tools.map((t) => [
        t.name,
        {
          medianWallSeconds: r3(median(walls[t.name]!)),
          // Pair by pair: theirs / ours, so > 1 means the studio is faster.
          medianRatioVsGcstudio: r3(median(walls[t.name]!.map((w, i) => w / ours[i]!))),
        },
      ]),
    )
  }
  writeReport('cliProcess', results)
})
