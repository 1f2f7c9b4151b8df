/**
 * The layer stack a LayerCanvas draws, bottom to top. Each layer is plain data with its own
 * visibility and opacity; the canvas owns the drawing. Rasters cover the image (the photo, a
 * ground-truth label map, a predicted label map, an attention heatmap, an attention
 * difference); instance layers draw boxes and masks and ask for text labels, which the canvas
 * lays out together so they never hide each other.
 */
import type { Annotation, Prediction } from '../../../src-main/common/api'
import { rgbCss } from '../../../src-main/common/colors'
import { polygonPath, rleSprite, type MaskSprite } from '../viz/masks'
import type { Size, ViewTransform } from './transform'

export type Rgb = readonly [number, number, number]

interface LayerBase {
  /** Stable within one canvas: keys caches and the label list. */
  id: string
  visible: boolean
  /** 0..1: the raster's alpha, or an instance layer's mask fill (its boxes stay opaque). */
  opacity: number
}

/** How instances (ground truth or predictions) are drawn. */
export interface InstanceStyle {
  colors: Map<number, Rgb>
  names: Map<number, string>
  showBoxes: boolean
  showMasks: boolean
  showLabels: boolean
}

/** Where a comparison says an instance was fixed (green) or broken (red) by this pane's run. */
export interface Outline {
  bbox: readonly [number, number, number, number]
  kind: 'fixed' | 'broken'
}

export type Layer =
  | (LayerBase & {
      kind: 'raster'
      /** A URL to load, or an already drawn canvas; null draws nothing. */
      source: string | HTMLCanvasElement | null
      /** The image-pixel rectangle the raster covers, from (0, 0). */
      width: number
      height: number
      /** Crisp pixels when zoomed in (photos, label maps); heatmaps stay smooth. */
      pixelated: boolean
      /** Drawn only inside this frame (an attention map covers the padded network input). */
      clip?: Size
    })
  | (LayerBase & {
      kind: 'annotations'
      annotations: readonly Annotation[]
      style: InstanceStyle
      highlight: number | null
    })
  | (LayerBase & { kind: 'predictions'; predictions: readonly Prediction[]; style: InstanceStyle })
  | (LayerBase & { kind: 'outlines'; outlines: readonly Outline[] })

export type LayerOf<K extends Layer['kind']> = Extract<Layer, { kind: K }>

/** A label an instance layer asks for; the canvas places and shows it. */
export interface LabelIntent {
  key: string
  text: string
  /** Image-space box the label belongs to. */
  bbox: readonly [number, number, number, number]
  /** Ground truth labels sit above their box, predictions below. */
  side: 'above' | 'below'
  background: string
  foreground: string
  priority: number
}

export const FIXED_RGB: Rgb = [46, 204, 64]
export const BROKEN_RGB: Rgb = [255, 48, 48]

/** Mask sprites and polygon paths, cached per instance object and colour. */
export class InstanceCache {
  #sprites = new WeakMap<object, { rgb: Rgb; sprite: MaskSprite | null }>()
  #paths = new WeakMap<object, Path2D>()

  sprite(
    key: object,
    mask: { counts: readonly number[]; size: readonly [number, number] },
    bbox: readonly [number, number, number, number],
    rgb: Rgb,
  ): MaskSprite | null {
    const hit = this.#sprites.get(key)
    if (hit && hit.rgb === rgb) return hit.sprite
    const sprite = rleSprite(mask.counts, mask.size, bbox, rgb)
    this.#sprites.set(key, { rgb, sprite })
    return sprite
  }

  path(a: Annotation): Path2D | null {
    if (a.segmentation.kind !== 'polygon') return null
    let p = this.#paths.get(a)
    if (!p) this.#paths.set(a, (p = polygonPath(a.segmentation.polygons)))
    return p
  }
}

const white: Rgb = [255, 255, 255]

/** Draws ground truth in image space (the context's transform maps image pixels). */
export function drawAnnotations(
  ctx: CanvasRenderingContext2D,
  layer: LayerOf<'annotations'>,
  t: ViewTransform,
  cache: InstanceCache,
  labels: LabelIntent[],
): void {
  const { style, opacity, highlight } = layer
  const line = 1 / t.scale
  for (const a of layer.annotations) {
    const rgb = style.colors.get(a.categoryId) ?? white
    const strong = highlight === a.id
    const fill = strong ? Math.min(1, opacity + 0.3) : opacity
    if (style.showMasks) {
      const p = cache.path(a)
      if (p) {
        ctx.fillStyle = rgbCss(rgb, fill)
        ctx.fill(p, 'evenodd')
        ctx.strokeStyle = rgbCss(rgb)
        ctx.lineWidth = 1.5 * line
        ctx.stroke(p)
      } else if (a.segmentation.kind === 'rle') {
        const s = cache.sprite(a, a.segmentation, a.bbox, rgb)
        if (s) {
          ctx.globalAlpha = fill
          ctx.drawImage(s.canvas as CanvasImageSource, s.x, s.y)
          ctx.globalAlpha = 1
        }
      }
    }
    if (style.showBoxes || strong) {
      const [x, y, w, h] = a.bbox
      ctx.strokeStyle = rgbCss(rgb)
      ctx.lineWidth = (strong ? 3 : 2) * line
      ctx.setLineDash(a.iscrowd ? [6 * line, 4 * line] : [])
      ctx.strokeRect(x, y, w, h)
      ctx.setLineDash([])
      if (style.showLabels)
        labels.push({
          key: `${layer.id}:${a.id}`,
          text: `${style.names.get(a.categoryId) ?? a.categoryId}${a.iscrowd ? ' (crowd)' : ''}`,
          bbox: a.bbox,
          side: 'above',
          background: rgbCss(rgb),
          foreground: '#000',
          // Ground truth first: it is the reference the predictions are read against.
          priority: 2 + (strong ? 1 : 0),
        })
    }
  }
}

export function drawPredictions(
  ctx: CanvasRenderingContext2D,
  layer: LayerOf<'predictions'>,
  t: ViewTransform,
  cache: InstanceCache,
  labels: LabelIntent[],
): void {
  const { style, opacity } = layer
  const line = 1 / t.scale
  layer.predictions.forEach((p, i) => {
    const rgb = style.colors.get(p.categoryId) ?? white
    if (p.mask && style.showMasks && opacity > 0) {
      const s = cache.sprite(p, p.mask, p.bbox, rgb)
      if (s) {
        ctx.globalAlpha = opacity
        ctx.drawImage(s.canvas as CanvasImageSource, s.x, s.y)
        ctx.globalAlpha = 1
      }
    }
    const [x, y, w, h] = p.bbox
    ctx.strokeStyle = rgbCss(rgb)
    ctx.lineWidth = 2.5 * line
    ctx.strokeRect(x, y, w, h)
    if (style.showLabels)
      labels.push({
        key: `${layer.id}:${i}`,
        text: `${style.names.get(p.categoryId) ?? p.categoryId} ${p.score.toFixed(2)}`,
        bbox: p.bbox,
        side: 'below',
        background: '#000c',
        foreground: rgbCss(rgb),
        priority: p.score,
      })
  })
}

/** Fixed / broken instances: a thick frame just outside the box, so the box stays visible. */
export function drawOutlines(
  ctx: CanvasRenderingContext2D,
  layer: LayerOf<'outlines'>,
  t: ViewTransform,
): void {
  const line = 1 / t.scale
  ctx.globalAlpha = layer.opacity
  for (const o of layer.outlines) {
    const [x, y, w, h] = o.bbox
    const pad = 4 * line
    ctx.strokeStyle = rgbCss(o.kind === 'fixed' ? FIXED_RGB : BROKEN_RGB)
    ctx.lineWidth = 3 * line
    ctx.setLineDash(o.kind === 'broken' ? [8 * line, 4 * line] : [])
    ctx.strokeRect(x - pad, y - pad, w + 2 * pad, h + 2 * pad)
  }
  ctx.setLineDash([])
  ctx.globalAlpha = 1
}
