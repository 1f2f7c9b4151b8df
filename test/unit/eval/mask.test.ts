import { describe, expect, it } from 'vitest'
import {
  type Rle,
  boxIouMatrix,
  decodeRle,
  encodeMask,
  rleArea,
  rleFromBox,
  rleFromString,
  rleFromUncompressed,
  rleIouMatrix,
  rleMerge,
  rleToBbox,
  rleToString,
  segmentationToRle,
} from '../../../src-main/core/eval/rle'
import { loadFixture } from './fixtures'

interface MaskCase {
  name: string
  op: {
    op: 'encode' | 'frPoly' | 'frBbox' | 'frUncompressed' | 'merge' | 'iou' | 'bbIou'
    h: number
    w: number
    mask?: number[]
    polygons?: number[][]
    box?: number[]
    counts?: number[]
    strings?: string[]
    intersect?: number
    dt?: string[] | number[][]
    gt?: string[] | number[][]
    iscrowd?: number[]
  }
  expected: { string?: string; size?: number[]; area?: number; bbox?: number[]; iou?: number[][] }
}

const cases = loadFixture<MaskCase[]>('mask-cases.json')

function build(c: MaskCase): Rle {
  const { op } = c
  const fromStrings = (strings: string[]): Rle[] => strings.map((s) => rleFromString(s, op.h, op.w))
  switch (op.op) {
    case 'encode':
      return encodeMask(op.mask!, op.h, op.w, 'row-major')
    case 'frPoly':
      return segmentationToRle(op.polygons, op.h, op.w)
    case 'frBbox':
      return rleFromBox(op.box!, op.h, op.w)
    case 'frUncompressed':
      return rleFromUncompressed(op.counts!, op.h, op.w)
    case 'merge':
      return rleMerge(fromStrings(op.strings!), op.intersect === 1)
    default:
      throw new Error(op.op)
  }
}

describe('mask API against pycocotools', () => {
  const rleCases = cases.filter((c) => c.expected.string !== undefined)
  it.each(rleCases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const rle = build(c)
    expect(rleToString(rle)).toBe(c.expected.string)
    expect([rle.height, rle.width]).toEqual(c.expected.size)
    expect(rleArea(rle)).toBe(c.expected.area)
    expect(rleToBbox(rle)).toEqual(c.expected.bbox)
  })

  it.each(rleCases.map((c) => [c.name, c] as const))('round trip of the string: %s', (_, c) => {
    const [h, w] = c.expected.size!
    const rle = rleFromString(c.expected.string!, h!, w!)
    expect(rleToString(rle)).toBe(c.expected.string)
    // Decoding and encoding again gives the same runs, in both memory layouts.
    for (const layout of ['row-major', 'column-major'] as const) {
      const again = encodeMask(decodeRle(rle, layout), h!, w!, layout)
      expect(rleToString(again)).toBe(c.expected.string)
    }
  })

  it('decodes row-major masks pixel for pixel', () => {
    for (const c of cases.filter((k) => k.op.op === 'encode')) {
      const rle = rleFromString(c.expected.string!, c.op.h, c.op.w)
      expect(Array.from(decodeRle(rle, 'row-major'))).toEqual(c.op.mask!.map((v) => (v ? 1 : 0)))
    }
  })

  const iouCases = cases.filter((c) => c.expected.iou !== undefined)
  it.each(iouCases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const { op } = c
    const D = op.dt!.length
    const G = op.gt!.length
    const out =
      op.op === 'iou'
        ? rleIouMatrix(
            (op.dt as string[]).map((s) => rleFromString(s, op.h, op.w)),
            (op.gt as string[]).map((s) => rleFromString(s, op.h, op.w)),
            op.iscrowd!,
          )
        : boxIouMatrix(op.dt as number[][], op.gt as number[][], op.iscrowd!)
    const rows = Array.from({ length: D }, (_, d) => Array.from(out.subarray(d * G, d * G + G)))
    expect(rows).toEqual(c.expected.iou)
  })
})

describe('malformed RLE strings are rejected', () => {
  const bad: [string, string, number, number, string][] = [
    ['character outside 0..o', '0p', 1, 1, 'EVAL_BAD_RLE'],
    ['ends in the middle of a number', '0P', 2, 2, 'EVAL_BAD_RLE'],
    ['runs do not cover the mask', '02', 3, 3, 'EVAL_MASK_SIZE'],
    ['negative run', '1O', 1, 1, 'EVAL_BAD_RLE'],
    ['a space', '1 1', 2, 1, 'EVAL_BAD_RLE'],
  ]
  it.each(bad)('%s', (_, counts, h, w, reason) => {
    expect(() => rleFromString(counts, h, w)).toThrowError(expect.objectContaining({ reason }))
  })
})
