import { describe, expect, it } from 'vitest'
import { rleFromPolygon } from '../../../src-main/core/eval/rle'
import { random } from '../../bench/evalGenerate'
import { rleFromPolygonOracle } from './polygonOracle'

describe('rleFromPolygon matches the transcription of maskApi rleFrPoly', () => {
  const rand = random(7)
  const shapes: { name: string; make: () => { xy: number[]; h: number; w: number } }[] = [
    {
      name: 'random polygons inside the image',
      make: () => {
        const h = 1 + Math.floor(rand() * 60)
        const w = 1 + Math.floor(rand() * 60)
        const n = 3 + Math.floor(rand() * 8)
        const xy = Array.from({ length: n * 2 }, (_, i) => rand() * (i % 2 ? h : w))
        return { xy, h, w }
      },
    },
    {
      name: 'polygons spilling outside, negative coordinates',
      make: () => {
        const h = 1 + Math.floor(rand() * 40)
        const w = 1 + Math.floor(rand() * 40)
        const n = 3 + Math.floor(rand() * 6)
        const xy = Array.from({ length: n * 2 }, (_, i) => (rand() * 1.6 - 0.3) * (i % 2 ? h : w))
        return { xy, h, w }
      },
    },
    {
      name: 'integer and half-pixel vertices with repeats (zero-length edges)',
      make: () => {
        const h = 2 + Math.floor(rand() * 20)
        const w = 2 + Math.floor(rand() * 20)
        const n = 3 + Math.floor(rand() * 6)
        const xy: number[] = []
        for (let i = 0; i < n; i++) {
          const px = Math.round(rand() * w * 2) / 2 - 1
          const py = Math.round(rand() * h * 2) / 2 - 1
          xy.push(px, py)
          if (rand() < 0.3) xy.push(px, py)
        }
        return { xy, h, w }
      },
    },
    {
      name: 'tiny coordinates (sub-pixel polygons)',
      make: () => {
        const xy = Array.from({ length: 8 }, () => rand() * 1.5)
        return { xy, h: 3, w: 3 }
      },
    },
  ]
  for (const shape of shapes) {
    it(shape.name, () => {
      for (let i = 0; i < 3000; i++) {
        const { xy, h, w } = shape.make()
        const expected = rleFromPolygonOracle(xy, h, w)
        const actual = rleFromPolygon(xy, h, w)
        if (actual.counts.join() !== expected.counts.join()) {
          expect({ xy, h, w, counts: Array.from(actual.counts) }).toEqual({
            xy,
            h,
            w,
            counts: Array.from(expected.counts),
          })
        }
      }
    })
  }
})
