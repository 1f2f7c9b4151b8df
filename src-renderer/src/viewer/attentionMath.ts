/**
 * The arithmetic of comparing two attention maps, free of the DOM so it can be unit-tested.
 * Softmax maps of different sizes are not comparable value by value (a uniform 8x8 map holds
 * 1/64 per cell, a 16x16 one 1/256), so both are resampled to one grid and renormalised to a
 * softmax again before subtracting.
 */
/** Bilinear resampling with pixel centres aligned (align_corners=False, as the models do). */
export function resample(
  src: Float32Array,
  w: number,
  h: number,
  tw: number,
  th: number,
): Float32Array {
  if (w === tw && h === th) return src
  const out = new Float32Array(tw * th)
  for (let y = 0; y < th; y++) {
    const sy = Math.min(h - 1, Math.max(0, ((y + 0.5) * h) / th - 0.5))
    const y0 = Math.floor(sy)
    const y1 = Math.min(h - 1, y0 + 1)
    const fy = sy - y0
    for (let x = 0; x < tw; x++) {
      const sx = Math.min(w - 1, Math.max(0, ((x + 0.5) * w) / tw - 0.5))
      const x0 = Math.floor(sx)
      const x1 = Math.min(w - 1, x0 + 1)
      const fx = sx - x0
      const top = src[y0 * w + x0]! * (1 - fx) + src[y0 * w + x1]! * fx
      const bottom = src[y1 * w + x0]! * (1 - fx) + src[y1 * w + x1]! * fx
      out[y * tw + x] = top * (1 - fy) + bottom * fy
    }
  }
  return out
}

export interface AttentionDifference {
  /** B − A, each map resampled to this size and renormalised to sum 1 (a softmax again). */
  values: Float32Array
  width: number
  height: number
  /** The largest |B − A|: the legend's range is symmetric around 0. */
  maxAbs: number
}

export interface ValueMap {
  values: Float32Array
  width: number
  height: number
}

/** B − A on the larger of the two grids, each map renormalised to sum 1 there. */
export function differenceOf(a: ValueMap, b: ValueMap): AttentionDifference {
  const width = Math.max(a.width, b.width)
  const height = Math.max(a.height, b.height)
  const ra = normalised(resample(a.values, a.width, a.height, width, height))
  const rb = normalised(resample(b.values, b.width, b.height, width, height))
  const values = new Float32Array(width * height)
  let maxAbs = 0
  for (let i = 0; i < values.length; i++) {
    values[i] = rb[i]! - ra[i]!
    maxAbs = Math.max(maxAbs, Math.abs(values[i]!))
  }
  return { values, width, height, maxAbs }
}

function normalised(v: Float32Array): Float32Array {
  let sum = 0
  for (const x of v) sum += x
  if (!(sum > 0)) return v
  const out = new Float32Array(v.length)
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / sum
  return out
}
