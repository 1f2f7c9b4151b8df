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

/** `data` holds N rows of C values (row-major); returns the top `k` components. */
export function pca(data: Float32Array | Float64Array, n: number, c: number, k = 3, iterations = 60): Pca {
  const mean = new Float64Array(c)
  for (let r = 0; r < n; r++) for (let j = 0; j < c; j++) mean[j] = mean[j]! + data[r * c + j]!
  for (let j = 0; j < c; j++) mean[j] = mean[j]! / Math.max(1, n)
  const x = new Float64Array(n * c)
  let total = 0
  for (let r = 0; r < n; r++)
    for (let j = 0; j < c; j++) {
      const v = data[r * c + j]! - mean[j]!
      x[r * c + j] = v
      total += v * v
    }
  const kk = Math.min(k, c, Math.max(1, n))
  const random = seededRandom(7)
  const vs = Array.from({ length: kk }, () => Float64Array.from({ length: c }, () => random() - 0.5))
  orthonormalize(vs)
  const xv = new Float64Array(n)
  for (let it = 0; it < iterations; it++) {
    for (const v of vs) {
      for (let r = 0; r < n; r++) {
        let s = 0
        const o = r * c
        for (let j = 0; j < c; j++) s += x[o + j]! * v[j]!
        xv[r] = s
      }
      v.fill(0)
      for (let r = 0; r < n; r++) {
        const s = xv[r]!
        const o = r * c
        for (let j = 0; j < c; j++) v[j] = v[j]! + x[o + j]! * s
      }
    }
    orthonormalize(vs)
  }
  const points = new Float64Array(n * k)
  const explained: number[] = []
  vs.forEach((v, a) => {
    let variance = 0
    for (let r = 0; r < n; r++) {
      let s = 0
      const o = r * c
      for (let j = 0; j < c; j++) s += x[o + j]! * v[j]!
      points[r * k + a] = s
      variance += s * s
    }
    explained.push(total > 0 ? variance / total : 0)
  })
  return { points, explained, components: vs }
}
