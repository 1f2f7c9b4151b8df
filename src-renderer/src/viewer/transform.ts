/**
 * The viewport's arithmetic, free of Svelte and the DOM so it can be unit-tested: an image
 * pixel (x, y) is drawn at screen pixel (x * scale + tx, y * scale + ty) of a pane, in CSS
 * pixels from the pane's top-left corner.
 */
export interface ViewTransform {
  readonly scale: number
  readonly tx: number
  readonly ty: number
}

export interface Size {
  readonly width: number
  readonly height: number
}

/** Zoom limits: 1/20 of the image up to 64 screen pixels per image pixel (mask edges). */
export const MIN_SCALE = 0.05
export const MAX_SCALE = 64
/** A fitted image leaves a thin margin so its edges stay visible. */
export const FIT_MARGIN = 0.98

export const identity: ViewTransform = { scale: 1, tx: 0, ty: 0 }

export function clampScale(scale: number): number {
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale))
}

/** The whole content, centred in the pane. */
export function fitTransform(content: Size, pane: Size, margin = FIT_MARGIN): ViewTransform {
  if (content.width <= 0 || content.height <= 0 || pane.width <= 0 || pane.height <= 0)
    return identity
  const scale = clampScale(
    Math.min(pane.width / content.width, pane.height / content.height) * margin,
  )
  return {
    scale,
    tx: (pane.width - content.width * scale) / 2,
    ty: (pane.height - content.height * scale) / 2,
  }
}

/** Zooms by `factor` keeping the screen point (cx, cy) over the same image point. */
export function zoomAt(t: ViewTransform, factor: number, cx: number, cy: number): ViewTransform {
  const scale = clampScale(t.scale * factor)
  const f = scale / t.scale
  return { scale, tx: cx - (cx - t.tx) * f, ty: cy - (cy - t.ty) * f }
}

export function panBy(t: ViewTransform, dx: number, dy: number): ViewTransform {
  return { scale: t.scale, tx: t.tx + dx, ty: t.ty + dy }
}

export function toScreen(t: ViewTransform, x: number, y: number): [number, number] {
  return [x * t.scale + t.tx, y * t.scale + t.ty]
}

export function toImage(t: ViewTransform, sx: number, sy: number): [number, number] {
  return [(sx - t.tx) / t.scale, (sy - t.ty) / t.scale]
}

/** The wheel's zoom factor: a notch (deltaY 100) zooms by about 14%, trackpads smoothly. */
export function wheelFactor(deltaY: number): number {
  return Math.exp(-deltaY * 0.0015)
}
