/**
 * The few numpy behaviours whose exact floating point results COCOeval's numbers depend on.
 */

/** `np.linspace(start, stop, num)`: `i * step + start`, with the last value set to `stop`. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num)
  const step = (stop - start) / (num - 1)
  for (let i = 0; i < num; i++) out[i] = i * step + start
  if (num > 1) out[num - 1] = stop
  return out
}

const BLOCK = 128

/**
 * numpy's pairwise summation (`pairwise_sum_DOUBLE`), which `np.mean` uses on a contiguous
 * float64 array: unrolled by 8 up to 128 values, split in halves above. Summing in another order
 * changes the last bits of the COCO stats.
 */
export function pairwiseSum(
  values: ArrayLike<number>,
  start = 0,
  n = values.length - start,
): number {
  if (n < 8) {
    let sum = -0
    for (let i = 0; i < n; i++) sum += values[start + i]!
    return sum
  }
  if (n <= BLOCK) {
    let r0 = values[start]!
    let r1 = values[start + 1]!
    let r2 = values[start + 2]!
    let r3 = values[start + 3]!
    let r4 = values[start + 4]!
    let r5 = values[start + 5]!
    let r6 = values[start + 6]!
    let r7 = values[start + 7]!
    const whole = n - (n % 8)
    let i = 8
    for (; i < whole; i += 8) {
      const p = start + i
      r0 += values[p]!
      r1 += values[p + 1]!
      r2 += values[p + 2]!
      r3 += values[p + 3]!
      r4 += values[p + 4]!
      r5 += values[p + 5]!
      r6 += values[p + 6]!
      r7 += values[p + 7]!
    }
    let sum = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7))
    for (; i < n; i++) sum += values[start + i]!
    return sum
  }
  let half = Math.floor(n / 2)
  half -= half % 8
  return pairwiseSum(values, start, half) + pairwiseSum(values, start + half, n - half)
}

/**
 * `np.mean` of a 1-D float64 array. The add reduction runs through numpy's iterator buffer, so
 * the pairwise sum applies to blocks of 8192 values that are then added one after another,
 * starting from 0.0.
 */
export function numpyMean(values: ArrayLike<number>): number {
  const buffer = 8192
  let sum = 0
  for (let start = 0; start < values.length; start += buffer) {
    sum += pairwiseSum(values, start, Math.min(buffer, values.length - start))
  }
  return sum / values.length
}
