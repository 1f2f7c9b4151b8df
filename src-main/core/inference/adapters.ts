import { AppError } from '../../common/errors'
import { encodeMask, rleToString } from '../eval/rle'
import { pasteMask } from './maskPaste'
import type { Geometry } from './preprocess'

/** onnxruntime-like output tensors: data and dims. */
export interface OutTensor {
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array | Float64Array
  dims: readonly number[]
}

export interface Detection {
  /** Dataset category id (null when the model's label has no mapping). */
  categoryId: number | null
  label: number
  score: number
  /** [x, y, w, h] in image pixels. */
  bbox: [number, number, number, number]
  /** COCO compressed RLE of the full-image mask, when the model predicts masks. */
  maskRle: string | null
  area: number
}

export interface AdapterOptions {
  scoreThreshold: number
  maskThreshold: number
  /** Model label -> dataset category id. */
  labelToCategory: (label: number) => number | null
}

const num = (v: number | bigint) => (typeof v === 'bigint' ? Number(v) : v)

function clipBox(
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  w: number,
  h: number,
): [number, number, number, number] {
  const cx0 = Math.min(Math.max(x0, 0), w)
  const cy0 = Math.min(Math.max(y0, 0), h)
  const cx1 = Math.min(Math.max(x1, 0), w)
  const cy1 = Math.min(Math.max(y1, 0), h)
  return [cx0, cy0, cx1, cy1]
}

/** COCO's compressed RLE string of a column-major binary mask. */
function rleOf(colMajor: Uint8Array, height: number, width: number): string {
  return rleToString(encodeMask(colMajor, height, width, 'column-major'))
}

/**
 * mmdeploy end2end detection: dets [1,N,5] and labels [1,N] in the resized input frame, masks
 * [1,N,28,28] box-local probabilities. Boxes are divided by the resize factors; padding rows
 * (score 0) and scores under the threshold are dropped; masks are pasted into the image.
 */
export function adaptMmdeploy(
  outputs: Record<string, OutTensor>,
  g: Geometry,
  o: AdapterOptions,
): Detection[] {
  const dets = outputs.dets
  const labels = outputs.labels
  if (!dets || !labels)
    throw new AppError('INFERENCE_FAILED', 'The model returned no "dets"/"labels" outputs.')
  const n = dets.dims[1] ?? 0
  const masks = outputs.masks
  const mh = masks?.dims[2] ?? 0
  const mw = masks?.dims[3] ?? 0
  const out: Detection[] = []
  for (let i = 0; i < n; i++) {
    const score = num(dets.data[i * 5 + 4]!)
    if (!(score > 0) || score < o.scoreThreshold) continue
    const [x0, y0, x1, y1] = clipBox(
      num(dets.data[i * 5]!) / g.scaleX,
      num(dets.data[i * 5 + 1]!) / g.scaleY,
      num(dets.data[i * 5 + 2]!) / g.scaleX,
      num(dets.data[i * 5 + 3]!) / g.scaleY,
      g.width,
      g.height,
    )
    const label = num(labels.data[i]!)
    let maskRle: string | null = null
    let area = (x1 - x0) * (y1 - y0)
    if (masks && mh > 0) {
      const m = (masks.data as Float32Array).subarray(i * mh * mw, (i + 1) * mh * mw)
      const pasted = pasteMask(m, mh, mw, [x0, y0, x1, y1], g.width, g.height, o.maskThreshold)
      maskRle = rleOf(pasted.colMajor, g.height, g.width)
      area = pasted.area
    }
    out.push({
      categoryId: o.labelToCategory(label),
      label,
      score,
      bbox: [x0, y0, x1 - x0, y1 - y0],
      maskRle,
      area,
    })
  }
  return out
}

/**
 * torchvision export: boxes [K,4] in the input tensor's frame (the image itself, unless the
 * export's input size is fixed), labels [K], scores [K], masks [K,1,H,W] probabilities over
 * that frame.
 */
export function adaptTorchvision(
  outputs: Record<string, OutTensor>,
  g: Geometry,
  o: AdapterOptions,
): Detection[] {
  const boxes = outputs.boxes
  const labels = outputs.labels
  const scores = outputs.scores
  if (!boxes || !labels || !scores)
    throw new AppError(
      'INFERENCE_FAILED',
      'The model returned no "boxes"/"labels"/"scores" outputs.',
    )
  const k = scores.dims[0] ?? 0
  const masks = outputs.masks
  const out: Detection[] = []
  const mh = masks?.dims[2] ?? 0
  const mw = masks?.dims[3] ?? 0
  // Masks cover the input tensor: the image itself, or the fixed size it was resized to.
  const atInput = mh === g.inputHeight && mw === g.inputWidth
  if (masks && k > 0 && !atInput && (mh !== g.height || mw !== g.width)) {
    throw new AppError(
      'INFERENCE_FAILED',
      `The model's masks are ${mw}x${mh} but the image is ${g.width}x${g.height}.`,
    )
  }
  const resampled = masks && atInput && (mh !== g.height || mw !== g.width)
  for (let i = 0; i < k; i++) {
    const score = num(scores.data[i]!)
    if (score < o.scoreThreshold) continue
    const [x0, y0, x1, y1] = clipBox(
      num(boxes.data[i * 4]!) / g.scaleX,
      num(boxes.data[i * 4 + 1]!) / g.scaleY,
      num(boxes.data[i * 4 + 2]!) / g.scaleX,
      num(boxes.data[i * 4 + 3]!) / g.scaleY,
      g.width,
      g.height,
    )
    const label = num(labels.data[i]!)
    let maskRle: string | null = null
    let area = (x1 - x0) * (y1 - y0)
    if (masks) {
      const plane = (masks.data as Float32Array).subarray(i * mh * mw, (i + 1) * mh * mw)
      const { width: w, height: h } = g
      const col = new Uint8Array(h * w)
      area = 0
      for (let y = 0; y < h; y++) {
        // Nearest sample of the input-frame mask at each image pixel's centre.
        const sy = resampled ? Math.min(mh - 1, Math.floor((y + 0.5) * g.scaleY)) : y
        for (let x = 0; x < w; x++) {
          const sx = resampled ? Math.min(mw - 1, Math.floor((x + 0.5) * g.scaleX)) : x
          if (plane[sy * mw + sx]! >= o.maskThreshold) {
            col[x * h + y] = 1
            area++
          }
        }
      }
      maskRle = rleOf(col, h, w)
    }
    out.push({
      categoryId: o.labelToCategory(label),
      label,
      score,
      bbox: [x0, y0, x1 - x0, y1 - y0],
      maskRle,
      area,
    })
  }
  return out
}

/**
 * mmseg output at the input resolution -> train ids at image resolution (nearest), the
 * padded/resized frame mapped back through the geometry. Logits are argmaxed first.
 */
export function adaptSegmentation(output: OutTensor, g: Geometry, logits: boolean): Uint8Array {
  const dims = output.dims
  let ids: Uint8Array
  let ih: number
  let iw: number
  if (logits) {
    const [, k, h, w] = dims as [number, number, number, number]
    ih = h
    iw = w
    ids = new Uint8Array(h * w)
    const plane = h * w
    const data = output.data as Float32Array
    for (let p = 0; p < plane; p++) {
      let best = 0
      let bestV = -Infinity
      for (let c = 0; c < k; c++) {
        const v = data[c * plane + p]!
        if (v > bestV) {
          bestV = v
          best = c
        }
      }
      ids[p] = best
    }
  } else {
    ih = dims[dims.length - 2]!
    iw = dims[dims.length - 1]!
    ids = new Uint8Array(ih * iw)
    const data = output.data
    if (data instanceof BigInt64Array) {
      // int64 train ids (0..255): the low 32 bits of each little-endian value, without
      // converting every element to a BigInt.
      const words = new Int32Array(data.buffer, data.byteOffset, data.length * 2)
      for (let p = 0; p < ih * iw; p++) ids[p] = words[2 * p]!
    } else for (let p = 0; p < ih * iw; p++) ids[p] = num(data[p]!)
  }
  // The output covers the resized image (plus padding, if any): sample it at image pixels.
  const out = new Uint8Array(g.width * g.height)
  const fx = g.resizedWidth / g.width
  const fy = g.resizedHeight / g.height
  const ox = iw / g.inputWidth
  const oy = ih / g.inputHeight
  for (let y = 0; y < g.height; y++) {
    const sy = Math.min(ih - 1, Math.floor(y * fy * oy))
    for (let x = 0; x < g.width; x++) {
      const sx = Math.min(iw - 1, Math.floor(x * fx * ox))
      out[y * g.width + x] = ids[sy * iw + sx]!
    }
  }
  return out
}
