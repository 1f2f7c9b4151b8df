/**
 * Dataset-wide aggregation of per-image attention statistics and transform outputs, per block
 * and per stage: distributions (quantiles, histograms), per-channel means and spreads, per-class
 * channel means and the class selectivity index (the paper's Figs. 6 and 7).
 */
import type {
  AttentionBlockStats,
  AttentionStageStats,
  Distribution,
} from '../../common/api/attention'
import type { MapStats } from './stats'

const HISTOGRAM_BINS = 24

/** numpy.quantile's default (linear) on sorted values. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length
  if (n === 0) return NaN
  const pos = (n - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.min(n - 1, lo + 1)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

/**
 * Summary of a sample; the histogram spans [lo, hi] (default: the sample's range). Returns null
 * for an empty sample: a statistic nobody could compute is absent, never a zero.
 */
export function distribution(
  values: ArrayLike<number>,
  range?: [number, number],
): Distribution | null {
  const n = values.length
  if (n === 0) return null
  const sorted = Float64Array.from(values).sort()
  let sum = 0
  for (let i = 0; i < n; i++) sum += sorted[i]!
  const mean = sum / n
  let ss = 0
  for (let i = 0; i < n; i++) ss += (sorted[i]! - mean) ** 2
  const lo = range ? range[0] : sorted[0]!
  const hi = range ? range[1] : sorted[n - 1]!
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0)
  const width = (hi - lo) / HISTOGRAM_BINS
  for (let i = 0; i < n; i++) {
    const v = sorted[i]!
    const b = width > 0 ? Math.floor((v - lo) / width) : 0
    counts[Math.min(HISTOGRAM_BINS - 1, Math.max(0, b))]!++
  }
  return {
    n,
    mean,
    std: Math.sqrt(ss / n),
    min: sorted[0]!,
    p05: quantileSorted(sorted, 0.05),
    p25: quantileSorted(sorted, 0.25),
    p50: quantileSorted(sorted, 0.5),
    p75: quantileSorted(sorted, 0.75),
    p95: quantileSorted(sorted, 0.95),
    max: sorted[n - 1]!,
    histogram: { lo, hi, counts },
  }
}

/**
 * Class selectivity index of one channel (Morcos et al. 2018, the index the paper's Fig. 7
 * uses), from its mean output per class:
 *
 *   SI = (mu_max - mu_rest) / (mu_max + mu_rest - 2 * floor)
 *
 * where mu_max is the largest class mean, mu_rest the mean of the other class means and floor
 * the channel's lowest output over all images. Morcos et al. define it on ReLU activations,
 * whose floor is 0, and there the two agree; the channel_add term is signed, and measuring from
 * the floor keeps the index in [0, 1] without letting two tiny means of opposite sign read as
 * "selective". 0: the channel answers every class alike; 1: it rises above its floor for one
 * class only. Null with fewer than two classes.
 */
export function selectivityIndex(classMeans: ArrayLike<number>, floor = 0): number | null {
  const k = classMeans.length
  if (k < 2) return null
  let max = -Infinity
  let at = 0
  let sum = 0
  for (let i = 0; i < k; i++) {
    sum += classMeans[i]!
    if (classMeans[i]! > max) {
      max = classMeans[i]!
      at = i
    }
  }
  const rest = (sum - classMeans[at]!) / (k - 1)
  const den = max + rest - 2 * floor
  return den > 0 ? Math.min(1, Math.max(0, (max - rest) / den)) : 0
}

/** Small deterministic generator (mulberry32) for reservoir sampling and seeded picks. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Transform values kept per block for the activation distribution (a uniform sample). */
const RESERVOIR = 20_000

export interface BlockInfo {
  index: number
  stage: string | null
  indexInStage: number
  channels: number
  hidden: number
  ratio: number
}

/** Collects one block's per-image statistics as a run is read. */
export class BlockAccumulator {
  readonly entropy: number[] = []
  readonly top1Mass: number[] = []
  readonly inObjectRatio: number[] = []
  readonly objectMass: number[] = []
  readonly objectArea: number[] = []
  readonly contextMass: number[] = []
  readonly contextArea: number[] = []
  readonly paddingMass: number[] = []
  readonly centroidX: number[] = []
  readonly centroidY: number[] = []
  readonly #classes = new Map<number, { n: number; mass: number; area: number }>()
  #channels = 0
  #sum: Float64Array | null = null
  #sumSq: Float64Array | null = null
  #min: Float64Array | null = null
  #transformImages = 0
  readonly #byClass = new Map<number, { n: number; sum: Float64Array }>()
  readonly #reservoir: number[] = []
  #w = 1
  #next = 0
  readonly #random = seededRandom(0x6c0b)

  constructor(readonly info: BlockInfo) {}

  addMap(s: MapStats): void {
    this.entropy.push(s.entropy)
    this.top1Mass.push(s.top1Mass)
    if (s.inObjectRatio !== null) this.inObjectRatio.push(s.inObjectRatio)
    if (s.objectMass !== null) this.objectMass.push(s.objectMass)
    if (s.objectArea !== null) this.objectArea.push(s.objectArea)
    if (s.contextMass !== null) this.contextMass.push(s.contextMass)
    if (s.contextArea !== null) this.contextArea.push(s.contextArea)
    this.paddingMass.push(s.paddingMass)
    this.centroidX.push(s.centroidX)
    this.centroidY.push(s.centroidY)
    for (const c of s.classes) {
      const a = this.#classes.get(c.id) ?? { n: 0, mass: 0, area: 0 }
      a.n++
      a.mass += c.mass
      a.area += c.area
      this.#classes.set(c.id, a)
    }
  }

  addTransform(values: ArrayLike<number>, dominantClass: number | null): void {
    const c = values.length
    if (!this.#sum) {
      this.#channels = c
      this.#sum = new Float64Array(c)
      this.#sumSq = new Float64Array(c)
      this.#min = new Float64Array(c).fill(Infinity)
    }
    if (c !== this.#channels) return
    this.#transformImages++
    const sum = this.#sum
    const sumSq = this.#sumSq!
    const min = this.#min!
    for (let i = 0; i < c; i++) {
      const v = values[i]!
      if (v < min[i]!) min[i] = v
      sum[i] = sum[i]! + v
      sumSq[i] = sumSq[i]! + v * v
      this.#sample(v)
    }
    if (dominantClass !== null) {
      const e = this.#byClass.get(dominantClass) ?? { n: 0, sum: new Float64Array(c) }
      e.n++
      for (let i = 0; i < c; i++) e.sum[i] = e.sum[i]! + values[i]!
      this.#byClass.set(dominantClass, e)
    }
  }

  /**
   * Reservoir sampling with geometric skips (Li's algorithm L): every value seen has the same
   * chance to be kept, at a cost of one random number per kept value, not per value.
   */
  #sample(v: number): void {
    if (this.#reservoir.length < RESERVOIR) {
      this.#reservoir.push(v)
      if (this.#reservoir.length === RESERVOIR) {
        this.#w = Math.exp(Math.log(this.#random()) / RESERVOIR)
        this.#next = Math.floor(Math.log(this.#random()) / Math.log(1 - this.#w)) + 1
      }
      return
    }
    if (--this.#next > 0) return
    this.#reservoir[Math.floor(this.#random() * RESERVOIR)] = v
    this.#w *= Math.exp(Math.log(this.#random()) / RESERVOIR)
    this.#next = Math.floor(Math.log(this.#random()) / Math.log(1 - this.#w)) + 1
  }

  get transformSample(): number[] {
    return this.#reservoir
  }

  selectivity(): number[] | null {
    const classes = [...this.#byClass.values()]
    if (classes.length < 2 || !this.#sum) return null
    const out: number[] = []
    const means = new Float64Array(classes.length)
    for (let ch = 0; ch < this.#channels; ch++) {
      classes.forEach((e, k) => (means[k] = e.sum[ch]! / e.n))
      out.push(selectivityIndex(means, this.#min![ch]!)!)
    }
    return out
  }

  summary(classNames: Map<number, string>): AttentionBlockStats {
    const unit: [number, number] = [0, 1]
    const sel = this.selectivity()
    const n = this.#transformImages
    const mean = this.#sum ? Array.from(this.#sum, (s) => s / n) : null
    return {
      ...this.info,
      images: this.entropy.length,
      entropy: distribution(this.entropy, unit)!,
      top1Mass: distribution(this.top1Mass, unit)!,
      inObjectRatio: distribution(this.inObjectRatio),
      objectMass: distribution(this.objectMass, unit),
      objectArea: distribution(this.objectArea, unit),
      contextMass: distribution(this.contextMass, unit),
      contextArea: distribution(this.contextArea, unit),
      paddingMass: distribution(this.paddingMass, unit)!,
      centroidX: distribution(this.centroidX)!,
      centroidY: distribution(this.centroidY)!,
      classes: [...this.#classes.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([id, a]) => ({
          id,
          name: classNames.get(id) ?? `class ${id}`,
          images: a.n,
          mass: a.mass / a.n,
          area: a.area / a.n,
          ratio: a.area > 0 ? a.mass / a.area : null,
        })),
      transform:
        mean && n > 0
          ? {
              images: n,
              mean,
              std: Array.from(this.#sumSq!, (s, i) =>
                Math.sqrt(Math.max(0, s / n - mean[i]! ** 2)),
              ),
              values: distribution(this.#reservoir)!,
              classMeans: [...this.#byClass.entries()]
                .sort((a, b) => a[0] - b[0])
                .map(([id, e]) => ({
                  id,
                  name: classNames.get(id) ?? `class ${id}`,
                  images: e.n,
                  mean: Array.from(e.sum, (s) => s / e.n),
                })),
              selectivity: sel,
              selectivityDistribution: sel ? distribution(sel, unit) : null,
            }
          : null,
    }
  }
}

/** Pools the images of every block of one stage. */
export function stageSummary(stage: string, blocks: BlockAccumulator[]): AttentionStageStats {
  const pool = (pick: (b: BlockAccumulator) => number[]) => blocks.flatMap(pick)
  const unit: [number, number] = [0, 1]
  const sel = blocks.flatMap((b) => b.selectivity() ?? [])
  const values = blocks.flatMap((b) => b.transformSample)
  return {
    stage,
    blocks: blocks.map((b) => b.info.index),
    ratio: blocks[0]?.info.ratio ?? null,
    entropy: distribution(
      pool((b) => b.entropy),
      unit,
    )!,
    top1Mass: distribution(
      pool((b) => b.top1Mass),
      unit,
    )!,
    inObjectRatio: distribution(pool((b) => b.inObjectRatio)),
    contextMass: distribution(
      pool((b) => b.contextMass),
      unit,
    ),
    contextArea: distribution(
      pool((b) => b.contextArea),
      unit,
    ),
    paddingMass: distribution(
      pool((b) => b.paddingMass),
      unit,
    )!,
    transformValues: distribution(values),
    selectivity: sel.length ? distribution(sel, unit) : null,
  }
}
