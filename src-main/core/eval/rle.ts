/**
 * Run-length encoded binary masks, bit-compatible with cocoapi's `common/maskApi.c`.
 *
 * Runs are over the mask in column-major order (down each column, then the next column) and the
 * first run counts zeros, so a mask starting with a foreground pixel has a leading 0. Every
 * function here reproduces maskApi's arithmetic (including its integer truncations and quirks),
 * because COCO mask AP depends on the exact pixels: an area off by one moves an object across the
 * 32^2 / 96^2 boundaries and an IoU across a threshold.
 */
import { EvalError } from './errors'

export interface Rle {
  height: number
  width: number
  /** Run lengths, alternating background / foreground, starting with background. */
  counts: Uint32Array
}

/** The JSON form COCO files use for masks (`counts` is maskApi's compressed string). */
export interface CompressedRle {
  size: [number, number]
  counts: string
}

/** The JSON form with plain run lengths, used by COCO for crowd annotations. */
export interface UncompressedRle {
  size: [number, number]
  counts: number[]
}

/** `[x, y, width, height]`, as in COCO. */
export type Box = [number, number, number, number]

export type MaskLayout = 'row-major' | 'column-major'

const UINT32_RANGE = 2 ** 32

/**
 * Encodes a binary mask (any non-zero byte is foreground). `row-major` is how images are laid out
 * in memory (`mask[y * width + x]`); `column-major` is numpy's Fortran order that maskApi reads.
 */
export function encodeMask(
  mask: ArrayLike<number>,
  height: number,
  width: number,
  layout: MaskLayout = 'row-major',
): Rle {
  const size = height * width
  if (mask.length !== size) {
    throw new EvalError(
      'EVAL_MASK_SIZE',
      `Mask has ${mask.length} pixels but its size ${height}x${width} needs ${size}`,
    )
  }
  const runs: number[] = []
  let previous = 0
  let run = 0
  if (layout === 'column-major') {
    for (let i = 0; i < size; i++) {
      const value = mask[i] !== 0 ? 1 : 0
      if (value !== previous) {
        runs.push(run)
        run = 0
        previous = value
      }
      run++
    }
  } else {
    for (let x = 0; x < width; x++) {
      for (let i = x; i < size; i += width) {
        const value = mask[i] !== 0 ? 1 : 0
        if (value !== previous) {
          runs.push(run)
          run = 0
          previous = value
        }
        run++
      }
    }
  }
  runs.push(run)
  return { height, width, counts: Uint32Array.from(runs) }
}

/** Expands an RLE into a 0/1 byte mask in the requested layout. */
export function decodeRle(rle: Rle, layout: MaskLayout = 'row-major'): Uint8Array {
  const { height, width, counts } = rle
  const mask = new Uint8Array(height * width)
  let position = 0
  let value = 0
  for (let j = 0; j < counts.length; j++) {
    const run = counts[j]!
    if (value === 1) {
      if (layout === 'column-major') {
        mask.fill(1, position, position + run)
      } else {
        for (let p = position; p < position + run; p++) {
          const x = Math.floor(p / height)
          mask[(p - x * height) * width + x] = 1
        }
      }
    }
    position += run
    value ^= 1
  }
  return mask
}

/** maskApi `rleToString`: LEB128-like, 5 bits per character, deltas from the count two before. */
export function rleToString(rle: Rle): string {
  const counts = rle.counts
  const bytes: number[] = []
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i]!
    if (i > 2) x -= counts[i - 2]!
    let more = true
    while (more) {
      // `& 0x1f` takes the low bits of x's two's complement; the division is C's arithmetic shift.
      let c = x & 0x1f
      x = Math.floor(x / 32)
      more = c & 0x10 ? x !== -1 : x !== 0
      if (more) c |= 0x20
      bytes.push(c + 48)
    }
  }
  return Buffer.from(bytes).toString('latin1')
}

/**
 * maskApi `rleFrString`, strict: maskApi reads past the end of a truncated string and wraps
 * negative runs silently; here both are errors, as are characters outside '0'..'o' and runs that do
 * not cover exactly height x width pixels.
 */
let scratchRuns = new Uint32Array(4096)

export function rleFromString(counts: string, height: number, width: number): Rle {
  if (scratchRuns.length < counts.length) scratchRuns = new Uint32Array(counts.length * 2)
  const out = scratchRuns
  let m = 0
  let p = 0
  let total = 0
  while (p < counts.length) {
    let x = 0
    let k = 0
    let more = true
    let scale = 1
    while (more) {
      if (p >= counts.length) {
        throw new EvalError('EVAL_BAD_RLE', `RLE string ends in the middle of a number`, {
          position: p,
        })
      }
      const c = counts.charCodeAt(p) - 48
      if (c < 0 || c > 63) {
        throw new EvalError(
          'EVAL_BAD_RLE',
          `RLE string has character ${JSON.stringify(counts[p])} at position ${p}, outside '0'..'o'`,
          { position: p },
        )
      }
      if (k > 6) {
        throw new EvalError('EVAL_BAD_RLE', `RLE string has a number longer than 7 characters`, {
          position: p,
        })
      }
      x += (c & 0x1f) * scale
      scale *= 32
      more = (c & 0x20) !== 0
      p++
      k++
      if (!more && c & 0x10) x -= scale
    }
    if (m > 2) x += out[m - 2]!
    if (x < 0 || x >= UINT32_RANGE) {
      throw new EvalError('EVAL_BAD_RLE', `RLE string decodes to an invalid run length ${x}`, {
        run: m,
      })
    }
    out[m++] = x
    total += x
  }
  if (total !== height * width) {
    throw new EvalError(
      'EVAL_MASK_SIZE',
      `RLE runs cover ${total} pixels but its size ${height}x${width} has ${height * width}`,
      { pixels: total },
    )
  }
  return { height, width, counts: out.slice(0, m) }
}

/** Plain run lengths (COCO's crowd form) to an RLE, checking they cover the mask exactly. */
export function rleFromUncompressed(counts: ArrayLike<number>, height: number, width: number): Rle {
  const out = new Uint32Array(counts.length)
  let total = 0
  for (let i = 0; i < counts.length; i++) {
    const run = counts[i]!
    if (!Number.isInteger(run) || run < 0 || run >= UINT32_RANGE) {
      throw new EvalError(
        'EVAL_BAD_RLE',
        `RLE run ${i} is ${String(run)}, not a non-negative integer`,
      )
    }
    out[i] = run
    total += run
  }
  if (total !== height * width) {
    throw new EvalError(
      'EVAL_MASK_SIZE',
      `RLE runs cover ${total} pixels but its size ${height}x${width} has ${height * width}`,
      { pixels: total },
    )
  }
  return { height, width, counts: out }
}

export function toCompressedRle(rle: Rle): CompressedRle {
  return { size: [rle.height, rle.width], counts: rleToString(rle) }
}

/** maskApi `rleArea`: the number of foreground pixels. */
export function rleArea(rle: Rle): number {
  const counts = rle.counts
  let area = 0
  for (let j = 1; j < counts.length; j += 2) area += counts[j]!
  return area
}

/**
 * maskApi `rleToBbox`, quirk included: when one foreground run spans two columns the box covers
 * the whole height, even if the run only touches the bottom of one column and the top of the next.
 */
export function rleToBbox(rle: Rle): Box {
  const out = new Float64Array(4)
  rleToBboxInto(rle, out, 0)
  return [out[0]!, out[1]!, out[2]!, out[3]!]
}

/** `rleToBbox` written to `out[offset..offset+3]` (for many masks without an array each). */
export function rleToBboxInto(rle: Rle, out: Float64Array, offset: number): void {
  const { height: h, width: w, counts } = rle
  const m = Math.floor(counts.length / 2) * 2
  if (m === 0) {
    out[offset] = out[offset + 1] = out[offset + 2] = out[offset + 3] = 0
    return
  }
  let xs = w
  let ys = h
  let xe = 0
  let ye = 0
  let cc = 0
  let xp = 0
  for (let j = 0; j < m; j++) {
    cc = (cc + counts[j]!) >>> 0
    const t = (cc - (j % 2)) >>> 0
    const x = Math.floor(t / h)
    const y = t - x * h
    if (j % 2 === 0) xp = x
    else if (xp < x) {
      ys = 0
      ye = h - 1
    }
    if (x < xs) xs = x
    if (x > xe) xe = x
    if (y < ys) ys = y
    if (y > ye) ye = y
  }
  out[offset] = xs
  out[offset + 1] = ys
  out[offset + 2] = xe - xs + 1
  out[offset + 3] = ye - ys + 1
}

/** maskApi `rleMerge`: union (default) or intersection; masks of different sizes give an empty 0x0. */
export function rleMerge(rles: readonly Rle[], intersect = false): Rle {
  const n = rles.length
  if (n === 0) return { height: 0, width: 0, counts: new Uint32Array(0) }
  const first = rles[0]!
  if (n === 1) return { height: first.height, width: first.width, counts: first.counts.slice() }
  let h = first.height
  let w = first.width
  let cnts = first.counts.slice()
  let m = cnts.length
  for (let i = 1; i < n; i++) {
    const B = rles[i]!
    if (B.height !== h || B.width !== w) {
      h = w = m = 0
      break
    }
    const A = cnts.subarray(0, m)
    const Bc = B.counts
    if (A.length === 0 || Bc.length === 0) {
      throw new EvalError('EVAL_BAD_RLE', 'Cannot merge an RLE without runs')
    }
    const next = new Uint32Array(A.length + Bc.length + 1)
    let ca = A[0]!
    let cb = Bc[0]!
    let v = false
    let va = false
    let vb = false
    m = 0
    let a = 1
    let b = 1
    let cc = 0
    let ct = 1
    while (ct > 0) {
      const c = Math.min(ca, cb)
      cc += c
      ct = 0
      ca -= c
      if (!ca && a < A.length) {
        ca = A[a++]!
        va = !va
      }
      ct += ca
      cb -= c
      if (!cb && b < Bc.length) {
        cb = Bc[b++]!
        vb = !vb
      }
      ct += cb
      const vp: boolean = v
      v = intersect ? va && vb : va || vb
      if (v !== vp || ct === 0) {
        next[m++] = cc
        cc = 0
      }
    }
    cnts = next
  }
  return { height: h, width: w, counts: cnts.slice(0, m) }
}

/** Foreground pixels shared by two RLEs of the same size (maskApi's merge walk, intersection only). */
export function rleIntersection(a: Uint32Array, b: Uint32Array): number {
  // Walk both run lists in step; a run boundary of either list ends the current common span.
  let ia = 0
  let ib = 0
  let ca = a[0] ?? 0
  let cb = b[0] ?? 0
  let va = false
  let vb = false
  let inter = 0
  const na = a.length
  const nb = b.length
  for (;;) {
    if (ca < cb) {
      if (va && vb) inter += ca
      cb -= ca
      if (++ia >= na) break
      ca = a[ia]!
      va = !va
    } else {
      if (va && vb) inter += cb
      ca -= cb
      if (++ib >= nb) break
      cb = b[ib]!
      vb = !vb
      if (ca === 0) {
        if (++ia >= na) break
        ca = a[ia]!
        va = !va
      }
    }
  }
  return inter
}

/**
 * maskApi `bbIou` for one pair. For a crowd ground truth the union is the detection's own area,
 * so a detection inside a crowd region scores 1 however large the region is.
 */
export function boxIou(dt: ArrayLike<number>, gt: ArrayLike<number>, crowd: boolean): number {
  const w = Math.min(dt[2]! + dt[0]!, gt[2]! + gt[0]!) - Math.max(dt[0]!, gt[0]!)
  if (w <= 0) return 0
  const h = Math.min(dt[3]! + dt[1]!, gt[3]! + gt[1]!) - Math.max(dt[1]!, gt[1]!)
  if (h <= 0) return 0
  const i = w * h
  const da = dt[2]! * dt[3]!
  const u = crowd ? da : da + gt[2]! * gt[3]! - i
  return i / u
}

/** `boxIou` on boxes stored four to a row in flat arrays (no views allocated per pair). */
export function boxIouAt(
  dts: Float64Array,
  d: number,
  gts: Float64Array,
  g: number,
  crowd: boolean,
): number {
  const dx = dts[d]!
  const dy = dts[d + 1]!
  const dw = dts[d + 2]!
  const dh = dts[d + 3]!
  const gx = gts[g]!
  const gy = gts[g + 1]!
  const gw = gts[g + 2]!
  const gh = gts[g + 3]!
  const w = Math.min(dw + dx, gw + gx) - Math.max(dx, gx)
  if (w <= 0) return 0
  const h = Math.min(dh + dy, gh + gy) - Math.max(dy, gy)
  if (h <= 0) return 0
  const i = w * h
  const da = dw * dh
  return i / (crowd ? da : da + gw * gh - i)
}

/** maskApi `bbIou`: a D x G matrix, row-major (`out[d * G + g]`), as pycocotools' `iou(dt, gt, iscrowd)`. */
export function boxIouMatrix(
  dts: readonly ArrayLike<number>[],
  gts: readonly ArrayLike<number>[],
  iscrowd: ArrayLike<number | boolean>,
): Float64Array {
  const out = new Float64Array(dts.length * gts.length)
  for (let d = 0; d < dts.length; d++) {
    for (let g = 0; g < gts.length; g++) {
      out[d * gts.length + g] = boxIou(dts[d]!, gts[g]!, Boolean(iscrowd[g]))
    }
  }
  return out
}

/**
 * maskApi `rleIou` for one pair, given both boxes (from `rleToBbox`) and the detection's area.
 * The box test comes first, as in maskApi, and masks of different sizes give -1.
 */
export function rleIouWithBoxes(
  dt: Rle,
  dtBox: ArrayLike<number>,
  dtArea: number,
  gt: Rle,
  gtBox: ArrayLike<number>,
  gtArea: number,
  crowd: boolean,
): number {
  if (!(boxIou(dtBox, gtBox, crowd) > 0)) return 0
  return rleIouGivenBoxOverlap(dt, dtArea, gt, gtArea, crowd)
}

/** The run-length part of maskApi `rleIou`, for a pair whose boxes overlap. */
export function rleIouGivenBoxOverlap(
  dt: Rle,
  dtArea: number,
  gt: Rle,
  gtArea: number,
  crowd: boolean,
): number {
  if (dt.height !== gt.height || dt.width !== gt.width) return -1
  const i = rleIntersection(dt.counts, gt.counts)
  if (i === 0) return 0
  return i / (crowd ? dtArea : dtArea + gtArea - i)
}

/** maskApi `rleIou`: a D x G matrix, row-major (`out[d * G + g]`). */
export function rleIouMatrix(
  dts: readonly Rle[],
  gts: readonly Rle[],
  iscrowd: ArrayLike<number | boolean>,
): Float64Array {
  const dtBoxes = dts.map(rleToBbox)
  const gtBoxes = gts.map(rleToBbox)
  const dtAreas = dts.map(rleArea)
  const gtAreas = gts.map(rleArea)
  const out = new Float64Array(dts.length * gts.length)
  for (let d = 0; d < dts.length; d++) {
    for (let g = 0; g < gts.length; g++) {
      out[d * gts.length + g] = rleIouWithBoxes(
        dts[d]!,
        dtBoxes[d]!,
        dtAreas[d]!,
        gts[g]!,
        gtBoxes[g]!,
        gtAreas[g]!,
        Boolean(iscrowd[g]),
      )
    }
  }
  return out
}

// Scratch buffers for rleFromPolygon (vertices, column crossings): polygons are rasterised by
// the thousand, and small allocations dominate otherwise.
let scratchCrossings = new Uint32Array(4096)
let scratchX = new Int32Array(64)
let scratchY = new Int32Array(64)

let crossingCount = 0

/**
 * One pair of consecutive walk points (u0, v0) -> (u1, v1) with u0 != u1: maskApi's test for a
 * pixel-centre crossing, downsampled to the image grid; a crossing is kept in scratchCrossings as
 * its column-major pixel index.
 */
function addCrossing(
  u0: number,
  v0: number,
  u1: number,
  v1: number,
  height: number,
  lastColumn: number,
): void {
  let xd = u1 < u0 ? u1 : u1 - 1
  xd = (xd + 0.5) / 5 - 0.5
  if (Math.floor(xd) !== xd || xd < 0 || xd > lastColumn) return
  let yd = v1 < v0 ? v1 : v0
  yd = (yd + 0.5) / 5 - 0.5
  if (yd < 0) yd = 0
  else if (yd > height) yd = height
  yd = Math.ceil(yd)
  scratchCrossings[crossingCount++] = xd * height + yd
}

/**
 * maskApi `rleFrPoly`: rasterises one polygon `[x0, y0, x1, y1, ...]`. maskApi walks every edge on
 * a 5x upsampled grid, one point per step along the edge's major axis, and keeps the points where
 * the walk crosses a pixel column's centre; the rows below each crossing's ordinate are inside.
 *
 * This computes the same points with the same C arithmetic (`(int)` truncates toward zero; the
 * order of floating point operations is kept), so areas match pixel for pixel, self-intersecting
 * and out-of-image polygons included. It only skips work: along an x-major edge every step moves
 * one upsampled column and only one column in five is a pixel centre, so just those steps are
 * evaluated; points are consumed as they are made instead of being stored.
 */
export function rleFromPolygon(xy: ArrayLike<number>, height: number, width: number): Rle {
  const scale = 5
  const k = Math.floor(xy.length / 2)
  if (scratchX.length < k + 1) {
    scratchX = new Int32Array((k + 1) * 2)
    scratchY = new Int32Array((k + 1) * 2)
  }
  const x = scratchX
  const y = scratchY
  for (let j = 0; j < k; j++) x[j] = Math.trunc(scale * xy[j * 2]! + 0.5)
  x[k] = x[0] ?? 0
  for (let j = 0; j < k; j++) y[j] = Math.trunc(scale * xy[j * 2 + 1]! + 0.5)
  y[k] = y[0] ?? 0
  let total = 0
  for (let j = 0; j < k; j++) {
    total += Math.max(Math.abs(x[j]! - x[j + 1]!), Math.abs(y[j]! - y[j + 1]!)) + 1
  }
  if (scratchCrossings.length < total + 1) scratchCrossings = new Uint32Array(total * 2 + 1)
  crossingCount = 0
  const lastColumn = width - 1
  let previousU = 0
  let previousV = 0
  let started = false
  for (let j = 0; j < k; j++) {
    let xs = x[j]!
    let xe = x[j + 1]!
    let ys = y[j]!
    let ye = y[j + 1]!
    const dx = Math.abs(xe - xs)
    const dy = Math.abs(ys - ye)
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye)
    if (flip) {
      let t = xs
      xs = xe
      xe = t
      t = ys
      ys = ye
      ye = t
    }
    if (dx >= dy) {
      if (dx === 0) {
        // A zero-length edge: C computes 0/0 and (int)NaN, which x86 turns into INT_MIN.
        if (started && xs !== previousU)
          addCrossing(previousU, previousV, xs, -2147483648, height, lastColumn)
        previousU = xs
        previousV = -2147483648
        started = true
        continue
      }
      const s = (ye - ys) / dx
      // Point d has t = flip ? dx - d : d, u = t + xs, v = (int)(ys + s*t + .5).
      const t0 = flip ? dx : 0
      const u0 = t0 + xs
      const v0 = Math.trunc(ys + s * t0 + 0.5)
      if (started && u0 !== previousU) addCrossing(previousU, previousV, u0, v0, height, lastColumn)
      // Inside the edge u moves by exactly one per step, so the pair (d-1, d) can only cross a
      // pixel centre when min(u(d-1), u(d)) is 2 modulo 5; visit just those steps.
      const residue = flip ? (((xs + dx - 2) % 5) + 5) % 5 : (((3 - xs) % 5) + 5) % 5
      for (let d = residue === 0 ? 5 : residue; d <= dx; d += 5) {
        const ta = flip ? dx - d + 1 : d - 1
        const tb = flip ? dx - d : d
        const va = Math.trunc(ys + s * ta + 0.5)
        const vb = Math.trunc(ys + s * tb + 0.5)
        addCrossing(ta + xs, va, tb + xs, vb, height, lastColumn)
      }
      const tLast = flip ? 0 : dx
      previousU = tLast + xs
      previousV = Math.trunc(ys + s * tLast + 0.5)
    } else {
      const s = (xe - xs) / dy
      // Point d has t = flip ? dy - d : d, v = t + ys, u = (int)(xs + s*t + .5).
      const uStart = Math.trunc(xs + 0.5)
      const uEnd = Math.trunc(xs + s * dy + 0.5)
      const tFirst = flip ? dy : 0
      const uFirst = flip ? uEnd : uStart
      if (started && uFirst !== previousU)
        addCrossing(previousU, previousV, uFirst, tFirst + ys, height, lastColumn)
      // Inside the edge u is monotone in t and moves by at most one per step, so the pair
      // (t-1, t) crosses a pixel centre only where u steps between c and c+1 with c 2 modulo 5
      // (the order of a pair does not change its crossing): for each such c in u's range, find
      // that step instead of walking every step.
      const lo = uStart < uEnd ? uStart : uEnd
      const hi = uStart < uEnd ? uEnd : uStart
      const right = s > 0
      const cLast = Math.min(hi - 1, 5 * lastColumn + 2)
      for (let c = Math.max(2, lo + ((((2 - lo) % 5) + 5) % 5)); c <= cLast; c += 5) {
        // The first t where u is past c (u > c going right, u <= c going left): the line's guess,
        // then stepped until u(t-1) is not past and u(t) is. (Written without rarely taken
        // statements, which would send V8's optimised code back to the interpreter.)
        let t = Math.max(1, Math.min(dy, Math.ceil((c + 0.5 - xs) / s)))
        let step = 0
        let u0 = 0
        let u1 = 0
        do {
          t += step
          u0 = Math.trunc(xs + s * (t - 1) + 0.5)
          u1 = Math.trunc(xs + s * t + 0.5)
          step = t > 1 && u0 > c === right ? -1 : u1 > c === right ? 0 : 1
        } while (step !== 0)
        addCrossing(u0, t - 1 + ys, u1, t + ys, height, lastColumn)
      }
      previousU = flip ? uStart : uEnd
      previousV = flip ? ys : dy + ys
    }
    started = true
  }

  const a = scratchCrossings
  let n = crossingCount
  a[n++] = height * width
  const sorted = a.subarray(0, n).sort()
  let previous = 0
  for (let j = 0; j < n; j++) {
    const t = sorted[j]!
    sorted[j] = t - previous
    previous = t
  }
  // Runs of zero length (two crossings at one pixel) are folded into the previous run.
  const b = new Uint32Array(n)
  let j = 0
  let runs = 0
  b[runs++] = sorted[j++]!
  while (j < n) {
    if (sorted[j]! > 0) b[runs++] = sorted[j++]!
    else {
      j++
      if (j < n) b[runs - 1]! += sorted[j++]!
    }
  }
  return { height, width, counts: runs === n ? b : b.slice(0, runs) }
}

/** maskApi `rleFrBbox`: the box as the polygon (x,y) (x,y+h) (x+w,y+h) (x+w,y). */
export function rleFromBox(box: ArrayLike<number>, height: number, width: number): Rle {
  const xs = box[0]!
  const xe = xs + box[2]!
  const ys = box[1]!
  const ye = ys + box[3]!
  return rleFromPolygon([xs, ys, xs, ye, xe, ye, xe, ys], height, width)
}

export type Segmentation = number[][] | CompressedRle | UncompressedRle

function allFinite(values: unknown[]): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (typeof v !== 'number' || !Number.isFinite(v)) return false
  }
  return true
}

/** One part of a polygon segmentation, checked and rasterised. */
function polygonPart(parts: unknown[], index: number, height: number, width: number): Rle {
  const part = parts[index]
  if (!Array.isArray(part) || !allFinite(part)) {
    throw new EvalError(
      'EVAL_BAD_SEGMENTATION',
      `segmentation polygon ${index} is not a list of finite numbers`,
    )
  }
  if (part.length < 2) {
    throw new EvalError('EVAL_BAD_SEGMENTATION', `segmentation polygon ${index} has no point`)
  }
  return rleFromPolygon(part as number[], height, width)
}

/**
 * pycocotools `COCO.annToRLE` for one annotation's `segmentation`: polygon parts are rasterised and
 * merged; compressed and uncompressed RLE keep their own `size` (the caller checks it against the
 * image). pycocotools decides "polygons" from the first part alone (more than four numbers; with
 * exactly four it tries to read boxes and fails), so later parts may be lines or single points,
 * which rasterise to what maskApi makes of them. A part with fewer than two numbers has no defined
 * result in maskApi and is an error here.
 */
export function segmentationToRle(segmentation: unknown, height: number, width: number): Rle {
  if (Array.isArray(segmentation)) {
    const parts = segmentation as unknown[]
    if (parts.length === 0) {
      throw new EvalError('EVAL_BAD_SEGMENTATION', 'segmentation is an empty polygon list')
    }
    const first = parts[0]
    if (!Array.isArray(first) || first.length <= 4) {
      throw new EvalError(
        'EVAL_BAD_SEGMENTATION',
        'segmentation must be a list of polygons [x0, y0, x1, y1, ...], the first with at least 3 points',
      )
    }
    if (parts.length === 1) return polygonPart(parts, 0, height, width)
    const rles: Rle[] = []
    for (let index = 0; index < parts.length; index++) {
      rles.push(polygonPart(parts, index, height, width))
    }
    return rleMerge(rles)
  }
  if (segmentation !== null && typeof segmentation === 'object') {
    const { size, counts } = segmentation as { size?: unknown; counts?: unknown }
    if (
      !Array.isArray(size) ||
      size.length !== 2 ||
      !size.every((n) => Number.isInteger(n) && (n as number) >= 0)
    ) {
      throw new EvalError('EVAL_BAD_SEGMENTATION', 'RLE segmentation needs size [height, width]')
    }
    const [h, w] = size as [number, number]
    if (typeof counts === 'string') return rleFromString(counts, h, w)
    if (Array.isArray(counts)) return rleFromUncompressed(counts as number[], h, w)
    throw new EvalError('EVAL_BAD_SEGMENTATION', 'RLE segmentation needs counts (string or list)')
  }
  throw new EvalError('EVAL_BAD_SEGMENTATION', 'segmentation must be polygons or an RLE object')
}
