/**
 * One measured evaluation in its own process (spawned by evalCocoScale.bench.test.ts): reads and
 * parses the two files, evaluates bbox, prints times and the process's peak RSS as JSON.
 */
import { readFileSync } from 'node:fs'
import type { CocoDataset, CocoResult } from '../../src-main/core/eval/cocoData'
import { evaluateCoco } from '../../src-main/core/eval/cocoEval'

const [gtFile, detFile] = process.argv.slice(2)
const baselineRssMiB = process.memoryUsage().rss / 2 ** 20
const t0 = performance.now()
const dataset = JSON.parse(readFileSync(gtFile!, 'utf8')) as CocoDataset
const results = JSON.parse(readFileSync(detFile!, 'utf8')) as CocoResult[]
const t1 = performance.now()
const evaluation = evaluateCoco(dataset, results, { iouType: 'bbox' })
const t2 = performance.now()
process.stdout.write(
  JSON.stringify({
    parse: (t1 - t0) / 1000,
    evaluate: (t2 - t1) / 1000,
    // resourceUsage().maxRSS is in KiB.
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    baselineRssMiB,
    stats: evaluation.stats,
  }),
)
