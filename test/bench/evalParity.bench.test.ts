/**
 * Randomized parity with pycocotools, beyond the committed fixtures: seeded COCO sets of varied
 * shape (crowds, >100 detections per image and category, ties), evaluated here and by
 * pycocotools, compared bit for bit: the 12 stats, per-category AP, the whole precision / recall /
 * scores arrays, and every detection's and ground truth's match at IoU .5 and .75.
 * Needs pycocotools (see evalReference.ts). Run: npm run bench -- evalParity  (EVAL_PARITY_SEEDS=N)
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { IouType } from '../../src-main/core/eval/cocoData'
import { DetectionOutcome, evaluateCoco } from '../../src-main/core/eval/cocoEval'
import { tempDir } from '../helpers/fixtures'
import { generateCocoSet } from './evalGenerate'
import { pycocotoolsAvailable, runPycocotools } from './evalReference'
import { writeReport } from './report'

const SEEDS = Number(process.env.EVAL_PARITY_SEEDS ?? 12)
const available = pycocotoolsAvailable()
const summary: Record<string, unknown> = {}

describe.skipIf(!available)('bit-for-bit parity with pycocotools on random sets', () => {
  const dir = tempDir('gcstudio-evalparity-')
  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`seed ${seed}`, () => {
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
      const gtFile = path.join(dir, `gt${seed}.json`)
      fs.writeFileSync(gtFile, JSON.stringify(set.dataset))
      for (const iouType of ['bbox', 'segm'] as IouType[]) {
        const results = iouType === 'bbox' ? set.bboxResults : set.segmResults
        const detFile = path.join(dir, `dt${seed}${iouType}.json`)
        fs.writeFileSync(detFile, JSON.stringify(results))
        const ours = evaluateCoco(set.dataset, results, { iouType })
        const ref = runPycocotools(gtFile, detFile, iouType, true)
        expect(ours.stats).toEqual(ref.stats)
        expect(Array.from(ours.precision)).toEqual(ref.precision)
        expect(Array.from(ours.recall)).toEqual(ref.recall)
        expect(Array.from(ours.scores)).toEqual(ref.scores)
        for (const c of ours.perCategory) {
          expect(c.stats[0] === -1 ? null : c.stats[0]).toBe(ref.perCategory[String(c.categoryId)])
        }
        const outcome = (m: number, ignored: boolean): number =>
          ignored
            ? DetectionOutcome.ignored
            : m
              ? DetectionOutcome.truePositive
              : DetectionOutcome.falsePositive
        let evaluated = 0
        results.forEach((_, d) => {
          const want = ref.detMatches![String(d + 1)]
          if (!want) return expect(ours.detections.outcome50[d]).toBe(DetectionOutcome.notEvaluated)
          evaluated++
          const id = (v: number): number => (Number.isNaN(v) ? 0 : v)
          expect([
            ours.detections.outcome50[d],
            id(ours.detections.matchedGt50[d]!),
            ours.detections.outcome75[d],
            id(ours.detections.matchedGt75[d]!),
          ]).toEqual([outcome(want[0], want[1]), want[0], outcome(want[2], want[3]), want[2]])
        })
        const gt = ours.groundTruth
        gt.annotationIds.forEach((annotationId, g) => {
          const want = ref.gtMatches![String(annotationId)]
          if (want) expect([gt.matchedResult50[g]! + 1, gt.matchedResult75[g]! + 1]).toEqual(want)
        })
        summary[`seed ${seed} ${iouType}`] = {
          groundTruth: set.dataset.annotations.length,
          detections: results.length,
          evaluated,
          ap: ours.stats[0],
        }
      }
    })
  }
  it('report', () => {
    writeReport('evalParity', summary)
  })
})
