/**
 * Principal components of per-image context vectors (N images x C channels) without forming the
 * C x C covariance: subspace iteration V <- X^T (X V), orthonormalised each step, costs 2·N·C·k
 * per step, which stays small for C = 2048 and N in the thousands.
 */
import { seededRandom } from './aggregate'

export interface Pca {
  /** N x k projections, row-major. */
  points: Float64Array
  /** Each component's share of the total variance. */
  explained: number[]
  components: Float64Array[]
}

function orthonormalize(vs: Float64Array[]): void {
  for (let a = 0; a < vs.length; a++) {
    const v = vs[a]!
    for (let b = 0; b < a; b++) {
      const u = vs[b]!
      let d = 0
      for (let i = 0; i < v.length; i++) d += v[i]! * u[i]!
      for (let i = 0; i < v.length; i++) v[i] = v[i]! - d * u[i]!
    }
    let norm = 0
    for (let i = 0; i < v.length; i++) norm += v[i]! * v[i]!
    norm = Math.sqrt(norm)
    if (norm > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / norm
  }
}

/**
 * `data` holds N rows of C values (row-major); returns the top `k` components. All k vectors
 * are updated in one sweep over the rows (the data is read twice per step, not 2k times), and
 * the iteration stops once the subspace no longer moves.
 */
export function pca(
  data: Float32Array | Float64Array,
  n: number,
  c: number,
  k = 3,
  maxIterations = 30,
): Pca {
  const mean = new Float64Array(c)
  for (let r = 0; r < n; r++) for (let j = 0; j < c; j++) mean[j] = mean[j]! + data[r * c + j]!
  for (let j = 0; j < c; j++) mean[j] = mean[j]! / Math.max(1, n)
  // Centred copy in single precision: half the memory traffic of the sweeps below.
  const x = new Float32Array(n * c)
  let total = 0
  for (let r = 0; r < n; r++)
    for (let j = 0; j < c; j++) {
      const v = data[r * c + j]! - mean[j]!
      x[r * c + j] = v
      total += v * v
    }
  const kk = Math.min(k, c, Math.max(1, n))
  const random = seededRandom(7)
  let vs = Array.from({ length: kk }, () => Float64Array.from({ length: c }, () => random() - 0.5))
  orthonormalize(vs)
  const s = new Float64Array(kk)
  for (let it = 0; it < maxIterations; it++) {
    const next = Array.from({ length: kk }, () => new Float64Array(c))
    for (let r = 0; r < n; r++) {
      const o = r * c
      for (let a = 0; a < kk; a++) {
        const v = vs[a]!
        let d = 0
        for (let j = 0; j < c; j++) d += x[o + j]! * v[j]!
        s[a] = d
      }
      for (let a = 0; a < kk; a++) {
        const w = next[a]!
        const d = s[a]!
        for (let j = 0; j < c; j++) w[j] = w[j]! + x[o + j]! * d
      }
    }
    orthonormalize(next)
    let moved = 0
    next.forEach((w, a) => {
      let d = 0
      for (let j = 0; j < c; j++) d += w[j]! * vs[a]![j]!
      moved = Math.max(moved, 1 - Math.abs(d))
    })
    vs = next
    if (moved < 1e-8) break
  }
  const points = new Float64Array(n * k)
  const explained: number[] = []
  vs.forEach((v, a) => {
    let variance = 0
    for (let r = 0; r < n; r++) {
      let d = 0
      const o = r * c
      for (let j = 0; j < c; j++) d += x[o + j]! * v[j]!
      points[r * k + a] = d
      variance += d * d
    }
    explained.push(total > 0 ? variance / total : 0)
  })
  return { points, explained, components: vs }
}
