/**
 * Shapes of edited annotations: checked, measured as COCO measures them and turned into the
 * stored form. Areas come from pycocotools' own rasterisation (`rleFromPolygon` + `rleMerge` +
 * `rleArea`, as `COCO.annToRLE` does), because COCO's area ranges (small/medium/large) use the
 * annotation's `area` field: an area computed any other way would move objects between ranges.
 *
 * Degenerate shapes a person can draw by accident (a zero-area box, a self-intersecting or
 * flat polygon, a shape outside the image) are kept and reported as warnings; what COCO files
 * cannot hold at all (a polygon part of fewer than 3 points, negative sizes, NaN) is refused
 * with a message saying which part.
 */
import type { Segmentation } from '../../common/api'
import { AppError } from '../../common/errors'
import {
  rleArea,
  rleFromPolygon,
  rleFromString,
  rleFromUncompressed,
  rleMerge,
  rleToBbox,
  rleToString,
  type Rle,
} from '../eval/rle'

export type Box = [number, number, number, number]

export interface StoredShape {
  segmKind: 'none' | 'polygon' | 'rle'
  segmentation: string | null
  bbox: Box
  area: number
  warnings: string[]
}

const finite = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n)

/**
 * True when two non-adjacent edges of the closed polygon properly cross. O(n²) pair tests with a
 * box rejection first and no allocation: a 500-point polygon (125k pairs) takes well under 1 ms.
 */
export function selfIntersects(xy: number[]): boolean {
  const n = xy.length / 2
  if (n < 4) return false
  const p = Float64Array.from(xy)
  for (let i = 0; i < n; i++) {
    const i2 = (i + 1) % n
    const ax = p[2 * i]!
    const ay = p[2 * i + 1]!
    const bx = p[2 * i2]!
    const by = p[2 * i2 + 1]!
    const minX = Math.min(ax, bx)
    const maxX = Math.max(ax, bx)
    const minY = Math.min(ay, by)
    const maxY = Math.max(ay, by)
    for (let j = i + 2; j < n; j++) {
      if (i === 0 && j === n - 1) continue
      const j2 = (j + 1) % n
      const cx = p[2 * j]!
      const cy = p[2 * j + 1]!
      const dx = p[2 * j2]!
      const dy = p[2 * j2 + 1]!
      if (
        (cx < minX && dx < minX) ||
        (cx > maxX && dx > maxX) ||
        (cy < minY && dy < minY) ||
        (cy > maxY && dy > maxY)
      )
        continue
      // Orientations of each segment's ends against the other segment.
      const d1 = (dx - cx) * (ay - cy) - (dy - cy) * (ax - cx)
      const d2 = (dx - cx) * (by - cy) - (dy - cy) * (bx - cx)
      const d3 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
      const d4 = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax)
      if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)))
        return true
    }
  }
  return false
}

/** Shoelace area of one part, to spot flat (collinear) polygons. */
function shoelace(xy: number[]): number {
  let a = 0
  const n = xy.length / 2
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n
    a += xy[2 * i]! * xy[2 * j + 1]! - xy[2 * j]! * xy[2 * i + 1]!
  }
  return Math.abs(a) / 2
}

function outside(b: Box, image: { width: number; height: number }): boolean {
  return b[0] < 0 || b[1] < 0 || b[0] + b[2] > image.width || b[1] + b[3] > image.height
}

export function polygonShape(
  polygons: number[][],
  image: { width: number; height: number },
): StoredShape {
  if (polygons.length === 0)
    throw new AppError(
      'INVALID_INPUT',
      'The polygon has no parts; delete the annotation instead of removing its last part.',
    )
  const warnings: string[] = []
  let x0 = Infinity
  let y0 = Infinity
  let x1 = -Infinity
  let y1 = -Infinity
  const rles: Rle[] = []
  polygons.forEach((part, k) => {
    if (!part.every(finite))
      throw new AppError(
        'INVALID_INPUT',
        `Polygon part ${k + 1} holds a number that is not finite.`,
      )
    if (part.length % 2 !== 0)
      throw new AppError(
        'INVALID_INPUT',
        `Polygon part ${k + 1} has ${part.length} numbers; points are x,y pairs.`,
      )
    if (part.length < 6)
      throw new AppError(
        'INVALID_INPUT',
        `Polygon part ${k + 1} has ${part.length / 2} point(s); a polygon needs at least 3 (delete the part instead).`,
      )
    if (selfIntersects(part))
      warnings.push(`Polygon part ${k + 1} crosses itself; COCO fills it by its own rules.`)
    if (shoelace(part) === 0) warnings.push(`Polygon part ${k + 1} is flat (zero area).`)
    for (let i = 0; i < part.length; i += 2) {
      x0 = Math.min(x0, part[i]!)
      x1 = Math.max(x1, part[i]!)
      y0 = Math.min(y0, part[i + 1]!)
      y1 = Math.max(y1, part[i + 1]!)
    }
    rles.push(rleFromPolygon(part, image.height, image.width))
  })
  const merged = rles.length === 1 ? rles[0]! : rleMerge(rles)
  const area = rleArea(merged)
  const bbox: Box = [x0, y0, x1 - x0, y1 - y0]
  if (area === 0) warnings.push('The polygon covers no pixel: its area is 0.')
  if (outside(bbox, image)) warnings.push('The polygon reaches outside the image.')
  return { segmKind: 'polygon', segmentation: JSON.stringify(polygons), bbox, area, warnings }
}

export function boxShape(box: Box, image: { width: number; height: number }): StoredShape {
  if (!box.every(finite)) throw new AppError('INVALID_INPUT', 'The box holds a non-finite number.')
  if (box[2] < 0 || box[3] < 0)
    throw new AppError(
      'INVALID_INPUT',
      `The box has a negative size (${box[2]} x ${box[3]}); width and height must be >= 0.`,
    )
  const warnings: string[] = []
  if (box[2] === 0 || box[3] === 0)
    warnings.push(`The box is ${box[2]} x ${box[3]}: its area is 0 and it can never be matched.`)
  if (outside(box, image)) warnings.push('The box reaches outside the image.')
  return { segmKind: 'none', segmentation: null, bbox: box, area: box[2] * box[3], warnings }
}

/**
 * An RLE mask, stored compressed. `extra` keeps fields of the stored form the studio adds
 * (Cityscapes' instanceId).
 */
export function rleShape(
  rle: Rle,
  image: { width: number; height: number },
  extra: Record<string, unknown> = {},
): StoredShape {
  if (rle.height !== image.height || rle.width !== image.width)
    throw new AppError(
      'INVALID_INPUT',
      `The mask is ${rle.width}x${rle.height} but its image is ${image.width}x${image.height}.`,
    )
  const area = rleArea(rle)
  const warnings = area === 0 ? ['The mask is empty: its area is 0.'] : []
  return {
    segmKind: 'rle',
    segmentation: JSON.stringify({
      size: [rle.height, rle.width],
      counts: rleToString(rle),
      ...extra,
    }),
    bbox: rleToBbox(rle),
    area,
    warnings,
  }
}

/** The stored shape of an API segmentation (with the box, when it has no mask). */
export function shapeFromApi(
  segmentation: Segmentation | undefined,
  bbox: Box | undefined,
  image: { width: number; height: number },
): StoredShape {
  if (segmentation?.kind === 'polygon') return polygonShape(segmentation.polygons, image)
  if (segmentation?.kind === 'rle') {
    let rle: Rle
    try {
      rle = rleFromUncompressed(segmentation.counts, segmentation.size[0], segmentation.size[1])
    } catch (err) {
      throw new AppError(
        'INVALID_INPUT',
        `The mask's run lengths are wrong: ${(err as Error).message}.`,
      )
    }
    const shape = rleShape(rle, image)
    // A detector's box around its mask (an accepted prediction) is kept as the label's box, so
    // box and mask evaluation both see what was accepted; otherwise the box is the mask's.
    return bbox ? { ...shape, bbox: boxShape(bbox, image).bbox } : shape
  }
  if (!bbox)
    throw new AppError('INVALID_INPUT', 'An annotation without a mask needs a box [x, y, w, h].')
  return boxShape(bbox, image)
}

/** The mask of a stored RLE segmentation JSON (compressed string or run-length list). */
export function storedRle(json: string): Rle {
  const s = JSON.parse(json) as { size: [number, number]; counts: string | number[] }
  return typeof s.counts === 'string'
    ? rleFromString(s.counts, s.size[0], s.size[1])
    : rleFromUncompressed(s.counts, s.size[0], s.size[1])
}

/** Maps polygons from one box onto another (moving or resizing a polygon's box). */
export function fitPolygons(polygons: number[][], from: Box, to: Box): number[][] {
  const sx = from[2] > 0 ? to[2] / from[2] : 1
  const sy = from[3] > 0 ? to[3] / from[3] : 1
  return polygons.map((part) =>
    part.map((v, i) => (i % 2 === 0 ? to[0] + (v - from[0]) * sx : to[1] + (v - from[1]) * sy)),
  )
}
