/**
 * Preprocessing as mmcv/mmdet/mmseg pipelines do it: keep-ratio resize with mmcv's scale rule
 * and rounding, bilinear sampling with OpenCV's pixel-centre convention (no antialiasing: sharp's
 * resamplers antialias when shrinking, which is not what the models were trained with), RGB
 * normalisation, zero padding to a multiple of the divisor after normalisation.
 */

import type { PreprocessSpec } from '../../common/models'

export type { PreprocessSpec }

export interface Geometry {
  /** Image size (oriented, as annotated). */
  width: number
  height: number
  /** Size after resize, before padding. */
  resizedWidth: number
  resizedHeight: number
  /** Tensor size after padding. */
  inputWidth: number
  inputHeight: number
  scaleX: number
  scaleY: number
}

/** mmcv.rescale_size: the largest scale fitting (long edge <= max(scale), short edge <= min(scale)). */
export function rescaleSize(w: number, h: number, scale: [number, number]): [number, number] {
  const maxLong = Math.max(...scale)
  const maxShort = Math.min(...scale)
  const factor = Math.min(maxLong / Math.max(h, w), maxShort / Math.min(h, w))
  // mmcv: int(w * scale_factor + 0.5)
  return [Math.floor(w * factor + 0.5), Math.floor(h * factor + 0.5)]
}

export function geometry(width: number, height: number, spec: PreprocessSpec): Geometry {
  let [rw, rh] = [width, height]
  if (spec.resize.mode === 'keep_ratio') [rw, rh] = rescaleSize(width, height, spec.resize.scale)
  else if (spec.resize.mode === 'fixed') [rw, rh] = spec.resize.scale
  const d = spec.padDivisor
  let iw = d > 0 ? Math.ceil(rw / d) * d : rw
  let ih = d > 0 ? Math.ceil(rh / d) * d : rh
  if (spec.padTo) [iw, ih] = [Math.max(iw, spec.padTo[0]), Math.max(ih, spec.padTo[1])]
  return {
    width,
    height,
    resizedWidth: rw,
    resizedHeight: rh,
    inputWidth: iw,
    inputHeight: ih,
    scaleX: rw / width,
    scaleY: rh / height,
  }
}

/**
 * Bilinear resize of interleaved RGB uint8 with OpenCV's INTER_LINEAR geometry
 * (src = (dst + 0.5) * scale - 0.5, edges replicated), rounded back to uint8 as cv2 does for
 * uint8 images.
 */
export function resizeBilinearRgb(
  src: Uint8Array,
  w: number,
  h: number,
  ow: number,
  oh: number,
): Uint8Array {
  if (ow === w && oh === h) return src
  const out = new Uint8Array(ow * oh * 3)
  const sx = w / ow
  const sy = h / oh
  const x0s = new Int32Array(ow)
  const x1s = new Int32Array(ow)
  const fxs = new Float32Array(ow)
  for (let x = 0; x < ow; x++) {
    let fx = (x + 0.5) * sx - 0.5
    let x0 = Math.floor(fx)
    fx -= x0
    if (x0 < 0) {
      x0 = 0
      fx = 0
    }
    if (x0 >= w - 1) {
      x0 = w - 1
      fx = 0
    }
    x0s[x] = x0 * 3
    x1s[x] = Math.min(x0 + 1, w - 1) * 3
    fxs[x] = fx
  }
  for (let y = 0; y < oh; y++) {
    let fy = (y + 0.5) * sy - 0.5
    let y0 = Math.floor(fy)
    fy -= y0
    if (y0 < 0) {
      y0 = 0
      fy = 0
    }
    if (y0 >= h - 1) {
      y0 = h - 1
      fy = 0
    }
    const y1 = Math.min(y0 + 1, h - 1)
    const r0 = y0 * w * 3
    const r1 = y1 * w * 3
    let o = y * ow * 3
    for (let x = 0; x < ow; x++) {
      const a = x0s[x]!
      const b = x1s[x]!
      const fx = fxs[x]!
      for (let c = 0; c < 3; c++, o++) {
        const top = src[r0 + a + c]! + (src[r0 + b + c]! - src[r0 + a + c]!) * fx
        const bot = src[r1 + a + c]! + (src[r1 + b + c]! - src[r1 + a + c]!) * fx
        out[o] = Math.round(top + (bot - top) * fy)
      }
    }
  }
  return out
}

/**
 * Interleaved RGB uint8 (already resized) -> normalised float32 NCHW with zero padding.
 * Padding happens after normalisation, as mmdet's pipeline (Normalize before Pad) does.
 */
export function toTensor(rgb: Uint8Array, g: Geometry, spec: PreprocessSpec): Float32Array {
  const { resizedWidth: rw, resizedHeight: rh, inputWidth: iw, inputHeight: ih } = g
  const plane = iw * ih
  const out = new Float32Array(3 * plane)
  const k = spec.unitRange ? 1 / 255 : 1
  for (let c = 0; c < 3; c++) {
    const mean = spec.mean[c]!
    const inv = 1 / spec.std[c]!
    const base = c * plane
    // Channel c of the tensor reads channel src of the RGB pixels.
    const src = spec.channelOrder === 'bgr' ? 2 - c : c
    for (let y = 0; y < rh; y++) {
      let s = y * rw * 3 + src
      let o = base + y * iw
      for (let x = 0; x < rw; x++, s += 3, o++) out[o] = (rgb[s]! * k - mean) * inv
    }
  }
  return out
}
