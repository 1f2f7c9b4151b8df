import { describe, expect, it } from 'vitest'
import { pasteMask } from '../../../src-main/core/inference/maskPaste'
import {
  geometry,
  rescaleSize,
  resizeBilinearRgb,
  toTensor,
} from '../../../src-main/core/inference/preprocess'
import type { PreprocessSpec } from '../../../src-main/common/models'
import { fromFloat16, toFloat16 } from '../../../src-main/core/inference/float16'

const spec: PreprocessSpec = {
  resize: { mode: 'keep_ratio', scale: [1333, 800] },
  mean: [123.675, 116.28, 103.53],
  std: [58.395, 57.12, 57.375],
  padDivisor: 32,
  unitRange: false,
  channelOrder: 'rgb',
}

describe('preprocessing as mmcv does it', () => {
  // mmcv.rescale_size: scale = min(1333 / long, 800 / short); size = int(x * scale + 0.5).
  const cases: [number, number, [number, number]][] = [
    [640, 480, [1067, 800]],
    [480, 640, [800, 1067]],
    [1000, 100, [1333, 133]],
    [333, 500, [800, 1201]],
    [1333, 800, [1333, 800]],
  ]
  for (const [w, h, expected] of cases) {
    it(`keep-ratio ${w}x${h} -> ${expected.join('x')}`, () =>
      expect(rescaleSize(w, h, [1333, 800])).toEqual(expected))
  }

  it('pads to 32 after resizing', () => {
    const g = geometry(640, 480, spec)
    expect([g.resizedWidth, g.resizedHeight, g.inputWidth, g.inputHeight]).toEqual([
      1067, 800, 1088, 800,
    ])
    expect(g.scaleX).toBeCloseTo(1067 / 640, 12)
  })

  it('normalises RGB and pads with zeros after normalisation', () => {
    const g = geometry(2, 1, { ...spec, resize: { mode: 'none', scale: [1, 1] }, padDivisor: 4 })
    const rgb = Uint8Array.from([255, 0, 128, 10, 20, 30])
    const t = toTensor(rgb, g, { ...spec, padDivisor: 4 })
    expect(t.length).toBe(3 * 4 * 4)
    expect(t[0]).toBeCloseTo((255 - 123.675) / 58.395, 5)
    expect(t[1]).toBeCloseTo((10 - 123.675) / 58.395, 5)
    expect(t[2]).toBe(0) // padding
    expect(t[16]).toBeCloseTo((0 - 116.28) / 57.12, 5)
    const bgr = toTensor(rgb, g, { ...spec, padDivisor: 4, channelOrder: 'bgr' })
    expect(bgr[0]).toBeCloseTo((128 - 123.675) / 58.395, 5)
  })

  it('resizes bilinearly with OpenCV pixel centres', () => {
    // 2x1 -> 4x1: centres at -0.25, 0.25, 0.75, 1.25 in source pixels, clamped at the edges.
    const src = Uint8Array.from([0, 0, 0, 100, 100, 100])
    const out = resizeBilinearRgb(src, 2, 1, 4, 1)
    expect(Array.from(out.filter((_, i) => i % 3 === 0))).toEqual([0, 25, 75, 100])
  })
})

describe('mask pasting (grid_sample, align_corners=False)', () => {
  it('pastes a 2x2 mask into a 4x4 box by hand', () => {
    // Pixel centre x + 0.5 maps to mask coordinate u = (x + 0.5) / 2 - 0.5: -0.25, 0.25, 0.75, 1.25.
    // Mask [[1, 0], [0, 1]]; zeros outside. At (0,0): 0.75 * 0.75 * 1 = 0.5625 -> set.
    // At (1,0): u = 0.25, v = -0.25: 0.75*0.75*m00 + 0.25*0.75*m01 = 0.5625 -> set.
    // At (1,1): u = v = 0.25: 0.5625*1 + 0.0625*1 = 0.625 -> set; (2,1): u=0.75,v=0.25: 0.1875+0.1875+0.0625... = 0.25 -> not set.
    const m = Float32Array.from([1, 0, 0, 1])
    const { colMajor, area } = pasteMask(m, 2, 2, [0, 0, 4, 4], 4, 4, 0.5)
    const rows = [0, 1, 2, 3].map((y) => [0, 1, 2, 3].map((x) => colMajor[x * 4 + y]).join(''))
    expect(rows).toEqual(['1100', '1100', '0011', '0011'])
    expect(area).toBe(8)
  })

  it('keeps a mask inside its box in a larger image', () => {
    const ones = new Float32Array(28 * 28).fill(1)
    const { colMajor, area } = pasteMask(ones, 28, 28, [24, 4, 32, 12], 64, 48, 0.5)
    expect(area).toBe(64)
    expect(colMajor[24 * 48 + 4]).toBe(1)
    expect(colMajor[23 * 48 + 4]).toBe(0)
    expect(colMajor[31 * 48 + 11]).toBe(1)
    expect(colMajor[32 * 48 + 11]).toBe(0)
  })
})

describe('float16', () => {
  it('round-trips the values attention transforms hold', () => {
    // Half precision keeps 11 significant bits: relative error under 2^-11 in the normal range.
    for (const v of [0, 1, -1, 0.5, 3.140625, 65504, -2.5e-5, 1e-8]) {
      expect(Math.abs(fromFloat16(toFloat16(v)) - v)).toBeLessThanOrEqual(
        Math.abs(v) * 2 ** -11 + 6e-8,
      )
    }
    expect(fromFloat16(toFloat16(70000))).toBe(Infinity)
  })
})
