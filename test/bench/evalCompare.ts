/**
 * Randomized parity check against pycocotools: generates seeded COCO sets, evaluates them here and
 * with pycocotools, and compares the 12 stats, per-category AP, the whole precision / recall /
 * scores arrays and every detection's match at IoU .5 and .75, exactly (bit for bit).
 *
 *   PYCOCOTOOLS=/work/ref/cocoapi/PythonAPI node test/bench/evalRun.mjs test/bench/evalCompare.ts [seeds]
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { evaluateCoco } from '../../src-main/core/eval/cocoEval'
import type { IouType } from '../../src-main/core/eval/cocoData'
import { generateCocoSet } from './evalGenerate'

const python = process.env.PYTHON ?? '/usr/bin/python3'
const pythonPath = process.env.PYCOCOTOOLS ?? '/work/ref/cocoapi/PythonAPI'
const runner = resolve('test/fixtures/eval/pycocotools_runner.py')
const seeds = Number(process.argv[2] ?? 6)
const dir = mkdtempSync(join(tmpdir(), 'gcstudio-evalcompare-'))

interface Reference {
  stats: number[]
  perCategory: Record<string, number | null>
  precision: number[]
  recall: number[]
  scores: number[]
  detMatches: Record<string, [number, boolean, number, boolean]>
  gtMatches: Record<string, [number, number]>
}

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i
  return -1
}

let failures = 0
for (let seed = 1; seed <= seeds; seed++) {
  const set = generateCocoSet({
    seed,
    images: 20 + seed * 7,
    categories: seed % 3 === 0 ? 1 : 3 + (seed % 5),
    gtPerImage: 3 + (seed % 4),
    detsPerImage: seed % 3 === 0 ? 130 : 15,
    masks: true,
    scoreDecimals: seed % 2 === 0 ? 1 : 2,
    crowdFraction: 0.1,
  })
  const gtFile = join(dir, `gt${seed}.json`)
  writeFileSync(gtFile, JSON.stringify(set.dataset))
  for (const iouType of ['bbox', 'segm'] as IouType[]) {
    const results = iouType === 'bbox' ? set.bboxResults : set.segmResults
    const detFile = join(dir, `dt${seed}${iouType}.json`)
    writeFileSync(detFile, JSON.stringify(results))
    const ours = evaluateCoco(set.dataset, results, { iouType })
    const run = spawnSync(
      python,
      [runner, 'coco', '--gt', gtFile, '--dets', detFile, '--iou-type', iouType, '--full'],
      {
        env: { ...process.env, PYTHONPATH: pythonPath },
        maxBuffer: 1 << 30,
        encoding: 'utf8',
      },
    )
    if (run.status !== 0) throw new Error(run.stderr)
    const ref = JSON.parse(run.stdout) as Reference
    const problems: string[] = []
    const statDiff = firstDifference(ours.stats, ref.stats)
    if (statDiff !== -1)
      problems.push(`stats[${statDiff}] ${ours.stats[statDiff]} vs ${ref.stats[statDiff]}`)
    for (const name of ['precision', 'recall', 'scores'] as const) {
      const at = firstDifference(ours[name], ref[name])
      if (at !== -1) problems.push(`${name}[${at}] ${ours[name][at]} vs ${ref[name][at]}`)
    }
    ours.perCategory.forEach((c) => {
      const expected = ref.perCategory[String(c.categoryId)]
      const actual = c.stats[0] === -1 ? null : c.stats[0]
      if (!Object.is(actual, expected))
        problems.push(`category ${c.categoryId} AP ${actual} vs ${expected}`)
    })
    let checked = 0
    for (let d = 0; d < results.length; d++) {
      const expected = ref.detMatches[String(d + 1)]
      if (!expected) {
        if (ours.detections.outcome50[d] !== 0) problems.push(`det ${d + 1} evaluated here only`)
        continue
      }
      checked++
      const [m50, ig50, m75, ig75] = expected
      const outcome = (m: number, ig: boolean): number => (ig ? 3 : m ? 1 : 2)
      const o50 = ours.detections.outcome50[d]
      const o75 = ours.detections.outcome75[d]
      const g50 = Number.isNaN(ours.detections.matchedGt50[d]!) ? 0 : ours.detections.matchedGt50[d]
      const g75 = Number.isNaN(ours.detections.matchedGt75[d]!) ? 0 : ours.detections.matchedGt75[d]
      if (o50 !== outcome(m50, ig50) || o75 !== outcome(m75, ig75) || g50 !== m50 || g75 !== m75) {
        problems.push(`det ${d + 1}: ${o50}/${g50} ${o75}/${g75} vs ${JSON.stringify(expected)}`)
        if (problems.length > 10) break
      }
    }
    const gt = ours.groundTruth
    for (let g = 0; g < gt.annotationIds.length; g++) {
      const expected = ref.gtMatches[String(gt.annotationIds[g])]
      if (!expected) continue
      const r50 = gt.matchedResult50[g]! + 1
      const r75 = gt.matchedResult75[g]! + 1
      if (r50 !== expected[0] || r75 !== expected[1]) {
        problems.push(`gt ${gt.annotationIds[g]}: ${r50}/${r75} vs ${expected}`)
        if (problems.length > 20) break
      }
    }
    const label = `seed ${seed} ${iouType}: ${set.dataset.annotations.length} gt, ${results.length} dets, ${checked} matches`
    if (problems.length) {
      failures++
      console.log(`FAIL ${label}\n  ${problems.slice(0, 10).join('\n  ')}`)
    } else console.log(`ok   ${label}, AP ${ours.stats[0]}`)
  }
}
rmSync(dir, { recursive: true, force: true })
process.exitCode = failures ? 1 : 0
