/**
 * Attention on one colour scale across maps of different sizes: values relative to uniform
 * (p * N, 1 = what average pooling gives every position), coloured with inferno between the
 * scale's ends. Used by the attention grid and its legend.
 */
import { inferno } from './heatmap'

export interface SharedScale {
  lo: number
  hi: number
  /** Log scale: peaked maps (30x uniform) and flat ones (1x) stay readable side by side. */
  log: boolean
}

export function scaleIndex(v: number, s: SharedScale): number {
  const t = s.log
    ? (Math.log(Math.max(v, 1e-6)) - Math.log(Math.max(s.lo, 1e-6))) /
      (Math.log(Math.max(s.hi, 1e-6)) - Math.log(Math.max(s.lo, 1e-6)) || 1)
    : (v - s.lo) / (s.hi - s.lo || 1)
  return Math.max(0, Math.min(255, Math.round(t * 255)))
}

/** A w x h canvas of stored codes (0..255 between `low` and `high`) on the shared scale. */
export function sharedHeatmap(
  codes: Uint8Array,
  w: number,
  h: number,
  low: number,
  high: number,
  s: SharedScale,
): HTMLCanvasElement {
  const c = document.createElement('canvas')
  c.width = w
  c.height = h
  const ctx = c.getContext('2d')!
  const img = ctx.createImageData(w, h)
  const lut = new Uint8Array(256)
  for (let k = 0; k < 256; k++) lut[k] = scaleIndex(low + (k / 255) * (high - low), s)
  for (let i = 0; i < w * h; i++) {
    const v = lut[codes[i]!]!
    img.data[i * 4] = inferno[v * 3]!
    img.data[i * 4 + 1] = inferno[v * 3 + 1]!
    img.data[i * 4 + 2] = inferno[v * 3 + 2]!
    img.data[i * 4 + 3] = 255
  }
  ctx.putImageData(img, 0, 0)
  return c
}

/** Ticks of the legend, in values. */
export function legendTicks(s: SharedScale, count = 5): number[] {
  const out: number[] = []
  for (let i = 0; i < count; i++) {
    const t = i / (count - 1)
    out.push(
      s.log
        ? Math.exp(Math.log(s.lo) + t * (Math.log(s.hi) - Math.log(s.lo)))
        : s.lo + t * (s.hi - s.lo),
    )
  }
  return out
}
