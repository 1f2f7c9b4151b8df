import {
  fitTransform,
  identity,
  panBy,
  toImage,
  toScreen,
  zoomAt,
  type Size,
  type ViewTransform,
} from './transform'

/**
 * Zoom and pan of one image, shared by every canvas that shows it: two to four panes given the
 * same Viewport move together. Canvases report their size; `fit` uses the smallest pane so the
 * whole image shows in each. Until the user zooms or pans, the image stays fitted when panes
 * resize (a pane added beside them, a window resized). Screen coordinates are CSS pixels from a
 * pane's top-left corner.
 */
export class Viewport {
  transform = $state.raw<ViewTransform>(identity)
  /** The content frame in image pixels (the annotations' frame). */
  content = $state.raw<Size>({ width: 0, height: 0 })
  #panes = new Map<object, Size>()
  #autoFit = true

  /** Shows new content, fitted (now, or as soon as a pane knows its size). */
  setContent(width: number, height: number): void {
    this.content = { width, height }
    this.#autoFit = true
    this.fit()
  }

  /** A canvas reports its size (again on every resize); returns the call that forgets it. */
  attach(pane: object, size: Size): () => void {
    this.#panes.set(pane, size)
    if (this.#autoFit) this.fit()
    return () => {
      this.#panes.delete(pane)
      if (this.#autoFit) this.fit()
    }
  }

  /** The smallest attached pane: what every pane can show. */
  get paneSize(): Size {
    let w = Infinity
    let h = Infinity
    for (const s of this.#panes.values()) {
      w = Math.min(w, s.width)
      h = Math.min(h, s.height)
    }
    return Number.isFinite(w) ? { width: w, height: h } : { width: 0, height: 0 }
  }

  fit(): void {
    const pane = this.paneSize
    if (pane.width <= 0 || this.content.width <= 0) return
    this.transform = fitTransform(this.content, pane)
    this.#autoFit = true
  }

  /** Zooms about a screen point, the pane's centre by default. */
  zoom(factor: number, cx?: number, cy?: number): void {
    const pane = this.paneSize
    this.#autoFit = false
    this.transform = zoomAt(this.transform, factor, cx ?? pane.width / 2, cy ?? pane.height / 2)
  }

  pan(dx: number, dy: number): void {
    this.#autoFit = false
    this.transform = panBy(this.transform, dx, dy)
  }

  /** The viewer keys every pane understands: + and − zoom, 0 fits. True when `key` was one. */
  handleKey(key: string): boolean {
    if (key === '+' || key === '=') this.zoom(1.25)
    else if (key === '-' || key === '_') this.zoom(0.8)
    else if (key === '0') this.fit()
    else return false
    return true
  }

  toScreen(x: number, y: number): [number, number] {
    return toScreen(this.transform, x, y)
  }

  toImage(sx: number, sy: number): [number, number] {
    return toImage(this.transform, sx, sy)
  }
}

/** A key typed into a text field is the field's, not the viewer's (sliders and checkboxes pass). */
export function typingInField(e: KeyboardEvent): boolean {
  return (
    e.target instanceof HTMLInputElement &&
    e.target.type !== 'checkbox' &&
    e.target.type !== 'range'
  )
}
