/**
 * Colour maps and the small canvases the viewer draws over an image: attention heatmaps
 * (uint8 maps from the store) and predicted label maps (PNG of category ids).
 */

// Inferno control points (matplotlib), interpolated into a 256-entry table.
const infernoStops: [number, number, number][] = [
  [0, 0, 4],
  [40, 11, 84],
  [101, 21, 110],
  [159, 42, 99],
  [212, 72, 66],
  [245, 125, 21],
  [250, 193, 39],
  [252, 255, 164],
]
export const inferno: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3)
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (infernoStops.length - 1)
    const k = Math.min(infernoStops.length - 2, Math.floor(t))
    const f = t - k
    for (let c = 0; c < 3; c++)
      lut[i * 3 + c] = Math.round(infernoStops[k]![c]! * (1 - f) + infernoStops[k + 1]![c]! * f)
  }
  return lut
})()

function canvas(w: number, h: number): HTMLCanvasElement {
  const c = document.createElement('canvas')
  c.width = w
  c.height = h
  return c
}

export function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/** A w x h canvas of the attention map in the inferno colours. */
export function heatmapCanvas(data: Uint8Array, w: number, h: number): HTMLCanvasElement {
  const c = canvas(w, h)
  const ctx = c.getContext('2d')!
  const img = ctx.createImageData(w, h)
  for (let i = 0; i < w * h; i++) {
    const v = data[i]!
    img.data[i * 4] = inferno[v * 3]!
    img.data[i * 4 + 1] = inferno[v * 3 + 1]!
    img.data[i * 4 + 2] = inferno[v * 3 + 2]!
    img.data[i * 4 + 3] = 255
  }
  ctx.putImageData(img, 0, 0)
  return c
}

/** A predicted label map (PNG of category ids) coloured by the categories' colours; 0 stays clear. */
export async function labelMapCanvas(
  pngBase64: string,
  colors: Map<number, readonly [number, number, number]>,
): Promise<HTMLCanvasElement> {
  const bytes = decodeBase64(pngBase64)
  const bitmap = await createImageBitmap(new Blob([bytes as BlobPart], { type: 'image/png' }), {
    colorSpaceConversion: 'none',
    premultiplyAlpha: 'none',
  })
  const c = canvas(bitmap.width, bitmap.height)
  const ctx = c.getContext('2d', { willReadFrequently: true })!
  ctx.drawImage(bitmap, 0, 0)
  const img = ctx.getImageData(0, 0, c.width, c.height)
  const px = img.data
  for (let i = 0; i < px.length; i += 4) {
    const id = px[i]!
    const rgb = id === 0 ? undefined : colors.get(id)
    if (!rgb) {
      px[i + 3] = 0
      continue
    }
    px[i] = rgb[0]
    px[i + 1] = rgb[1]
    px[i + 2] = rgb[2]
    px[i + 3] = 255
  }
  ctx.putImageData(img, 0, 0)
  return c
}
