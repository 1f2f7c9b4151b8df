// Attention statistics on hand-made maps, where every number can be worked out on paper.
import { describe, expect, it } from 'vitest'
import {
  cellGrid,
  contextCells,
  coverage,
  distanceField,
  distanceTransform,
  imageRegions,
  labelMapClasses,
  type FrameGeometry,
  type GtObject,
} from '../../../src-main/core/attention/grid'
import {
  dequantize,
  halfWeights,
  mapStats,
  normalizedEntropy,
  quantizedEntropyTop,
  topMass,
  type GridRegions,
} from '../../../src-main/core/attention/stats'
import {
  BlockAccumulator,
  distribution,
  selectivityIndex,
  seededRandom,
} from '../../../src-main/core/attention/aggregate'
import { pca } from '../../../src-main/core/attention/pca'
import { fromFloat16, toFloat16 } from '../../../src-main/core/inference/float16'
import { rleFromBox } from '../../../src-main/core/eval/rle'

/** A 64 x 32 image run at scale 1 without padding: an 8 x 4 map of 8 px cells. */
const plain: FrameGeometry = {
  width: 64,
  height: 32,
  resizedWidth: 64,
  resizedHeight: 32,
  inputWidth: 64,
  inputHeight: 32,
  scaleX: 1,
  scaleY: 1,
}
const box = (x: number, y: number, w: number, h: number): GtObject => ({
  categoryId: 1,
  area: w * h,
  bbox: [x, y, w, h],
  segmKind: 'none',
  segmentation: null,
})

function regionsFor(g: FrameGeometry, objects: GtObject[], h: number, w: number, distance = 8) {
  const grid = cellGrid(g, h, w)
  const r = imageRegions(objects, g.width, g.height)
  const regions: GridRegions = {
    objects: r.objects ? coverage(r.objects, grid) : null,
    classes: [...r.classes].map(([id, rle]) => ({ id, cov: coverage(rle, grid) })),
    context: r.objects
      ? contextCells(grid, distanceField(r.objects, g.width, g.height), distance, g)
      : null,
  }
  return { grid, regions, image: r }
}

const uniform = (n: number) => new Float64Array(n).fill(1 / n)

describe('per-map statistics on hand-made maps', () => {
  it('a uniform map has entropy 1, in-object ratio 1 and context mass equal to its area', () => {
    const { grid, regions } = regionsFor(plain, [box(0, 0, 16, 16)], 4, 8)
    const s = mapStats(uniform(32), grid, regions)
    expect(s.entropy).toBeCloseTo(1, 12)
    expect(s.inObjectRatio).toBeCloseTo(1, 12)
    expect(s.objectArea).toBeCloseTo(4 / 32, 12)
    expect(s.contextMass).toBeCloseTo(s.contextArea!, 12)
    expect(s.top1Mass).toBeCloseTo(1 / 32, 12)
    expect(s.paddingMass).toBe(0)
    expect([s.centroidX, s.centroidY]).toEqual([0.5, 0.5])
  })

  it('all mass inside one object gives an in-object ratio of 1 / its area share', () => {
    // The box covers map cells (1,1) and (1,2) exactly: 2 of 32 cells.
    const { grid, regions } = regionsFor(plain, [box(8, 8, 16, 8)], 4, 8)
    const p = new Float64Array(32)
    p[1 * 8 + 1] = 0.5
    p[1 * 8 + 2] = 0.5
    const s = mapStats(p, grid, regions)
    expect(s.objectArea).toBeCloseTo(2 / 32, 12)
    expect(s.objectMass).toBeCloseTo(1, 12)
    expect(s.inObjectRatio).toBeCloseTo(16, 10)
    expect(s.entropy).toBeCloseTo(Math.log(2) / Math.log(32), 12)
    expect(s.contextMass).toBe(0)
    // Centre of the two cells: x = 16, y = 12 in a 64 x 32 image.
    expect(s.centroidX).toBeCloseTo(16 / 64, 12)
    expect(s.centroidY).toBeCloseTo(12 / 32, 12)
  })

  it('one position holding everything has entropy 0 and top-1% mass 1', () => {
    const p = new Float64Array(32)
    p[5] = 1
    expect(normalizedEntropy(p)).toBe(0)
    expect(topMass(p)).toBe(1)
  })

  it('mass far from every object is context; the padding is not', () => {
    // 48 x 32 image padded to 64 x 32: map column 6 and 7 are padding.
    const g = { ...plain, width: 48, resizedWidth: 48 }
    const { grid, regions } = regionsFor(g, [box(0, 0, 8, 32)], 4, 8, 20)
    // Cells whose centre is more than 20 px from x < 8: centres x = 28, 36, 44 (columns 3..5).
    expect([...regions.context!].map((c) => c % 8).sort()).toEqual([
      3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5,
    ])
    const s = mapStats(uniform(32), grid, regions)
    expect(s.paddingMass).toBeCloseTo(8 / 32, 12)
    expect(s.contextMass).toBeCloseTo(12 / 32, 12)
    expect(s.contextArea).toBeCloseTo(12 / 32, 12)
    // Uniform attention over the objects' area share is still a ratio of 1.
    expect(s.inObjectRatio).toBeCloseTo(1, 12)
  })

  it('places maps through the resize: a 2x downscaled image maps back to image pixels', () => {
    const g: FrameGeometry = {
      width: 128,
      height: 64,
      resizedWidth: 64,
      resizedHeight: 32,
      inputWidth: 64,
      inputHeight: 32,
      scaleX: 0.5,
      scaleY: 0.5,
    }
    // An object over image x 32..64, y 16..32: map cell (1, 2) only (16 image px per cell).
    const { regions } = regionsFor(g, [box(32, 16, 16, 16)], 4, 8)
    expect([...regions.objects!.cells]).toEqual([1 * 8 + 2])
    expect(regions.objects!.share[0]).toBeCloseTo(1, 12)
  })

  it('per class: each class its own region', () => {
    const objects = [box(0, 0, 8, 8), { ...box(56, 24, 8, 8), categoryId: 2, area: 64 }]
    const { grid, regions, image } = regionsFor(plain, objects, 4, 8)
    const p = new Float64Array(32)
    p[0] = 1
    const s = mapStats(p, grid, regions)
    expect(s.classes).toEqual([
      { id: 1, mass: 1, area: 1 / 32 },
      { id: 2, mass: 0, area: 1 / 32 },
    ])
    // Equal areas: the lower id is the dominant class.
    expect(image.dominantClass).toBe(1)
  })

  it('label maps give one region per class, their areas the pixel counts', () => {
    const labels = new Uint8Array(64 * 32).fill(7)
    for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) labels[y * 64 + x] = 20
    const classes = labelMapClasses(labels, 64, 32)
    const grid = cellGrid(plain, 4, 8)
    expect(coverage(classes.get(20)!, grid).areaShare).toBeCloseTo(2 / 32, 12)
    expect(coverage(classes.get(7)!, grid).areaShare).toBeCloseTo(30 / 32, 12)
  })

  it('the 8-bit and half-float fast paths agree with the direct formulas', () => {
    const random = seededRandom(3)
    const n = 24 * 16
    const raw = Float64Array.from({ length: n }, () => Math.exp(6 * random()))
    const sum = raw.reduce((a, b) => a + b, 0)
    const p = raw.map((v) => v / sum)
    // 8-bit: the statistics of the dequantised map, computed from code counts.
    let min = Infinity
    let max = -Infinity
    for (const v of p) [min, max] = [Math.min(min, v), Math.max(max, v)]
    const data = Uint8Array.from(p, (v) => Math.round(((v - min) / (max - min)) * 255))
    const lut = new Float64Array(256)
    const q = dequantize({ data, min, max }, undefined, lut)
    const [e8, t8] = quantizedEntropyTop(data, lut)
    expect(e8).toBeCloseTo(normalizedEntropy(q), 12)
    expect(t8).toBeCloseTo(topMass(q), 12)
    // Half floats of p * N.
    const codes = Uint16Array.from(p, (v) => toFloat16(v * n))
    const out = new Float64Array(n)
    const [eh, th] = halfWeights(codes, out)
    const h = Float64Array.from(codes, fromFloat16)
    const hs = h.reduce((a, b) => a + b, 0)
    const hp = h.map((v) => v / hs)
    expect(eh).toBeCloseTo(normalizedEntropy(hp), 12)
    expect(th).toBeCloseTo(topMass(hp), 12)
    expect(out).toEqual(hp)
    expect(Math.abs(eh - normalizedEntropy(p))).toBeLessThan(1e-4)
  })

  it('distance transform: squared distances to the nearest set cell', () => {
    const set = new Uint8Array(5 * 3)
    set[1 * 5 + 0] = 1
    const d = distanceTransform(set, 5, 3)
    expect(Array.from(d.subarray(5, 10))).toEqual([0, 1, 4, 9, 16])
    expect(d[0]).toBe(1)
    expect(d[4]).toBe(17)
    expect(distanceTransform(new Uint8Array(4), 2, 2)[0]).toBe(Infinity)
    expect(coverage(rleFromBox([0, 0, 64, 32], 32, 64), cellGrid(plain, 4, 8)).areaShare).toBe(1)
  })
})

describe('aggregation', () => {
  it('quantiles follow numpy (linear), histograms cover the range', () => {
    const d = distribution([1, 2, 3, 4])!
    expect([d.p25, d.p50, d.p75, d.mean, d.min, d.max]).toEqual([1.75, 2.5, 3.25, 2.5, 1, 4])
    expect(d.histogram.counts.reduce((a, b) => a + b, 0)).toBe(4)
    expect(distribution([])).toBeNull()
  })

  it('class selectivity index: 0 when every class is alike, 1 for one class only', () => {
    expect(selectivityIndex([1, 1, 1])).toBe(0)
    expect(selectivityIndex([0, 3, 0])).toBe(1)
    expect(selectivityIndex([2, 1])).toBeCloseTo(1 / 3, 12)
    // Signed outputs are measured from the channel's floor: ReLU's 0 in Morcos et al.
    expect(selectivityIndex([-1, 1], -1)).toBe(1)
    expect(selectivityIndex([-0.01, 0.01], -2)).toBeCloseTo(0.005, 12)
    expect(selectivityIndex([5])).toBeNull()
  })

  it('per-channel means, spreads and selectivity from transform outputs', () => {
    const acc = new BlockAccumulator({
      index: 0,
      stage: 'c3',
      indexInStage: 0,
      channels: 2,
      hidden: 1,
      ratio: 2,
    })
    // Channel 0 fires for class 1 only; channel 1 is the same for both.
    acc.addTransform([1, 0.5], 1)
    acc.addTransform([1, 0.5], 1)
    acc.addTransform([0, 0.5], 2)
    acc.addTransform([0, 0.5], 2)
    const t = acc.summary(new Map([[1, 'day disc']])).transform!
    expect(t.mean).toEqual([0.5, 0.5])
    expect(t.std).toEqual([0.5, 0])
    expect(t.selectivity).toEqual([1, 0])
    expect(t.classMeans.map((c) => [c.name, c.mean])).toEqual([
      ['day disc', [1, 0.5]],
      ['class 2', [0, 0.5]],
    ])
  })

  it('PCA finds the direction the points spread along', () => {
    const random = seededRandom(9)
    const dir = [1, 2, 0, -1, 0.5]
    const norm = Math.hypot(...dir)
    const n = 200
    const data = new Float64Array(n * 5)
    for (let r = 0; r < n; r++) {
      const t = random() * 10 - 5
      for (let j = 0; j < 5; j++)
        data[r * 5 + j] = 3 + (t * dir[j]!) / norm + (random() - 0.5) * 1e-3
    }
    const { explained, components, points } = pca(data, n, 5, 3)
    expect(explained[0]).toBeGreaterThan(0.9999)
    const c = components[0]!
    const cos = Math.abs(c.reduce((s, v, j) => s + v * dir[j]!, 0)) / norm
    expect(cos).toBeCloseTo(1, 6)
    expect(points.length).toBe(n * 3)
  })
})
