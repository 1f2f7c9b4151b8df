/**
 * Where an attention map's positions lie on the image. A GC block's softmax map covers the
 * padded network input (resize, then zero padding at the right and bottom), so map cell (i, j)
 * spans input pixels [j * inputWidth / w, (j + 1) * inputWidth / w) and image pixels that
 * divided by the resize scale. Everything here is pure arithmetic on that geometry, shared by
 * the per-image statistics and their tests.
 */
import { rleFromBox, rleMerge, segmentationToRle, type Rle } from '../eval/rle'

/** The resize/pad geometry a run stored per image (`run_images.meta`). */
export interface FrameGeometry {
  width: number
  height: number
  resizedWidth: number
  resizedHeight: number
  inputWidth: number
  inputHeight: number
  scaleX: number
  scaleY: number
}

export interface CellGrid {
  h: number
  w: number
  n: number
  /** Map column / row of every image column / row (by pixel centre). */
  colOf: Int32Array
  rowOf: Int32Array
  /** How many image columns / rows fall in each map column / row. */
  colPixels: Float64Array
  rowPixels: Float64Array
  /** Cell centres in image pixels (may lie beyond the image, in the padding). */
  cx: Float64Array
  cy: Float64Array
  /** Share of each cell's input area that is image rather than padding (0..1). */
  inside: Float64Array
  /** Cell size in image pixels. */
  cellWidth: number
  cellHeight: number
  imageWidth: number
  imageHeight: number
}

export function cellGrid(g: FrameGeometry, h: number, w: number): CellGrid {
  const sx = g.inputWidth / w
  const sy = g.inputHeight / h
  const colOf = new Int32Array(g.width)
  const rowOf = new Int32Array(g.height)
  const colPixels = new Float64Array(w)
  const rowPixels = new Float64Array(h)
  for (let x = 0; x < g.width; x++) {
    const j = Math.min(w - 1, Math.floor(((x + 0.5) * g.scaleX) / sx))
    colOf[x] = j
    colPixels[j]!++
  }
  for (let y = 0; y < g.height; y++) {
    const i = Math.min(h - 1, Math.floor(((y + 0.5) * g.scaleY) / sy))
    rowOf[y] = i
    rowPixels[i]!++
  }
  const cx = new Float64Array(w)
  const cy = new Float64Array(h)
  const insideX = new Float64Array(w)
  const insideY = new Float64Array(h)
  for (let j = 0; j < w; j++) {
    cx[j] = ((j + 0.5) * sx) / g.scaleX
    insideX[j] = Math.min(1, Math.max(0, (g.resizedWidth - j * sx) / sx))
  }
  for (let i = 0; i < h; i++) {
    cy[i] = ((i + 0.5) * sy) / g.scaleY
    insideY[i] = Math.min(1, Math.max(0, (g.resizedHeight - i * sy) / sy))
  }
  const inside = new Float64Array(h * w)
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) inside[i * w + j] = insideY[i]! * insideX[j]!
  return {
    h,
    w,
    n: h * w,
    colOf,
    rowOf,
    colPixels,
    rowPixels,
    cx,
    cy,
    inside,
    cellWidth: sx / g.scaleX,
    cellHeight: sy / g.scaleY,
    imageWidth: g.width,
    imageHeight: g.height,
  }
}

/** Cells a region touches, with the share of each cell's area it covers (0..1]. */
export interface Coverage {
  cells: Int32Array
  share: Float64Array
  /** Sum of `share` over all cells divided by the cell count: the region's share of the map. */
  areaShare: number
}

/**
 * Calls `segment(x, y0, y1)` for every column piece [y0, y1) of a mask's foreground runs
 * (column-major), so callers work per piece rather than per pixel.
 */
export function forEachColumnSegment(
  rle: Rle,
  segment: (x: number, y0: number, y1: number) => void,
): void {
  const H = rle.height
  let pos = 0
  for (let k = 0; k < rle.counts.length; k++) {
    const len = rle.counts[k]!
    if (k % 2 === 1 && len > 0) {
      let p = pos
      const end = pos + len
      while (p < end) {
        const x = (p / H) | 0
        const y = p - x * H
        const take = Math.min(end - p, H - y)
        segment(x, y, y + take)
        p += take
      }
    }
    pos += len
  }
}

/**
 * The share of every map cell covered by a mask given as column-major runs at image resolution.
 * Costs one step per column piece and map row it crosses. A cell split by the padding edge
 * counts only its image part, so a uniform map puts exactly `areaShare` of its mass on the
 * region.
 */
export function coverage(rle: Rle, grid: CellGrid): Coverage {
  const counts = new Float64Array(grid.n)
  const { colOf, rowOf, w } = grid
  // First image row of each map row, to cut a column piece at map-row boundaries.
  const rowEnd = new Int32Array(grid.h)
  for (let y = 0; y < rowOf.length; y++) rowEnd[rowOf[y]!] = y + 1
  forEachColumnSegment(rle, (x, y0, y1) => {
    const j = colOf[x]!
    let y = y0
    while (y < y1) {
      const i = rowOf[y]!
      const stop = Math.min(y1, rowEnd[i]!)
      counts[i * w + j] = counts[i * w + j]! + (stop - y)
      y = stop
    }
  })
  const cells: number[] = []
  const share: number[] = []
  let sum = 0
  for (let c = 0; c < grid.n; c++) {
    if (counts[c] === 0) continue
    const i = (c / w) | 0
    const j = c - i * w
    const s = (counts[c]! / (grid.rowPixels[i]! * grid.colPixels[j]!)) * grid.inside[c]!
    cells.push(c)
    share.push(s)
    sum += s
  }
  return {
    cells: Int32Array.from(cells),
    share: Float64Array.from(share),
    areaShare: sum / grid.n,
  }
}

/** One ground-truth object of an image, as stored. */
export interface GtObject {
  categoryId: number
  /** The annotation's area (COCO `area`): the dominant class is the one with the most. */
  area: number
  bbox: [number, number, number, number]
  segmKind: 'none' | 'polygon' | 'rle'
  /** The stored JSON (polygons or RLE), null for 'none'. */
  segmentation: string | null
}

export interface ImageRegions {
  width: number
  height: number
  /** Union of every object (masks where present, else boxes); null when the image has none. */
  objects: Rle | null
  /** Union per class. */
  classes: Map<number, Rle>
  /** True when at least one object had only a box. */
  usedBoxes: boolean
  /** Class with the largest annotated area (the image's dominant class), null without objects. */
  dominantClass: number | null
}

/** Rasterises an image's objects once; masks where the annotation has one, else its box. */
export function imageRegions(objects: GtObject[], width: number, height: number): ImageRegions {
  const perClass = new Map<number, Rle[]>()
  const areaOf = new Map<number, number>()
  let usedBoxes = false
  const all: Rle[] = []
  for (const o of objects) {
    let rle: Rle
    if (o.segmKind === 'none' || !o.segmentation) {
      rle = rleFromBox(o.bbox, height, width)
      usedBoxes = true
    } else {
      rle = segmentationToRle(JSON.parse(o.segmentation), height, width)
      // An RLE of another size cannot be placed on this image; its box can.
      if (rle.height !== height || rle.width !== width) {
        rle = rleFromBox(o.bbox, height, width)
        usedBoxes = true
      }
    }
    all.push(rle)
    areaOf.set(o.categoryId, (areaOf.get(o.categoryId) ?? 0) + o.area)
    const list = perClass.get(o.categoryId) ?? []
    list.push(rle)
    perClass.set(o.categoryId, list)
  }
  const classes = new Map<number, Rle>()
  for (const [id, list] of perClass) {
    const u = list.length === 1 ? list[0]! : rleMerge(list)
    classes.set(id, u)
  }
  let dominantClass: number | null = null
  let best = -1
  for (const [id, a] of areaOf) {
    if (a > best || (a === best && dominantClass !== null && id < dominantClass)) {
      best = a
      dominantClass = id
    }
  }
  return {
    width,
    height,
    objects: all.length === 0 ? null : all.length === 1 ? all[0]! : rleMerge(all),
    classes,
    usedBoxes,
    dominantClass,
  }
}

/** Per-class regions from a label map (Cityscapes labelIds): every pixel belongs to a class. */
export function labelMapClasses(
  labels: Uint8Array | Uint16Array,
  width: number,
  height: number,
): Map<number, Rle> {
  // Column-major runs per class, built in one pass down each column; ids index typed arrays
  // because a Cityscapes frame has two million pixels.
  let maxId = 0
  for (let k = 0; k < labels.length; k++) if (labels[k]! > maxId) maxId = labels[k]!
  const runs: (number[] | undefined)[] = new Array(maxId + 1)
  const end = new Float64Array(maxId + 1)
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const id = labels[y * width + x]!
      const p = x * height + y
      let r = runs[id]
      if (!r) {
        r = []
        runs[id] = r
      }
      if (r.length > 0 && end[id] === p) r[r.length - 1]!++
      else r.push(p - end[id]!, 1)
      end[id] = p + 1
    }
  }
  const out = new Map<number, Rle>()
  runs.forEach((r, id) => {
    if (!r) return
    const rest = width * height - end[id]!
    if (rest > 0) r.push(rest)
    out.set(id, { height, width, counts: Uint32Array.from(r) })
  })
  return out
}

/**
 * Squared Euclidean distance transform (Felzenszwalb & Huttenlocher) of a binary grid: for every
 * cell, the squared distance in cells to the nearest set cell (Infinity when none is set).
 */
export function distanceTransform(set: Uint8Array, w: number, h: number): Float64Array {
  const INF = 1e20
  const d = new Float64Array(w * h)
  for (let c = 0; c < w * h; c++) d[c] = set[c] ? 0 : INF
  const n = Math.max(w, h)
  const f = new Float64Array(n)
  const v = new Int32Array(n)
  const z = new Float64Array(n + 1)
  const out = new Float64Array(n)
  const pass = (len: number) => {
    let k = 0
    v[0] = 0
    z[0] = -INF
    z[1] = INF
    for (let q = 1; q < len; q++) {
      let s = (f[q]! + q * q - (f[v[k]!]! + v[k]! * v[k]!)) / (2 * q - 2 * v[k]!)
      while (s <= z[k]!) {
        k--
        s = (f[q]! + q * q - (f[v[k]!]! + v[k]! * v[k]!)) / (2 * q - 2 * v[k]!)
      }
      k++
      v[k] = q
      z[k] = s
      z[k + 1] = INF
    }
    k = 0
    for (let q = 0; q < len; q++) {
      while (z[k + 1]! < q) k++
      out[q] = (q - v[k]!) * (q - v[k]!) + f[v[k]!]!
    }
  }
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) f[y] = d[y * w + x]!
    pass(h)
    for (let y = 0; y < h; y++) d[y * w + x] = out[y]!
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) f[x] = d[y * w + x]!
    pass(w)
    for (let x = 0; x < w; x++) d[y * w + x] = out[x]!
  }
  for (let c = 0; c < w * h; c++) if (d[c]! >= INF / 2) d[c] = Infinity
  return d
}

/**
 * Distance in image pixels from any point of the image to the nearest object pixel, on a grid
 * of `step` pixels, 1/64 of the image's short side (a block counts as object when any of its
 * pixels is): distances are within `step` pixels (2 px on the 128 px demo images, 8 px on a
 * 640 x 480 COCO image), which a context distance of tens of pixels does not feel.
 */
export interface DistanceField {
  step: number
  gw: number
  gh: number
  /** Distance in image pixels per grid block (Infinity without objects). */
  dist: Float64Array
}

export function distanceField(objects: Rle, width: number, height: number): DistanceField {
  const step = Math.max(1, Math.round(Math.min(width, height) / 64))
  const gw = Math.ceil(width / step)
  const gh = Math.ceil(height / step)
  const set = new Uint8Array(gw * gh)
  forEachColumnSegment(objects, (x, y0, y1) => {
    const gx = (x / step) | 0
    const last = Math.floor((y1 - 1) / step)
    for (let gy = Math.floor(y0 / step); gy <= last; gy++) set[gy * gw + gx] = 1
  })
  const sq = distanceTransform(set, gw, gh)
  const dist = new Float64Array(gw * gh)
  for (let c = 0; c < gw * gh; c++) dist[c] = Math.sqrt(sq[c]!) * step
  return { step, gw, gh, dist }
}

/**
 * Map cells whose centre lies inside the image and farther than `distance` image pixels from
 * every object: where a block that "reaches for context" puts its mass.
 */
export function contextCells(
  grid: CellGrid,
  field: DistanceField,
  distance: number,
  g: FrameGeometry,
) {
  const cells: number[] = []
  for (let i = 0; i < grid.h; i++) {
    const y = grid.cy[i]!
    if (y >= g.height) continue
    const gy = Math.min(field.gh - 1, (y / field.step) | 0)
    for (let j = 0; j < grid.w; j++) {
      const x = grid.cx[j]!
      if (x >= g.width) continue
      const gx = Math.min(field.gw - 1, (x / field.step) | 0)
      if (field.dist[gy * field.gw + gx]! > distance) cells.push(i * grid.w + j)
    }
  }
  return Int32Array.from(cells)
}
