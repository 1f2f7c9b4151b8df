/**
 * The paired bootstrap's randomness: a small seeded generator, the image weights of each
 * resample, and numpy's default percentile. Same seed, same resamples, same interval, on every
 * machine: the generator is integer arithmetic only.
 */

/** mulberry32: 32-bit state, full period, plenty for drawing image indices. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Draws one resample of `images` images with replacement into `weights` (how many times each
 * image was drawn). All runs of a comparison share the weights: that is what makes it paired.
 */
export function drawResample(random: () => number, weights: Int32Array): void {
  const n = weights.length
  weights.fill(0)
  for (let j = 0; j < n; j++) weights[Math.floor(random() * n)]!++
}

/** `np.percentile(values, q)` with numpy's default linear interpolation; sorts `values`. */
export function percentile(values: Float64Array, q: number): number {
  if (values.length === 0) return NaN
  values.sort()
  const h = (values.length - 1) * (q / 100)
  const lo = Math.floor(h)
  const hi = Math.min(lo + 1, values.length - 1)
  return values[lo]! + (h - lo) * (values[hi]! - values[lo]!)
}

/** The 95% percentile interval of bootstrap replicates; NaN replicates (undefined) are dropped. */
export function interval95(replicates: Float64Array): [number, number] | null {
  const defined = replicates.filter((v) => !Number.isNaN(v))
  if (defined.length === 0) return null
  return [percentile(defined, 2.5), percentile(defined, 97.5)]
}
