import { describe, expect, it } from 'vitest'
import type { CocoDataset, CocoResult, IouType } from '../../../src-main/core/eval/cocoData'
import { COCO_PARAMS, DetectionOutcome, evaluateCoco } from '../../../src-main/core/eval/cocoEval'
import { formatCocoSummary } from '../../../src-main/core/eval/cocoReport'
import { numpyMean } from '../../../src-main/core/eval/numpyMath'
import { formatFixed } from '../../../src-main/core/eval/pythonFormat'
import { loadFixture } from './fixtures'

interface CocoCase {
  name: string
  iouType: IouType
  gt: CocoDataset
  dets: CocoResult[]
  expected: {
    stats: number[]
    perCategory: Record<string, number | null>
    /** Per detection id (results index + 1): [gt id at .5, ignored at .5, gt id at .75, ignored at .75]. */
    detMatches: Record<string, [number, boolean, number, boolean]>
    /** Per ground truth id: [detection id at .5, at .75], 0 when unmatched. */
    gtMatches: Record<string, [number, number]>
    summary: string[]
  }
}

const cases = loadFixture<CocoCase[]>('coco-cases.json')
const TOLERANCE = 1e-9

describe('COCO evaluation against pycocotools', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const evaluation = evaluateCoco(c.gt, c.dets, { iouType: c.iouType })
    const { expected } = c

    expect(evaluation.stats).toHaveLength(12)
    evaluation.stats.forEach((value, i) => {
      expect(Math.abs(value - expected.stats[i]!), `stats[${i}]`).toBeLessThanOrEqual(TOLERANCE)
    })
    for (const category of evaluation.perCategory) {
      const want = expected.perCategory[String(category.categoryId)]
      const ap = category.stats[0] === -1 ? null : category.stats[0]!
      if (want === null || want === undefined)
        expect(ap, `category ${category.categoryId}`).toBeNull()
      else
        expect(Math.abs(ap! - want), `category ${category.categoryId}`).toBeLessThanOrEqual(
          TOLERANCE,
        )
    }

    // Every evaluated detection's state at IoU .5 and .75, and the ground truth it matched.
    const { outcome50, outcome75, matchedGt50, matchedGt75 } = evaluation.detections
    const outcome = (gtId: number, ignored: boolean): number =>
      ignored
        ? DetectionOutcome.ignored
        : gtId
          ? DetectionOutcome.truePositive
          : DetectionOutcome.falsePositive
    c.dets.forEach((_, d) => {
      const want = expected.detMatches[String(d + 1)]
      if (!want) {
        expect(outcome50[d], `detection ${d + 1} is beyond maxDets`).toBe(
          DetectionOutcome.notEvaluated,
        )
        return
      }
      const [g50, ig50, g75, ig75] = want
      expect([outcome50[d], outcome75[d]], `detection ${d + 1}`).toEqual([
        outcome(g50, ig50),
        outcome(g75, ig75),
      ])
      // pycocotools stores 0 both for "unmatched" and for a match to annotation id 0.
      const id50 = Number.isNaN(matchedGt50[d]!) ? 0 : matchedGt50[d]
      const id75 = Number.isNaN(matchedGt75[d]!) ? 0 : matchedGt75[d]
      expect([id50, id75], `detection ${d + 1} matched ground truth`).toEqual([g50, g75])
    })
    const gt = evaluation.groundTruth
    gt.annotationIds.forEach((id, g) => {
      const want = expected.gtMatches[String(id)]
      if (!want) return
      expect(
        [gt.matchedResult50[g]! + 1, gt.matchedResult75[g]! + 1],
        `ground truth ${id}`,
      ).toEqual(want)
    })

    expect(formatCocoSummary(evaluation)).toEqual(expected.summary)
  })
})

describe('numpy arithmetic the stats depend on', () => {
  const numpy = loadFixture<{
    iouThrs: number[]
    recThrs: number[]
    means: { n: number; a: number; m: number; mean: number }[]
  }>('numpy.json')

  it('IoU and recall thresholds are the same doubles as COCOeval Params', () => {
    expect(Array.from(COCO_PARAMS.iouThresholds)).toEqual(numpy.iouThrs)
    expect(Array.from(COCO_PARAMS.recallThresholds)).toEqual(numpy.recThrs)
  })

  it.each(numpy.means.map((c) => [c.n, c] as const))(
    'np.mean of %i values, bit for bit',
    (_, c) => {
      const values = Float64Array.from({ length: c.n }, (_, i) => ((i * c.a) % c.m) / c.m)
      expect(numpyMean(values)).toBe(c.mean)
    },
  )

  it.each([
    [0.0625, '0.062'],
    [0.1875, '0.188'],
    [0.3125, '0.312'],
    [-1, '-1.000'],
    [0.12349999, '0.123'],
    [NaN, 'nan'],
  ])('formats %d as Python does: %s', (value, text) => {
    expect(formatFixed(value, 3)).toBe(text)
  })
})
