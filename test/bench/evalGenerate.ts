/**
 * Seeded synthetic COCO sets for the evaluation benchmark and the randomized comparisons with
 * pycocotools: star-shaped polygons (some crowd regions as uncompressed RLE), detections jittered
 * from the ground truth plus false positives, some with the wrong category, scores rounded so that
 * ties are common.
 */
import type { CocoDataset, CocoResult } from '../../src-main/core/eval/cocoData'
import { rleFromPolygon, rleArea, rleToString, rleToBbox } from '../../src-main/core/eval/rle'

export interface GenerateOptions {
  seed: number
  images: number
  categories: number
  /** Mean ground truth objects per image (uniform 0 .. 2*mean). */
  gtPerImage: number
  /** Detections per image; exactly this many when `exactDetections`. */
  detsPerImage: number
  exactDetections?: boolean
  /** Also produce polygons and mask results (segm). */
  masks: boolean
  scoreDecimals: number
  /** Fraction of ground truth that is crowd. */
  crowdFraction?: number
}

/** Mulberry32: small, fast, reproducible. */
export function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function round(value: number, decimals: number): number {
  const f = 10 ** decimals
  return Math.round(value * f) / f
}

function starPolygon(
  rand: () => number,
  cx: number,
  cy: number,
  rx: number,
  ry: number,
  points: number,
): number[] {
  const out: number[] = []
  const phase = rand() * Math.PI * 2
  for (let i = 0; i < points; i++) {
    const angle = phase + (i / points) * Math.PI * 2
    const r = 0.6 + 0.4 * rand()
    out.push(round(cx + Math.cos(angle) * rx * r, 2), round(cy + Math.sin(angle) * ry * r, 2))
  }
  return out
}

export function generateCocoSet(options: GenerateOptions): {
  dataset: CocoDataset
  bboxResults: CocoResult[]
  segmResults: CocoResult[]
} {
  const rand = random(options.seed)
  const crowdFraction = options.crowdFraction ?? 0.03
  const images = Array.from({ length: options.images }, (_, i) => ({
    id: i + 1,
    width: 320 + Math.floor(rand() * 320),
    height: 240 + Math.floor(rand() * 240),
    file_name: `img_${String(i + 1).padStart(6, '0')}.jpg`,
  }))
  const categories = Array.from({ length: options.categories }, (_, k) => ({
    // Gaps in the ids, as in COCO.
    id: k + 1 + Math.floor(k / 3),
    name: `class${k + 1}`,
    supercategory: 'thing',
  }))
  const annotations: CocoDataset['annotations'] = []
  const bboxResults: CocoResult[] = []
  const segmResults: CocoResult[] = []
  const pushDetection = (
    imageId: number,
    categoryId: number,
    polygon: number[],
    height: number,
    width: number,
  ): void => {
    const score = round(0.05 + rand() * 0.95, options.scoreDecimals)
    const rle = rleFromPolygon(polygon, height, width)
    const box = polygonBox(polygon).map((v) => round(v, 2))
    bboxResults.push({ image_id: imageId, category_id: categoryId, bbox: box, score })
    if (options.masks) {
      segmResults.push({
        image_id: imageId,
        category_id: categoryId,
        segmentation: { size: [height, width], counts: rleToString(rle) },
        score,
      })
    }
  }
  for (const image of images) {
    const { width, height } = image
    const objects = Math.floor(rand() * (2 * options.gtPerImage + 1))
    let detections = 0
    const gtPolygons: { category: number; polygon: number[] }[] = []
    for (let o = 0; o < objects; o++) {
      const category = categories[Math.floor(rand() * categories.length)]!.id
      // Sizes spread over small, medium and large.
      const scale =
        rand() < 0.4 ? 4 + rand() * 16 : rand() < 0.6 ? 16 + rand() * 40 : 40 + rand() * 120
      const rx = Math.min(scale * (0.6 + rand() * 0.8), width / 2)
      const ry = Math.min(scale * (0.6 + rand() * 0.8), height / 2)
      const cx = rx * 0.5 + rand() * (width - rx)
      const cy = ry * 0.5 + rand() * (height - ry)
      const polygon = starPolygon(rand, cx, cy, rx, ry, 6 + Math.floor(rand() * 8))
      const rle = rleFromPolygon(polygon, height, width)
      const area = rleArea(rle)
      if (area === 0) continue
      const box = rleToBbox(rle)
      const crowd = rand() < crowdFraction
      annotations.push({
        id: annotations.length + 1,
        image_id: image.id,
        category_id: category,
        bbox: box,
        area,
        iscrowd: crowd ? 1 : 0,
        segmentation: crowd ? { size: [height, width], counts: Array.from(rle.counts) } : [polygon],
      })
      gtPolygons.push({ category, polygon })
    }
    const budget = options.detsPerImage
    for (const { category, polygon } of gtPolygons) {
      const copies = Math.floor(rand() * 4)
      for (let c = 0; c < copies && detections < budget; c++) {
        const jitter = 0.05 + rand() * 0.25
        const box = polygonBox(polygon)
        const dx = (rand() - 0.5) * box[2]! * jitter
        const dy = (rand() - 0.5) * box[3]! * jitter
        const s = 1 + (rand() - 0.5) * jitter
        const cx = box[0]! + box[2]! / 2
        const cy = box[1]! + box[3]! / 2
        const moved = polygon.map((v, i) =>
          round(i % 2 === 0 ? cx + (v - cx) * s + dx : cy + (v - cy) * s + dy, 2),
        )
        const wrong = rand() < 0.1
        const cat = wrong ? categories[Math.floor(rand() * categories.length)]!.id : category
        pushDetection(image.id, cat, moved, height, width)
        detections++
      }
    }
    const falsePositives = options.exactDetections
      ? budget - detections
      : Math.max(0, Math.floor(rand() * (budget - detections + 1)))
    for (let f = 0; f < falsePositives; f++) {
      const scale = 6 + rand() * 80
      const rx = Math.min(scale, width / 2)
      const ry = Math.min(scale * (0.5 + rand()), height / 2)
      const polygon = starPolygon(
        rand,
        rx * 0.5 + rand() * (width - rx),
        ry * 0.5 + rand() * (height - ry),
        rx,
        ry,
        5 + Math.floor(rand() * 6),
      )
      const category = categories[Math.floor(rand() * categories.length)]!.id
      pushDetection(image.id, category, polygon, height, width)
    }
  }
  return { dataset: { images, annotations, categories }, bboxResults, segmResults }
}

function polygonBox(polygon: number[]): number[] {
  let x0 = Infinity
  let y0 = Infinity
  let x1 = -Infinity
  let y1 = -Infinity
  for (let i = 0; i < polygon.length; i += 2) {
    x0 = Math.min(x0, polygon[i]!)
    x1 = Math.max(x1, polygon[i]!)
    y0 = Math.min(y0, polygon[i + 1]!)
    y1 = Math.max(y1, polygon[i + 1]!)
  }
  return [x0, y0, x1 - x0, y1 - y0]
}
