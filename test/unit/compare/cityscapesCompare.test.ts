// Cityscapes comparison on the evaluation fixture (cityscapesScripts' numbers in
// test/fixtures/eval/cityscapes/expected.json): the fixture's predictions as the reference, the
// same predictions written as train ids (nothing may differ), and the ground truth itself (every
// evaluated pixel the reference got wrong is fixed, nothing broken, mIoU 1).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  CityscapesComparison,
  bootstrapMIoUDeltas,
  resampledMIoU,
} from '../../../src-main/core/compare/cityscapesCompare'
import { EVALUATED_LABELS } from '../../../src-main/core/eval/cityscapesClasses'
import { decodeLabelPng } from '../../../src-main/core/eval/png'
import { fixtureDir, loadFixture } from '../eval/fixtures'

const expected = loadFixture<{
  averageScoreClasses: number
  confMatrix: number[][]
  perImage: { stem: string; averageScoreClasses: number }[]
}>('cityscapes/expected.json')
const root = join(fixtureDir, 'cityscapes')
const stems = ['lindau_000000_000019', 'lindau_000001_000019', 'lindau_000002_000019']
const read = (file: string) => decodeLabelPng(readFileSync(join(root, file)), file)

async function compare() {
  const comparison = new CityscapesComparison(['label', 'train', 'label'])
  for (const stem of stems) {
    const groundTruth = await read(`gtFine/val/lindau/${stem}_gtFine_labelIds.png`)
    comparison.add({
      name: stem,
      groundTruth,
      instances: await read(`gtFine/val/lindau/${stem}_gtFine_instanceIds.png`),
      predictions: [
        await read(`pred/lindau/${stem}_leftImg8bit.png`),
        await read(`pred-train/lindau/${stem}_pred.png`),
        groundTruth,
      ],
    })
  }
  return comparison.finish()
}

describe('Cityscapes comparison', () => {
  it('scores each run as cityscapesScripts does and counts pixels fixed and broken', async () => {
    const { evaluations, images, counts } = await compare()
    expect(evaluations[0]!.mIoU).toBeCloseTo(expected.averageScoreClasses, 12)
    expect(evaluations[1]!.mIoU).toBe(evaluations[0]!.mIoU)
    expect(evaluations[2]!.mIoU).toBe(1)
    // Pixels the reference got wrong on evaluated ground truth, per class, from the script's matrix.
    const wrong = EVALUATED_LABELS.map(
      (l) =>
        expected.confMatrix[l.id]!.reduce((a, b) => a + b, 0) - expected.confMatrix[l.id]![l.id]!,
    )
    const total = (which: 'fixedPixels' | 'brokenPixels', run: number) =>
      EVALUATED_LABELS.map((_, c) => images.reduce((s, image) => s + image[which][run]![c]!, 0))
    expect(total('fixedPixels', 0)).toEqual(EVALUATED_LABELS.map(() => 0))
    expect(total('brokenPixels', 0)).toEqual(EVALUATED_LABELS.map(() => 0))
    expect(total('fixedPixels', 1)).toEqual(wrong)
    expect(total('brokenPixels', 1)).toEqual(EVALUATED_LABELS.map(() => 0))
    expect(wrong.reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    for (const image of images) {
      const want = expected.perImage.find((p) => p.stem === image.name)!
      expect(image.mIoU[0]).toBeCloseTo(want.averageScoreClasses, 12)
      expect(image.deltaIoU[0]!.every((d) => d === null || d === 0)).toBe(true)
    }
    // Re-accumulating every image once is the evaluation itself.
    const ones = new Int32Array(3).fill(1)
    evaluations.forEach((e, r) => expect(resampledMIoU(counts, r, ones)).toBe(e.mIoU))
  })

  it('gives a reproducible interval around the observed delta', async () => {
    const { evaluations, counts } = await compare()
    const a = bootstrapMIoUDeltas(counts, { seed: 3, resamples: 200 })
    expect(bootstrapMIoUDeltas(counts, { seed: 3, resamples: 200 }).intervals).toEqual(a.intervals)
    expect(a.intervals[0]).toEqual([0, 0])
    const observed = evaluations[2]!.mIoU! - evaluations[0]!.mIoU!
    expect(a.intervals[1]![0]).toBeLessThanOrEqual(observed)
    expect(a.intervals[1]![1]).toBeGreaterThanOrEqual(observed)
    expect(a.intervals[1]![0]).toBeGreaterThan(0)
  })
})
