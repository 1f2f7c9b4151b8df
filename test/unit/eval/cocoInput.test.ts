import { describe, expect, it } from 'vitest'
import type { CocoDataset, CocoResult } from '../../../src-main/core/eval/cocoData'
import { evaluateCoco } from '../../../src-main/core/eval/cocoEval'
import type { EvalErrorReason } from '../../../src-main/core/eval/errors'

function dataset(): CocoDataset {
  return {
    images: [
      { id: 1, width: 100, height: 80 },
      { id: 2, width: 100, height: 80 },
    ],
    categories: [{ id: 1 }, { id: 2 }],
    annotations: [
      {
        id: 1,
        image_id: 1,
        category_id: 1,
        bbox: [10, 10, 20, 20],
        area: 400,
        iscrowd: 0,
        segmentation: [[10, 10, 30, 10, 30, 30, 10, 30]],
      },
      {
        id: 2,
        image_id: 2,
        category_id: 2,
        bbox: [40, 40, 20, 20],
        area: 400,
        iscrowd: 0,
        segmentation: [[40, 40, 60, 40, 60, 60, 40, 60]],
      },
    ],
  }
}

function boxes(): CocoResult[] {
  return [
    { image_id: 1, category_id: 1, bbox: [10, 10, 20, 20], score: 0.9 },
    { image_id: 2, category_id: 2, bbox: [40, 40, 20, 20], score: 0.8 },
    { image_id: 2, category_id: 1, bbox: [0, 0, 5, 5], score: 0.7 },
  ]
}

function masks(): CocoResult[] {
  return [
    { image_id: 1, category_id: 1, segmentation: [[10, 10, 30, 10, 30, 30, 10, 30]], score: 0.9 },
    {
      image_id: 2,
      category_id: 2,
      segmentation: { size: [80, 100], counts: [3240, 20, 60, 20, 4660] },
      score: 0.8,
    },
  ]
}

type Case = [
  name: string,
  iouType: 'bbox' | 'segm',
  build: () => { gt: CocoDataset; dets: unknown },
  reason: EvalErrorReason,
  message: RegExp,
]

const cases: Case[] = [
  [
    'results not a list',
    'bbox',
    () => ({ gt: dataset(), dets: { annotations: [] } }),
    'EVAL_BAD_INPUT',
    /Results must be a JSON array/,
  ],
  [
    'unknown image id',
    'bbox',
    () => {
      const d = boxes()
      d[2]!.image_id = 7
      return { gt: dataset(), dets: d }
    },
    'EVAL_UNKNOWN_IMAGE',
    /^results\[2\] names image_id 7/,
  ],
  [
    'image id of the wrong type',
    'bbox',
    () => {
      const d = boxes()
      d[0]!.image_id = '1'
      return { gt: dataset(), dets: d }
    },
    'EVAL_UNKNOWN_IMAGE',
    /^results\[0\] names image_id "1"/,
  ],
  [
    'unknown category id',
    'bbox',
    () => {
      const d = boxes()
      d[1]!.category_id = 3
      return { gt: dataset(), dets: d }
    },
    'EVAL_UNKNOWN_CATEGORY',
    /^results\[1\] \(image 2\) names category_id 3/,
  ],
  [
    'negative height',
    'bbox',
    () => {
      const d = boxes()
      d[1]!.bbox = [1, 1, 2, -1]
      return { gt: dataset(), dets: d }
    },
    'EVAL_BAD_BOX',
    /^results\[1\] \(image 2\): bbox \[1,1,2,-1\] has a negative/,
  ],
  [
    'NaN in a box',
    'bbox',
    () => {
      const d = boxes()
      d[0]!.bbox = [NaN, 1, 2, 2]
      return { gt: dataset(), dets: d }
    },
    'EVAL_BAD_BOX',
    /^results\[0\] \(image 1\): bbox .* not a finite number/,
  ],
  [
    'a box of three numbers',
    'bbox',
    () => {
      const d = boxes()
      d[2]!.bbox = [1, 1, 2]
      return { gt: dataset(), dets: d }
    },
    'EVAL_BAD_BOX',
    /^results\[2\] \(image 2\): bbox must be \[x, y, width, height\]/,
  ],
  [
    'a later result without bbox',
    'bbox',
    () => {
      const d = boxes()
      delete d[2]!.bbox
      return { gt: dataset(), dets: d }
    },
    'EVAL_BAD_BOX',
    /^results\[2\]/,
  ],
  [
    'missing score',
    'bbox',
    () => {
      const d = boxes()
      delete (d[1] as Partial<CocoResult>).score
      return { gt: dataset(), dets: d }
    },
    'EVAL_BAD_SCORE',
    /^results\[1\] \(image 2\) has no finite score/,
  ],
  [
    'a mask of the wrong size',
    'segm',
    () => {
      const d = masks()
      d[1]!.segmentation = { size: [80, 99], counts: [7920] }
      return { gt: dataset(), dets: d }
    },
    'EVAL_MASK_SIZE',
    /^results\[1\] \(image 2\): mask size 80x99 differs/,
  ],
  [
    'runs that do not cover the mask',
    'segm',
    () => {
      const d = masks()
      d[1]!.segmentation = { size: [80, 100], counts: [10, 20] }
      return { gt: dataset(), dets: d }
    },
    'EVAL_MASK_SIZE',
    /^results\[1\] \(image 2\): RLE runs cover 30 pixels/,
  ],
  [
    'a malformed RLE string',
    'segm',
    () => {
      const d = masks()
      d[1]!.segmentation = { size: [80, 100], counts: 'PP' }
      return { gt: dataset(), dets: d }
    },
    'EVAL_BAD_RLE',
    /^results\[1\] \(image 2\): RLE string ends in the middle of a number/,
  ],
  [
    'a result without segmentation',
    'segm',
    () => {
      const d = masks()
      delete d[1]!.segmentation
      return { gt: dataset(), dets: d }
    },
    'EVAL_BAD_SEGMENTATION',
    /^results\[1\] \(image 2\) has neither bbox nor segmentation/,
  ],
  [
    'a two-point first polygon',
    'segm',
    () => {
      const d = masks()
      d[0]!.segmentation = [[1, 2, 3, 4]]
      return { gt: dataset(), dets: d }
    },
    'EVAL_BAD_SEGMENTATION',
    /^results\[0\] \(image 1\): segmentation must be a list of polygons/,
  ],
  [
    'duplicate annotation ids',
    'bbox',
    () => {
      const g = dataset()
      g.annotations[1]!.id = 1
      return { gt: g, dets: boxes() }
    },
    'EVAL_DUPLICATE_ID',
    /^annotations\[1\] repeats annotation id 1/,
  ],
  [
    'duplicate image ids',
    'bbox',
    () => {
      const g = dataset()
      g.images[1]!.id = 1
      return { gt: g, dets: boxes() }
    },
    'EVAL_DUPLICATE_ID',
    /^images\[1\] repeats image id 1/,
  ],
  [
    'ground truth without area',
    'bbox',
    () => {
      const g = dataset()
      delete (g.annotations[1] as Partial<CocoDataset['annotations'][number]>).area
      return { gt: g, dets: boxes() }
    },
    'EVAL_BAD_INPUT',
    /^annotations\[1\] \(id 2, image 2\) has no numeric area/,
  ],
  [
    'ground truth polygon outside the image size',
    'segm',
    () => {
      const g = dataset()
      g.annotations[0]!.segmentation = { size: [10, 10], counts: [100] }
      return { gt: g, dets: masks() }
    },
    'EVAL_MASK_SIZE',
    /^annotations\[0\] \(id 1, image 1\): mask size 10x10/,
  ],
  [
    'no images array',
    'bbox',
    () => ({ gt: { categories: [], annotations: [] } as unknown as CocoDataset, dets: [] }),
    'EVAL_BAD_INPUT',
    /no "images" array/,
  ],
]

describe('bad COCO input is refused with the first offending entry named', () => {
  it.each(cases)('%s', (_, iouType, build, reason, message) => {
    const { gt, dets } = build()
    let thrown: unknown
    try {
      evaluateCoco(gt, dets as CocoResult[], { iouType })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toMatchObject({ name: 'EvalError', reason, code: 'INVALID_INPUT' })
    expect((thrown as Error).message).toMatch(message)
  })
})

describe('input pycocotools accepts', () => {
  it('skips ground truth of unknown images or categories, with a warning', () => {
    const g = dataset()
    g.annotations.push({ id: 3, image_id: 9, category_id: 1, bbox: [0, 0, 1, 1], area: 1 })
    g.annotations.push({ id: 4, image_id: 1, category_id: 9, bbox: [0, 0, 1, 1], area: 1 })
    const evaluation = evaluateCoco(g, boxes(), { iouType: 'bbox' })
    expect(evaluation.groundTruth.annotationIds).toEqual(Float64Array.from([1, 2]))
    expect(evaluation.warnings.join('\n')).toMatch(
      /1 ground truth annotation\(s\) name an image not in "images"/,
    )
    expect(evaluation.warnings.join('\n')).toMatch(
      /1 ground truth annotation\(s\) name a category not in "categories"/,
    )
  })

  it('evaluates an empty results list as no detections', () => {
    const evaluation = evaluateCoco(dataset(), [], { iouType: 'bbox' })
    expect(evaluation.stats[0]).toBe(0)
    expect(evaluation.stats[4]).toBe(-1) // no medium ground truth
  })

  it('evaluates mask results with bbox iouType on images without a size', () => {
    const g = dataset()
    g.images = g.images.map(({ id }) => ({ id }) as CocoDataset['images'][number])
    const evaluation = evaluateCoco(g, masks().slice(1), { iouType: 'bbox' })
    // The mask's box [40, 40, 2, 20] overlaps the object [40, 40, 20, 20] by IoU 0.1.
    expect(evaluation.detections.outcome50[0]).toBe(2)
    expect(evaluation.stats[0]).toBe(0)
  })

  it('treats a missing iscrowd as 0', () => {
    const g = dataset()
    delete g.annotations[0]!.iscrowd
    expect(evaluateCoco(g, boxes(), { iouType: 'bbox' }).stats[0]).toBeGreaterThan(0)
  })
})
