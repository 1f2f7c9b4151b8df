/**
 * Images of a report: each resized to the page (640 px wide, JPEG) with its overlays drawn into
 * the pixels, embedded as a data URI. Originals never go into the file, so a report of 24 images
 * stays a few megabytes.
 */
import sharp, { type OverlayOptions } from 'sharp'
import { cityscapesLabels } from '../../common/cityscapesLabels'
import type { MediaService } from '../media'
import { esc } from './svg'

export const STRIP_WIDTH = 640

export interface OverlayBox {
  /** COCO [x, y, w, h] in image pixels. */
  bbox: [number, number, number, number]
  color: string
  label?: string
  dash?: boolean
  width?: number
}

export interface StripImage {
  src: string
  width: number
  height: number
}

/** A Cityscapes label map (one channel of label ids) as translucent official colours. */
async function labelOverlay(png: Buffer, width: number, height: number): Promise<Buffer> {
  const { data, info } = await sharp(png)
    .resize(width, height, { kernel: 'nearest', fit: 'fill' })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true })
  const palette = new Map(cityscapesLabels.map((l) => [l.id, l.color]))
  const rgba = Buffer.alloc(info.width * info.height * 4)
  for (let i = 0; i < info.width * info.height; i++) {
    const id = data[i]!
    const c = palette.get(id)
    if (!c || id <= 3) continue
    rgba[i * 4] = c[0]
    rgba[i * 4 + 1] = c[1]
    rgba[i * 4 + 2] = c[2]
    rgba[i * 4 + 3] = 128
  }
  return sharp(rgba, { raw: { width: info.width, height: info.height, channels: 4 } })
    .png()
    .toBuffer()
}

/**
 * One image of a strip: the image as the studio shows it (oriented, sRGB), resized, with boxes
 * (and a label map) drawn in. Box coordinates are in the stored image's pixels.
 */
export async function stripImage(
  media: MediaService,
  imageId: number,
  imageWidth: number,
  overlays: { boxes?: OverlayBox[]; labelMapPng?: Buffer | null },
  width = STRIP_WIDTH,
): Promise<StripImage> {
  const { image } = await media.pipeline(imageId)
  const { data, info } = await image
    .resize({ width, withoutEnlargement: false })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
  const s = info.width / imageWidth
  const layers: OverlayOptions[] = []
  if (overlays.labelMapPng)
    layers.push({ input: await labelOverlay(overlays.labelMapPng, info.width, info.height) })
  if (overlays.boxes?.length) {
    const shapes = overlays.boxes
      .map((b) => {
        const [x, y, w, h] = b.bbox.map((v) => Math.round(v * s * 10) / 10) as [
          number,
          number,
          number,
          number,
        ]
        const sw = b.width ?? 2
        const label = b.label
          ? `<text x="${x + 2}" y="${Math.max(11, y - 3)}" font-size="11" font-family="sans-serif" fill="${b.color}" stroke="#000" stroke-width="2.5" paint-order="stroke">${esc(b.label)}</text>`
          : ''
        return `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${b.color}" stroke-width="${sw}"${b.dash ? ' stroke-dasharray="5 3"' : ''}/>${label}`
      })
      .join('')
    layers.push({
      input: Buffer.from(
        `<svg xmlns="http://www.w3.org/2000/svg" width="${info.width}" height="${info.height}">${shapes}</svg>`,
      ),
    })
  }
  const jpeg = await sharp(data, {
    raw: { width: info.width, height: info.height, channels: info.channels },
  })
    .composite(layers)
    .jpeg({ quality: 78 })
    .toBuffer()
  return {
    src: `data:image/jpeg;base64,${jpeg.toString('base64')}`,
    width: info.width,
    height: info.height,
  }
}

/** Colours of the attention heatmaps: a perceptual ramp (viridis, 9 stops). */
const VIRIDIS = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
]
export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1)
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x))
  const f = x - i
  const a = VIRIDIS[i]!
  const b = VIRIDIS[i + 1]!
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as [number, number, number]
}

/**
 * An attention map (uint8 codes over the padded input frame) drawn over its image: the map is
 * scaled to the frame (which covers the image from its top-left corner), cropped to the image
 * and blended at 60%.
 */
export async function attentionOverlay(
  media: MediaService,
  imageId: number,
  imageWidth: number,
  imageHeight: number,
  map: { width: number; height: number; data: Buffer; frameWidth: number; frameHeight: number },
  width: number,
): Promise<Buffer> {
  const { image } = await media.pipeline(imageId)
  const base = await image
    .resize({ width })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
  const s = base.info.width / imageWidth
  const rgb = Buffer.alloc(map.width * map.height * 3)
  for (let i = 0; i < map.width * map.height; i++) rgb.set(viridis(map.data[i]! / 255), i * 3)
  const frameW = Math.max(1, Math.round(map.frameWidth * s))
  const frameH = Math.max(1, Math.round(map.frameHeight * s))
  const heat = await sharp(rgb, { raw: { width: map.width, height: map.height, channels: 3 } })
    .resize(frameW, frameH, { kernel: 'cubic', fit: 'fill' })
    .extract({
      left: 0,
      top: 0,
      width: Math.min(frameW, base.info.width),
      height: Math.min(frameH, base.info.height, Math.round(imageHeight * s)),
    })
    .ensureAlpha(0.6)
    .png()
    .toBuffer()
  return sharp(base.data, {
    raw: { width: base.info.width, height: base.info.height, channels: base.info.channels },
  })
    .composite([{ input: heat, left: 0, top: 0 }])
    .png()
    .toBuffer()
}
