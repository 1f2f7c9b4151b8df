/**
 * Attention maps as values and pictures: the stored uint8 map decoded back to softmax values,
 * heatmap rasters over the image, and the difference of two GC runs' maps at one block.
 */
import type { AttentionMap, ImageInference } from '../../../src-main/common/api'
import { decodeBase64, heatmapCanvas, inferno } from '../viz/heatmap'
import { differenceOf, type AttentionDifference } from './attentionMath'

export type { AttentionDifference }

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

// A diverging scale: blue where A attends more, white where both agree, red where B does.
const blue = [33, 102, 172]
const red = [178, 24, 43]
/** The two maps of one block on one grid: the larger of the two, so no map loses detail. */
export function attentionDifference(a: AttentionMap, b: AttentionMap): AttentionDifference {
  return differenceOf(
    { values: attentionValues(a), width: a.width, height: a.height },
    { values: attentionValues(b), width: b.width, height: b.height },
  )
}

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
