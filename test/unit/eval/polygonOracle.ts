/**
 * A line-by-line TypeScript transcription of maskApi's `rleFrPoly` (store every walk point, then
 * scan pairs), kept as an oracle for the streaming rasteriser in `src-main/core/eval/rle.ts`:
 * the property test feeds both thousands of random polygons, including degenerate, negative and
 * out-of-image ones that the pycocotools fixtures cannot enumerate.
 */
import type { Rle } from '../../../src-main/core/eval/rle'

// Scratch buffers, grown on demand.
let scratchU = new Int32Array(1024)
let scratchV = new Int32Array(1024)

function ensureScratch(size: number): void {
  if (scratchU.length < size) {
    const grown = Math.max(size, scratchU.length * 2)
    scratchU = new Int32Array(grown)
    scratchV = new Int32Array(grown)
  }
}

/**
 * rleFrPoly: rasterises one polygon `[x0, y0, x1, y1, ...]` by walking its edges on a 5x
 * upsampled grid and keeping the points where the walk crosses a pixel column's centre. The C
 * casts (`(int)` truncates toward zero) and the order of floating point operations are kept, so
 * areas match pixel for pixel, self-intersecting and out-of-image polygons included.
 */
export function rleFromPolygonOracle(xy: ArrayLike<number>, height: number, width: number): Rle {
  const scale = 5
  const k = Math.floor(xy.length / 2)
  const x = new Int32Array(k + 1)
  const y = new Int32Array(k + 1)
  for (let j = 0; j < k; j++) x[j] = Math.trunc(scale * xy[j * 2]! + 0.5)
  x[k] = x[0] ?? 0
  for (let j = 0; j < k; j++) y[j] = Math.trunc(scale * xy[j * 2 + 1]! + 0.5)
  y[k] = y[0] ?? 0
  let total = 0
  for (let j = 0; j < k; j++) {
    total += Math.max(Math.abs(x[j]! - x[j + 1]!), Math.abs(y[j]! - y[j + 1]!)) + 1
  }
  ensureScratch(total)
  const u = scratchU
  const v = scratchV
  let m = 0
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
    // A zero-length edge gives 0/0 = NaN here, as in C; its single point never starts a column
    // crossing, so the garbage ordinate it produces is never read.
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d
        u[m] = t + xs
        v[m] = cInt(ys + s * t + 0.5)
        m++
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d
        v[m] = t + ys
        u[m] = cInt(xs + s * t + 0.5)
        m++
      }
    }
  }
  // Points where the boundary crosses a pixel column centre, downsampled to the image grid.
  const points = m
  const a: number[] = []
  for (let j = 1; j < points; j++) {
    if (u[j] === u[j - 1]) continue
    let xd = u[j]! < u[j - 1]! ? u[j]! : u[j]! - 1
    xd = (xd + 0.5) / scale - 0.5
    if (Math.floor(xd) !== xd || xd < 0 || xd > width - 1) continue
    let yd = v[j]! < v[j - 1]! ? v[j]! : v[j - 1]!
    yd = (yd + 0.5) / scale - 0.5
    if (yd < 0) yd = 0
    else if (yd > height) yd = height
    yd = Math.ceil(yd)
    a.push(((xd | 0) * height + (yd | 0)) >>> 0)
  }
  a.push((height * width) >>> 0)
  const sorted = Uint32Array.from(a).sort()
  let previous = 0
  for (let j = 0; j < sorted.length; j++) {
    const t = sorted[j]!
    sorted[j] = t - previous
    previous = t
  }
  const b = new Uint32Array(sorted.length)
  let j = 0
  let n = 0
  b[n++] = sorted[j++]!
  while (j < sorted.length) {
    if (sorted[j]! > 0) b[n++] = sorted[j++]!
    else {
      j++
      if (j < sorted.length) b[n - 1]! += sorted[j++]!
    }
  }
  return { height, width, counts: b.slice(0, n) }
}

/** C's `(int)` of a double on x86: truncation, with NaN becoming INT_MIN. */
function cInt(value: number): number {
  return Number.isNaN(value) ? -2147483648 : Math.trunc(value)
}
