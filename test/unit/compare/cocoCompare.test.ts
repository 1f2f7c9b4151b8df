// The comparison's numbers against pycocotools (test/fixtures/compare/README.md says how the
// fixture was produced): fixed/broken instances are exactly the differences of the ground truth
// pycocotools' evalImgs match at IoU 0.5 (area "all") over detections above the threshold, stat
// deltas are differences of pycocotools' stats, and re-accumulating weighted images gives
// pycocotools' AP on the resampled image set.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  ApResampler,
  apDeltaReplicates,
  bootstrapApDeltas,
  mergeShards,
  instanceDifferences,
  statDeltas,
} from '../../../src-main/core/compare/cocoCompare'
import { evaluateCoco } from '../../../src-main/core/eval/cocoEval'
import type { CocoDataset, CocoResult } from '../../../src-main/core/eval/cocoData'

interface Case {
  name: string
  iouType: 'bbox' | 'segm'
  gt: CocoDataset
  runs: { dets: CocoResult[]; stats: number[]; found: Record<string, number[]> }[]
  resamples: { weights: number[]; ap: number[] }[]
}
const cases = JSON.parse(
  fs.readFileSync(path.join(__dirname, '../../fixtures/compare/compare-cases.json'), 'utf8'),
) as Case[]

const evaluated = new Map(
  cases.map((c) => [
    c.name,
    c.runs.map((r) => evaluateCoco(c.gt, r.dets, { iouType: c.iouType, confusion: false })),
  ]),
)

describe.each(cases)('$name', (c) => {
  const evals = evaluated.get(c.name)!

  it('evaluates every run to pycocotools stats', () => {
    evals.forEach((e, r) => expect(e.stats).toEqual(c.runs[r]!.stats))
  })

  it.each([0.5, 0.3])('fixed/broken at score %s are pycocotools matches above it', (thr) => {
    const refFound = new Set(c.runs[0]!.found[String(thr)])
    for (let r = 1; r < c.runs.length; r++) {
      const runFound = new Set(c.runs[r]!.found[String(thr)])
      const diff = instanceDifferences(evals[0]!, evals[r]!, thr)
      const ids = (list: Int32Array) =>
        Array.from(list, (g) => evals[0]!.groundTruth.annotationIds[g]!).sort((a, b) => a - b)
      expect(ids(diff.fixed)).toEqual([...runFound].filter((id) => !refFound.has(id)))
      expect(ids(diff.broken)).toEqual([...refFound].filter((id) => !runFound.has(id)))
      expect([diff.foundByReference, diff.foundByRun]).toEqual([refFound.size, runFound.size])
      expect(diff.fixed.length + diff.broken.length).toBeGreaterThan(0)
    }
  })

  it('stat deltas are differences of pycocotools stats, null where either is -1', () => {
    const ref = c.runs[0]!.stats
    for (let r = 1; r < c.runs.length; r++) {
      const want = c.runs[r]!.stats.map((v, i) => (v === -1 || ref[i] === -1 ? null : v - ref[i]!))
      expect(statDeltas(evals[0]!.stats, evals[r]!.stats)).toEqual(want)
    }
  })

  it('re-accumulates to stats[0] with every image once (up to summation order)', () => {
    for (const e of evals) {
      const ones = new Int32Array(e.imageIds.length).fill(1)
      expect(new ApResampler(e.matchesAll).ap(ones)).toBeCloseTo(e.stats[0]!, 14)
    }
  })

  it.runIf(c.resamples.length > 0)('re-accumulates a resample to pycocotools on it', () => {
    for (const resample of c.resamples) {
      evals.forEach((e, r) => {
        const ap = new ApResampler(e.matchesAll).ap(Int32Array.from(resample.weights))
        expect(ap).toBeCloseTo(resample.ap[r]!, 12)
      })
    }
  })

  it('gives a reproducible interval that contains the observed delta', () => {
    const a = bootstrapApDeltas(evals, { seed: 7, resamples: 300 })
    const b = bootstrapApDeltas(evals, { seed: 7, resamples: 300 })
    const other = bootstrapApDeltas(evals, { seed: 8, resamples: 300 })
    expect(a.intervals).toEqual(b.intervals)
    expect(a.intervals).not.toEqual(other.intervals)
    a.intervals.forEach((interval, r) => {
      const observed = evals[r + 1]!.stats[0]! - evals[0]!.stats[0]!
      expect(interval![0]).toBeLessThanOrEqual(observed)
      expect(interval![1]).toBeGreaterThanOrEqual(observed)
      expect(interval![1]).toBeGreaterThan(interval![0])
    })
  })

  it('gives the same replicates split over threads (shards) as on one', () => {
    const tables = evals.map((e) => e.matchesAll)
    const one = apDeltaReplicates(tables, { seed: 5, resamples: 120 })
    const parts = [0, 1, 2].map((shard) =>
      apDeltaReplicates(tables, { seed: 5, resamples: 120, shard, shards: 3 }),
    )
    expect(parts[1]![0]!.filter((v) => !Number.isNaN(v))).toHaveLength(40)
    expect(mergeShards(parts)).toEqual(one)
  })
})
