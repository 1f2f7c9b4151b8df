/**
 * Statistics of one GC block's softmax attention map on one image (GCNet Sec. 4, Eq. 5: the
 * weights alpha_j of the global attention pooling), the numbers behind "does this block look at
 * objects, at context, or nowhere in particular":
 *
 * - entropy: -sum p log p / log N over the N map positions; 1 is uniform (average pooling, what a
 *   block that learned nothing does), 0 is all mass on one position.
 * - top1Mass: share of the mass on the top 1% of positions (at least one position).
 * - objectMass / objectArea / inObjectRatio: mass on ground-truth objects, their share of the
 *   map's area, and the ratio of the two: > 1 the block looks at objects, < 1 at context, 1 for a
 *   uniform map.
 * - contextMass / contextArea: mass (and area share) farther than a chosen distance from every
 *   object, inside the image.
 * - paddingMass: mass on the zero padding beyond the image (a map covers the padded input).
 * - centroid: mass-weighted centre in image coordinates divided by the image size.
 * - per class: mass and area share of each class's objects (Cityscapes: each labelIds class).
 */
import type { CellGrid, Coverage } from './grid'

export interface MapStats {
  entropy: number
  top1Mass: number
  objectMass: number | null
  objectArea: number | null
  inObjectRatio: number | null
  contextMass: number | null
  contextArea: number | null
  paddingMass: number
  centroidX: number
  centroidY: number
  classes: { id: number; mass: number; area: number }[]
}

/** Quantised map as stored: codes 0..255 between min and max (the softmax weights). */
export interface QuantizedMap {
  data: Uint8Array
  min: number
  max: number
}

/**
 * The stored map back as probabilities: min + code / 255 * (max - min), renormalised to sum 1
 * (rounding moves the sum by up to N * (max - min) / 510). `lut` receives each code's probability.
 */
export function dequantize(
  m: QuantizedMap,
  out: Float64Array = new Float64Array(m.data.length),
  lut: Float64Array = new Float64Array(256),
): Float64Array {
  const counts = new Float64Array(256)
  for (let k = 0; k < m.data.length; k++) counts[m.data[k]!]!++
  const range = m.max - m.min
  let sum = 0
  for (let c = 0; c < 256; c++) {
    lut[c] = m.min + (c / 255) * range
    sum += counts[c]! * lut[c]!
  }
  for (let c = 0; c < 256; c++) lut[c] = sum > 0 ? lut[c]! / sum : 1 / m.data.length
  for (let k = 0; k < m.data.length; k++) out[k] = lut[m.data[k]!]!
  return out
}

export function normalizedEntropy(p: ArrayLike<number>): number {
  const n = p.length
  if (n <= 1) return 1
  let h = 0
  for (let k = 0; k < n; k++) {
    const v = p[k]!
    if (v > 0) h -= v * Math.log(v)
  }
  return h / Math.log(n)
}

/** Positions in the top 1% (at least one). */
export const topCount = (n: number): number => Math.max(1, Math.ceil(n * 0.01))

export function topMass(p: ArrayLike<number>): number {
  const sorted = Float64Array.from(p).sort()
  let s = 0
  const k = topCount(p.length)
  for (let i = sorted.length - 1; i >= sorted.length - k; i--) s += sorted[i]!
  return s
}

/** Entropy and top-1% mass from code counts: 256 steps instead of N, exact for stored codes. */
export function quantizedEntropyTop(data: Uint8Array, lut: Float64Array): [number, number] {
  const counts = new Float64Array(256)
  for (let k = 0; k < data.length; k++) counts[data[k]!]!++
  const n = data.length
  let h = 0
  for (let c = 0; c < 256; c++) {
    const v = lut[c]!
    if (counts[c]! > 0 && v > 0) h -= counts[c]! * v * Math.log(v)
  }
  let left = topCount(n)
  let top = 0
  for (let c = 255; c >= 0 && left > 0; c--) {
    const take = Math.min(left, counts[c]!)
    top += take * lut[c]!
    left -= take
  }
  return [n <= 1 ? 1 : h / Math.log(n), top]
}

const F16_VALUE = new Float64Array(0x7c00)
const F16_VLOGV = new Float64Array(0x7c00)
{
  // Every finite non-negative half float and its v log v, once: entropy of a stored map then
  // needs one table lookup per position instead of a log.
  for (let h = 0; h < 0x7c00; h++) {
    const e = h >>> 10
    const m = h & 0x3ff
    const v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15)
    F16_VALUE[h] = v
    F16_VLOGV[h] = v > 0 ? v * Math.log(v) : 0
  }
}

/**
 * Weights stored as half floats (any positive scale, e.g. p * N) back as probabilities in `out`,
 * with the normalised entropy and the top-1% mass. Non-negative half floats order like their
 * bit patterns, so the top 1% is found from a histogram of the high bytes.
 */
export function halfWeights(codes: Uint16Array, out: Float64Array): [number, number] {
  const n = codes.length
  let sum = 0
  let vlogv = 0
  const high = new Float64Array(256)
  for (let k = 0; k < n; k++) {
    const c = codes[k]! & 0x7fff
    const h = c < 0x7c00 ? c : 0
    sum += F16_VALUE[h]!
    vlogv += F16_VLOGV[h]!
    high[h >>> 8]!++
  }
  if (sum <= 0) {
    out.fill(1 / n, 0, n)
    return [1, topCount(n) / n]
  }
  for (let k = 0; k < n; k++) {
    const c = codes[k]! & 0x7fff
    out[k] = F16_VALUE[c < 0x7c00 ? c : 0]! / sum
  }
  // H = -sum (v/S) log(v/S) = log S - (sum v log v) / S
  const entropy = n <= 1 ? 1 : (Math.log(sum) - vlogv / sum) / Math.log(n)
  let need = topCount(n)
  let bin = 255
  let top = 0
  while (bin > 0 && high[bin]! < need) {
    need -= high[bin]!
    bin--
  }
  const boundary: number[] = []
  for (let k = 0; k < n; k++) {
    const c = codes[k]! & 0x7fff
    const h = c < 0x7c00 ? c : 0
    const b = h >>> 8
    if (b > bin) top += F16_VALUE[h]!
    else if (b === bin) boundary.push(F16_VALUE[h]!)
  }
  boundary.sort((a, b) => b - a)
  for (let i = 0; i < need && i < boundary.length; i++) top += boundary[i]!
  return [entropy, top / sum]
}

const massOn = (p: Float64Array, cov: Coverage): number => {
  let s = 0
  for (let k = 0; k < cov.cells.length; k++) s += p[cov.cells[k]!]! * cov.share[k]!
  return s
}

/** Regions of one image placed on one map grid (see `grid.ts`). */
export interface GridRegions {
  objects: Coverage | null
  classes: { id: number; cov: Coverage }[]
  context: Int32Array | null
}

/**
 * Statistics of one map. `p` are the probabilities (summing to 1) on `grid`; `entropyTop` passes
 * entropy and top-1% mass already computed from the stored form (`halfWeights`,
 * `quantizedEntropyTop`), which is faster than from `p`.
 */
export function mapStats(
  p: Float64Array,
  grid: CellGrid,
  regions: GridRegions,
  entropyTop?: [number, number],
): MapStats {
  const [entropy, top1Mass] = entropyTop ?? [normalizedEntropy(p), topMass(p)]
  let mx = 0
  let my = 0
  let padding = 0
  let total = 0
  for (let i = 0; i < grid.h; i++) {
    let row = 0
    for (let j = 0; j < grid.w; j++) {
      const c = i * grid.w + j
      const v = p[c]!
      row += v
      mx += v * grid.cx[j]!
      const ins = grid.inside[c]!
      if (ins < 1) padding += v * (1 - ins)
    }
    my += row * grid.cy[i]!
    total += row
  }
  const objectMass = regions.objects ? massOn(p, regions.objects) : null
  const objectArea = regions.objects ? regions.objects.areaShare : null
  let contextMass: number | null = null
  let contextArea: number | null = null
  if (regions.context) {
    let s = 0
    for (let k = 0; k < regions.context.length; k++) s += p[regions.context[k]!]!
    contextMass = s
    contextArea = regions.context.length / grid.n
  }
  return {
    entropy,
    top1Mass,
    objectMass,
    objectArea,
    inObjectRatio:
      objectMass !== null && objectArea !== null && objectArea > 0 ? objectMass / objectArea : null,
    contextMass,
    contextArea,
    paddingMass: padding,
    // Divided by the mass (1 up to rounding) and the image size: 0..1 on the image, > 1 in the
    // padding.
    centroidX: mx / total / grid.imageWidth,
    centroidY: my / total / grid.imageHeight,
    classes: regions.classes.map((c) => ({
      id: c.id,
      mass: massOn(p, c.cov),
      area: c.cov.areaShare,
    })),
  }
}
