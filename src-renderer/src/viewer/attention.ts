/**
 * Attention maps as values and pictures: the stored uint8 map decoded back to softmax values,
 * heatmap rasters over the image, and the difference of two GC runs' maps at one block.
 */
import type { AttentionMap, ImageInference } from '../../../src-main/common/api'
import { decodeBase64, heatmapCanvas, inferno } from '../viz/heatmap'

type Geometry = NonNullable<ImageInference['geometry']>

/** "c4.0": a block's place in the network, the same across models of one backbone. */
export function blockKey(m: Pick<AttentionMap, 'stage' | 'indexInStage'>): string {
  return `${m.stage ?? '?'}.${m.indexInStage}`
}

/** The softmax values: the store keeps 0..255 between the map's min and max. */
export function attentionValues(m: AttentionMap): Float32Array {
  const bytes = decodeBase64(m.data)
  const out = new Float32Array(bytes.length)
  const step = (m.max - m.min) / 255
  for (let i = 0; i < bytes.length; i++) out[i] = m.min + bytes[i]! * step
  return out
}

/** The image-pixel frame a map covers: the padded network input, mapped back to the image. */
export function attentionFrame(g: Geometry): { width: number; height: number } {
  return { width: g.inputWidth / g.scaleX, height: g.inputHeight / g.scaleY }
}

export function attentionCanvas(m: AttentionMap): HTMLCanvasElement {
  return heatmapCanvas(decodeBase64(m.data), m.width, m.height)
}

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

/** The two maps of one block on one grid: the larger of the two, so no map loses detail. */
export function attentionDifference(a: AttentionMap, b: AttentionMap): AttentionDifference {
  const width = Math.max(a.width, b.width)
  const height = Math.max(a.height, b.height)
  const ra = normalised(resample(attentionValues(a), a.width, a.height, width, height))
  const rb = normalised(resample(attentionValues(b), b.width, b.height, width, height))
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

// A diverging scale: blue where A attends more, white where both agree, red where B does.
const blue = [33, 102, 172]
const red = [178, 24, 43]
export function divergingRgb(t: number): [number, number, number] {
  const u = Math.min(1, Math.max(0, t))
  const [end, f] = u < 0.5 ? [blue, 1 - u * 2] : [red, u * 2 - 1]
  return [0, 1, 2].map((c) => Math.round(247 + (end[c]! - 247) * f)) as [number, number, number]
}
export const divergingCss = (t: number) => `rgb(${divergingRgb(t).join(',')})`
export function infernoCss(t: number): string {
  const i = Math.round(Math.min(1, Math.max(0, t)) * 255) * 3
  return `rgb(${inferno[i]},${inferno[i + 1]},${inferno[i + 2]})`
}

export function differenceCanvas(d: AttentionDifference): HTMLCanvasElement {
  const c = document.createElement('canvas')
  c.width = d.width
  c.height = d.height
  const ctx = c.getContext('2d')!
  const img = ctx.createImageData(d.width, d.height)
  const m = d.maxAbs || 1
  for (let i = 0; i < d.values.length; i++) {
    const [r, g, b] = divergingRgb(0.5 + d.values[i]! / (2 * m))
    img.data[i * 4] = r
    img.data[i * 4 + 1] = g
    img.data[i * 4 + 2] = b
    img.data[i * 4 + 3] = 255
  }
  ctx.putImageData(img, 0, 0)
  return c
}
