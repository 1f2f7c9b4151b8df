import { mkdtempSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { evaluateCityscapesDirectories } from '../../../src-main/core/eval/cityscapes'
import type { CocoDataset, CocoResult } from '../../../src-main/core/eval/cocoData'
import { DetectionOutcome, evaluateCoco } from '../../../src-main/core/eval/cocoEval'
import {
  type DetectionPrediction,
  toCocoResults,
  trainIdsToLabelIds,
  writeCityscapesLabelPngs,
} from '../../../src-main/core/eval/export'
import { decodeLabelPng } from '../../../src-main/core/eval/png'
import { decodeRle, rleFromString } from '../../../src-main/core/eval/rle'
import { cityscapesEvaluationRows, cocoEvaluationRows } from '../../../src-main/core/eval/rows'
import { fixtureDir, loadFixture } from './fixtures'

interface CocoCase {
  name: string
  iouType: 'bbox' | 'segm'
  gt: CocoDataset
  dets: CocoResult[]
  expected: { stats: number[] }
}
const cases = loadFixture<CocoCase[]>('coco-cases.json')
const byName = (name: string): CocoCase => cases.find((c) => c.name === name)!
const work = mkdtempSync(join(tmpdir(), 'gcstudio-evalresults-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('rows for the store', () => {
  it('COCO: summary, per-category and per-image rows', () => {
    const c = byName('random small set (bbox)')
    const evaluation = evaluateCoco(c.gt, c.dets, { iouType: 'bbox', perImageScoreThreshold: 0.3 })
    const rows = cocoEvaluationRows(evaluation)
    expect(rows.summary).toMatchObject({
      kind: 'coco-bbox',
      primaryMetricName: 'AP',
      imageCount: 12,
    })
    expect(rows.summary.primaryMetric).toBe(evaluation.stats[0])
    expect(JSON.parse(rows.summary.metricsJson).stats).toEqual(evaluation.stats)
    expect(rows.categories.map((r) => r.categoryId)).toEqual([1, 2, 4, 7])
    expect(rows.images).toHaveLength(12)
    // Per-image counts agree with the per-detection outcomes.
    const { outcome50 } = evaluation.detections
    let tp = 0
    let fp = 0
    c.dets.forEach((d, i) => {
      if (d.score < 0.3) return
      if (outcome50[i] === DetectionOutcome.truePositive) tp++
      if (outcome50[i] === DetectionOutcome.falsePositive) fp++
    })
    expect(rows.images.reduce((s, r) => s + r.truePositives, 0)).toBe(tp)
    expect(rows.images.reduce((s, r) => s + r.falsePositives, 0)).toBe(fp)
    const gt = rows.images.reduce((s, r) => s + r.groundTruth, 0)
    expect(rows.images.reduce((s, r) => s + r.falseNegatives + r.truePositives, 0)).toBe(gt)
    expect(rows.images.every((r) => r.scoreThreshold === 0.3)).toBe(true)
  })

  it.each([
    ['polygon with several parts'],
    ['self-intersecting polygons'],
    ['crowd overlap (bbox)'],
  ])('per-image AP of a one-image set is the set AP (%s)', (name) => {
    const c = byName(name)
    const images = c.gt.images.slice(0, 1)
    const gt = {
      ...c.gt,
      images,
      annotations: c.gt.annotations.filter((a) => a.image_id === images[0]!.id),
    }
    const dets = c.dets.filter((d) => d.image_id === images[0]!.id)
    const evaluation = evaluateCoco(gt, dets, { iouType: c.iouType })
    const [image] = cocoEvaluationRows(evaluation).images
    expect(image!.ap).toBeCloseTo(evaluation.stats[0]!, 12)
    expect(image!.ap50).toBeCloseTo(evaluation.stats[1]!, 12)
  })

  it('Cityscapes: summary, per-class and per-image rows', async () => {
    const root = join(fixtureDir, 'cityscapes')
    const evaluation = await evaluateCityscapesDirectories(join(root, 'gtFine'), join(root, 'pred'))
    const rows = cityscapesEvaluationRows(evaluation)
    expect(rows.summary).toMatchObject({
      kind: 'cityscapes',
      primaryMetricName: 'mIoU',
      imageCount: 3,
    })
    expect(rows.summary.primaryMetric).toBe(evaluation.mIoU)
    expect(rows.classes).toHaveLength(19)
    expect(rows.images.map((r) => r.imageName)).toEqual([
      'lindau_000000_000019',
      'lindau_000001_000019',
      'lindau_000002_000019',
    ])
    expect(JSON.parse(rows.images[0]!.classIoUJson)).toHaveLength(19)
  })
})

describe('exporting predictions for the official tools', () => {
  it('COCO results round trip: masks and boxes re-evaluate to the same numbers', () => {
    const c = byName('masks touching the border')
    const predictions: DetectionPrediction[] = c.dets.map((d) => {
      const seg = d.segmentation as { size: [number, number]; counts: string }
      const rle = rleFromString(seg.counts, seg.size[0], seg.size[1])
      return {
        imageId: d.image_id,
        categoryId: d.category_id,
        score: d.score,
        box: [0, 0, 1, 1],
        mask: { height: rle.height, width: rle.width, data: decodeRle(rle, 'row-major') },
      }
    })
    const exported = toCocoResults(predictions)
    // Strings are byte-identical to the pycocotools-encoded input.
    expect(exported.map((r) => (r.segmentation as { counts: string }).counts)).toEqual(
      c.dets.map((d) => (d.segmentation as { counts: string }).counts),
    )
    const withoutBoxes = exported.map(({ bbox, ...rest }) => (void bbox, rest))
    expect(evaluateCoco(c.gt, withoutBoxes as CocoResult[], { iouType: 'segm' }).stats).toEqual(
      c.expected.stats,
    )
  })

  it('refuses a prediction with a negative box', () => {
    expect(() =>
      toCocoResults([{ imageId: 1, categoryId: 1, score: 0.5, box: [0, 0, -1, 2] }]),
    ).toThrowError(/prediction 0 \(image 1\) has box/)
  })

  it('Cityscapes label PNGs from train ids evaluate like the originals', async () => {
    const root = join(fixtureDir, 'cityscapes')
    const stems = ['lindau_000000_000019', 'lindau_000001_000019', 'lindau_000002_000019']
    const predictions = await Promise.all(
      stems.map(async (stem) => {
        const file = join(root, 'pred-train/lindau', `${stem}_pred.png`)
        const image = await decodeLabelPng(await readFile(file), file)
        return { stem, width: image.width, height: image.height, classes: image.data as Uint8Array }
      }),
    )
    const out = join(work, 'cityscapes-export')
    const files = await writeCityscapesLabelPngs(predictions, out)
    expect(files).toHaveLength(3)
    const expected = loadFixture<{ averageScoreClasses: number }>('cityscapes/expected.json')
    const evaluation = await evaluateCityscapesDirectories(join(root, 'gtFine'), out)
    expect(evaluation.mIoU).toBeCloseTo(expected.averageScoreClasses, 12)
  })

  it('maps train ids to the first label id, 255 to unlabeled', () => {
    expect(Array.from(trainIdsToLabelIds(Uint8Array.from([0, 1, 10, 18, 255])))).toEqual([
      7, 8, 23, 33, 0,
    ])
    expect(() => trainIdsToLabelIds(Uint8Array.from([19]))).toThrowError(/not a train id/)
  })
})

describe('confusion matrix (the studio definition)', () => {
  it('counts class confusions, false positives, misses and crowd-ignored detections', () => {
    const gt: CocoDataset = {
      images: [{ id: 1, width: 200, height: 200 }],
      categories: [{ id: 1 }, { id: 2 }],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 20, 20], area: 400, iscrowd: 0 },
        { id: 2, image_id: 1, category_id: 2, bbox: [50, 50, 20, 20], area: 400, iscrowd: 0 },
        { id: 3, image_id: 1, category_id: 1, bbox: [100, 100, 20, 20], area: 400, iscrowd: 0 },
        { id: 4, image_id: 1, category_id: 2, bbox: [150, 150, 40, 40], area: 1600, iscrowd: 1 },
      ],
    }
    const dets: CocoResult[] = [
      { image_id: 1, category_id: 1, bbox: [0, 0, 20, 20], score: 0.9 }, // correct
      { image_id: 1, category_id: 1, bbox: [50, 50, 20, 20], score: 0.8 }, // a 2 called 1
      { image_id: 1, category_id: 2, bbox: [10, 150, 20, 20], score: 0.7 }, // background
      { image_id: 1, category_id: 2, bbox: [155, 155, 10, 10], score: 0.6 }, // inside the crowd
      { image_id: 1, category_id: 1, bbox: [100, 100, 20, 20], score: 0.2 }, // below the score threshold
    ]
    const { confusion } = evaluateCoco(gt, dets, {
      iouType: 'bbox',
      confusion: { iouThreshold: 0.5, scoreThreshold: 0.5 },
    })
    expect(confusion!.categoryIds).toEqual([1, 2])
    expect(confusion!.matrix).toEqual([
      [1, 0, 1], // ground truth 1: one found, one missed
      [1, 0, 0], // ground truth 2: taken for a 1
      [0, 1, 0], // background: a false 2
    ])
    expect(confusion!.ignoredDetections).toBe(1)
  })
})
