import type { Segmentation } from '../../common/api'
import { AppError } from '../../common/errors'
import { rleFromString } from '../eval/rle'

export type StoredSegmentation =
  | { kind: 'none' }
  | { kind: 'polygon'; json: string; bbox: [number, number, number, number] }
  | { kind: 'rle'; json: string; size: [number, number] }

/**
 * Checks a COCO segmentation for the shape rules COCO's tools rely on and returns how to store
 * it: polygons as JSON, RLE as JSON with counts exactly as given (list or compressed string).
 */
export function normalizeSegmentation(
  seg: number[][] | { counts: string | number[]; size: [number, number] } | undefined,
  where: string,
  image: { width: number; height: number },
): StoredSegmentation {
  if (seg === undefined) return { kind: 'none' }
  if (Array.isArray(seg)) {
    if (seg.length === 0) return { kind: 'none' }
    let x0 = Infinity
    let y0 = Infinity
    let x1 = -Infinity
    let y1 = -Infinity
    for (let p = 0; p < seg.length; p++) {
      const poly = seg[p]!
      if (poly.length < 6 || poly.length % 2 !== 0) {
        throw new AppError(
          'IMPORT_FAILED',
          `${where}.segmentation[${p}] has ${poly.length} numbers; a polygon needs an even count of at least 6 (x,y pairs).`,
        )
      }
      for (let i = 0; i < poly.length; i += 2) {
        const x = poly[i]!
        const y = poly[i + 1]!
        if (x < x0) x0 = x
        if (x > x1) x1 = x
        if (y < y0) y0 = y
        if (y > y1) y1 = y
      }
    }
    return { kind: 'polygon', json: JSON.stringify(seg), bbox: [x0, y0, x1 - x0, y1 - y0] }
  }
  const [h, w] = seg.size
  if (h !== image.height || w !== image.width) {
    throw new AppError(
      'IMPORT_FAILED',
      `${where}.segmentation.size is [${h}, ${w}] but its image is ${image.width}x${image.height} (size is [height, width]).`,
    )
  }
  const counts =
    typeof seg.counts === 'string' ? rleCountsFromString(seg.counts, h, w, where) : seg.counts
  let total = 0
  for (const c of counts) total += c
  if (total !== h * w) {
    throw new AppError(
      'IMPORT_FAILED',
      `${where}.segmentation RLE covers ${total} pixels but the image has ${h * w} (${w}x${h}).`,
    )
  }
  return { kind: 'rle', json: JSON.stringify({ size: seg.size, counts: seg.counts }), size: [h, w] }
}

/** Decodes COCO's compressed RLE string (maskApi `rleFrString`), naming the annotation on failure. */
export function rleCountsFromString(
  s: string,
  height: number,
  width: number,
  where = 'RLE',
): number[] {
  try {
    return Array.from(rleFromString(s, height, width).counts)
  } catch (err) {
    throw new AppError('IMPORT_FAILED', `${where}: ${(err as Error).message}`)
  }
}

/** The API form: polygons as arrays, RLE always as plain run lengths for the renderer. */
export function segmentationForApi(kind: string, json: string | null): Segmentation {
  if (kind === 'polygon' && json)
    return { kind: 'polygon', polygons: JSON.parse(json) as number[][] }
  if (kind === 'rle' && json) {
    const rle = JSON.parse(json) as { size: [number, number]; counts: string | number[] }
    const counts =
      typeof rle.counts === 'string'
        ? rleCountsFromString(rle.counts, rle.size[0], rle.size[1])
        : rle.counts
    return { kind: 'rle', size: rle.size, counts }
  }
  return { kind: 'none' }
}

/**
 * COCO RLE of every labelled region of an id map in one column-major pass: for each id, the
 * alternating background/foreground run lengths, area and bbox. Used to recover Cityscapes
 * instances from instanceIds.
 */
export function encodeIdMap(
  ids: Uint16Array | Uint8Array | Int32Array,
  width: number,
  height: number,
  keep: (id: number) => boolean,
): Map<number, { counts: number[]; area: number; bbox: [number, number, number, number] }> {
  const out = new Map<
    number,
    {
      counts: number[]
      area: number
      lastEnd: number
      x0: number
      y0: number
      x1: number
      y1: number
    }
  >()
  let runId = -1
  let runStart = 0
  const close = (end: number) => {
    if (runId < 0) return
    const r = out.get(runId)!
    r.counts.push(runStart - r.lastEnd, end - runStart)
    r.area += end - runStart
    r.lastEnd = end
  }
  let i = 0
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++, i++) {
      const v = ids[y * width + x]!
      const id = keep(v) ? v : -1
      if (id !== runId) {
        close(i)
        runId = id
        runStart = i
        if (id >= 0) {
          let r = out.get(id)
          if (!r) out.set(id, (r = { counts: [], area: 0, lastEnd: 0, x0: x, y0: y, x1: x, y1: y }))
        }
      }
      if (id >= 0) {
        const r = out.get(id)!
        if (x > r.x1) r.x1 = x
        if (y < r.y0) r.y0 = y
        if (y > r.y1) r.y1 = y
      }
    }
    // Runs continue across columns in column-major order, as in COCO's RLE.
  }
  close(i)
  const result = new Map<
    number,
    { counts: number[]; area: number; bbox: [number, number, number, number] }
  >()
  for (const [id, r] of out) {
    if (r.lastEnd < width * height) r.counts.push(width * height - r.lastEnd)
    result.set(id, {
      counts: r.counts,
      area: r.area,
      bbox: [r.x0, r.y0, r.x1 - r.x0 + 1, r.y1 - r.y0 + 1],
    })
  }
  return result
}
