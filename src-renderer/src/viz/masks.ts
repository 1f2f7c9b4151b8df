/**
 * Turns a COCO run-length mask into a small canvas covering only its box, coloured, so the
 * viewer can draw it with one drawImage at any zoom. Runs are column-major (COCO's order).
 */
export interface MaskSprite {
  canvas: OffscreenCanvas | HTMLCanvasElement
  x: number
  y: number
}

function makeCanvas(w: number, h: number): OffscreenCanvas | HTMLCanvasElement {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(w, h)
  const c = document.createElement('canvas')
  c.width = w
  c.height = h
  return c
}

export function rleSprite(
  counts: readonly number[],
  size: readonly [number, number],
  bbox: readonly [number, number, number, number],
  rgb: readonly [number, number, number],
): MaskSprite | null {
  const [h] = size
  const x0 = Math.max(0, Math.floor(bbox[0]))
  const y0 = Math.max(0, Math.floor(bbox[1]))
  const w = Math.max(1, Math.ceil(bbox[0] + bbox[2]) - x0)
  const bh = Math.max(1, Math.ceil(bbox[1] + bbox[3]) - y0)
  const canvas = makeCanvas(w, bh)
  const ctx = canvas.getContext('2d') as
    CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null
  if (!ctx) return null
  const img = ctx.createImageData(w, bh)
  const px = new Uint32Array(img.data.buffer)
  // Little-endian RGBA packed into one word.
  const colour = (255 << 24) | (rgb[2] << 16) | (rgb[1] << 8) | rgb[0]
  let pos = 0
  for (let k = 0; k < counts.length; k++) {
    const n = counts[k]!
    if (k % 2 === 1) {
      for (let i = pos; i < pos + n; i++) {
        const x = Math.floor(i / h) - x0
        const y = (i % h) - y0
        if (x >= 0 && x < w && y >= 0 && y < bh) px[y * w + x] = colour
      }
    }
    pos += n
  }
  ctx.putImageData(img, 0, 0)
  return { canvas, x: x0, y: y0 }
}

/** A Path2D of all polygons of one annotation (even-odd fill handles holes and overlaps). */
export function polygonPath(polygons: readonly (readonly number[])[]): Path2D {
  const p = new Path2D()
  for (const poly of polygons) {
    if (poly.length < 6) continue
    p.moveTo(poly[0]!, poly[1]!)
    for (let i = 2; i < poly.length; i += 2) p.lineTo(poly[i]!, poly[i + 1]!)
    p.closePath()
  }
  return p
}
