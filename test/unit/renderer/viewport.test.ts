// The viewer's arithmetic: image pixels <-> screen pixels of a pane, fit, zoom about the
// pointer, and the label layout that keeps competing predictions readable.
import { describe, expect, it } from 'vitest'
import {
  MAX_SCALE,
  MIN_SCALE,
  fitTransform,
  panBy,
  toImage,
  toScreen,
  wheelFactor,
  zoomAt,
} from '../../../src-renderer/src/viewer/transform'
import { layoutLabels, type LabelRequest } from '../../../src-renderer/src/viewer/labels'
import { differenceOf, resample } from '../../../src-renderer/src/viewer/attentionMath'

describe('viewport transform', () => {
  it.each([
    // content, pane, expected scale (98% of the tighter side) and offsets that centre it
    { content: [1000, 500], pane: [800, 600], scale: 0.784, tx: 8, ty: 104 },
    { content: [200, 400], pane: [800, 600], scale: 1.47, tx: 253, ty: 6 },
    { content: [2048, 1024], pane: [1024, 512], scale: 0.49, tx: 10.24, ty: 5.12 },
  ])('fits $content into $pane', ({ content, pane, scale, tx, ty }) => {
    const t = fitTransform(
      { width: content[0]!, height: content[1]! },
      { width: pane[0]!, height: pane[1]! },
    )
    expect(t.scale).toBeCloseTo(scale, 6)
    expect(t.tx).toBeCloseTo(tx, 6)
    expect(t.ty).toBeCloseTo(ty, 6)
    // The image's corners land inside the pane, symmetric about its centre.
    const [x0, y0] = toScreen(t, 0, 0)
    const [x1, y1] = toScreen(t, content[0]!, content[1]!)
    expect(x0 + x1).toBeCloseTo(pane[0]!, 6)
    expect(y0 + y1).toBeCloseTo(pane[1]!, 6)
  })

  it('leaves an empty pane or empty content unscaled', () => {
    expect(fitTransform({ width: 0, height: 0 }, { width: 800, height: 600 })).toEqual({
      scale: 1,
      tx: 0,
      ty: 0,
    })
    expect(fitTransform({ width: 10, height: 10 }, { width: 0, height: 600 }).scale).toBe(1)
  })

  it('maps screen to image and back', () => {
    const t = { scale: 2.5, tx: -40, ty: 17 }
    const [sx, sy] = toScreen(t, 123.5, 45)
    expect([sx, sy]).toEqual([268.75, 129.5])
    const [x, y] = toImage(t, sx, sy)
    expect(x).toBeCloseTo(123.5, 10)
    expect(y).toBeCloseTo(45, 10)
  })

  it('zooms about the pointer: the image point under it stays under it', () => {
    const t = { scale: 0.8, tx: 30, ty: 12 }
    const under = toImage(t, 250, 180)
    const z = zoomAt(t, 1.25, 250, 180)
    expect(z.scale).toBeCloseTo(1, 10)
    const after = toScreen(z, under[0], under[1])
    expect(after[0]).toBeCloseTo(250, 9)
    expect(after[1]).toBeCloseTo(180, 9)
    // Zooming back out restores the transform.
    const back = zoomAt(z, 0.8, 250, 180)
    expect(back.scale).toBeCloseTo(0.8, 10)
    expect(back.tx).toBeCloseTo(30, 9)
    expect(back.ty).toBeCloseTo(12, 9)
  })

  it('clamps the scale and keeps the pointer fixed at the limit', () => {
    const t = { scale: 60, tx: 0, ty: 0 }
    const z = zoomAt(t, 10, 100, 100)
    expect(z.scale).toBe(MAX_SCALE)
    expect(toImage(z, 100, 100)[0]).toBeCloseTo(toImage(t, 100, 100)[0], 9)
    expect(zoomAt({ scale: 0.06, tx: 0, ty: 0 }, 0.1, 0, 0).scale).toBe(MIN_SCALE)
  })

  it('pans in screen pixels, whatever the zoom', () => {
    expect(panBy({ scale: 3, tx: 5, ty: 6 }, 10, -4)).toEqual({ scale: 3, tx: 15, ty: 2 })
  })

  it('zooms in on a wheel turn towards the screen and out away from it', () => {
    expect(wheelFactor(-100)).toBeGreaterThan(1)
    expect(wheelFactor(100)).toBeLessThan(1)
    expect(wheelFactor(100) * wheelFactor(-100)).toBeCloseTo(1, 12)
  })
})

const overlaps = (
  a: LabelRequest | { x: number; y: number; width: number; height: number },
  b: typeof a,
) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height

describe('label layout', () => {
  const label = (key: string, x: number, y: number, priority: number): LabelRequest => ({
    key,
    x,
    y,
    width: 90,
    height: 15,
    direction: 1,
    priority,
  })

  it('keeps "day disc 0.49" readable under "night disc 0.51" on the same object', () => {
    const placed = layoutLabels([
      label('day 0.49', 100, 200, 0.49),
      label('night 0.51', 101, 201, 0.51),
    ])
    const night = placed.find((p) => p.key === 'night 0.51')!
    const day = placed.find((p) => p.key === 'day 0.49')!
    // The surer label keeps its spot; the other stacks below it, with a leader line.
    expect(night).toMatchObject({ x: 101, y: 201, moved: false })
    expect(day.moved).toBe(true)
    expect(day.y).toBeGreaterThanOrEqual(night.y + night.height)
    expect(overlaps(day, night)).toBe(false)
    expect([day.anchorX, day.anchorY]).toEqual([100, 200])
  })

  it('stacks a crowd of labels at one spot without any overlap', () => {
    const placed = layoutLabels(
      Array.from({ length: 8 }, (_, i) => label(`p${i}`, 50, 50, 1 - i / 10)),
    )
    for (let i = 0; i < placed.length; i++)
      for (let j = i + 1; j < placed.length; j++)
        expect(overlaps(placed[i]!, placed[j]!)).toBe(false)
  })

  it('leaves labels that do not collide where they asked to be', () => {
    const placed = layoutLabels([label('a', 0, 0, 0.9), label('b', 200, 0, 0.8)])
    expect(placed.map((p) => p.moved)).toEqual([false, false])
  })

  it('stacks ground-truth labels (above their box) upwards', () => {
    const up = (key: string, priority: number): LabelRequest => ({
      ...label(key, 10, 100, priority),
      direction: -1,
    })
    const [first, second] = layoutLabels([up('a', 2), up('b', 1)])
    expect(first!.y).toBe(100)
    expect(second!.y).toBeLessThanOrEqual(100 - 15)
  })
})

describe('attention difference', () => {
  it('resamples a constant map to a constant map and keeps a gradient linear inside', () => {
    const flat = resample(new Float32Array(4).fill(0.25), 2, 2, 5, 3)
    expect([...flat].every((v) => Math.abs(v - 0.25) < 1e-7)).toBe(true)
    // 1-D ramp 0, 1 upsampled x2 with pixel centres aligned: 0, 0.25, 0.75, 1.
    expect([...resample(new Float32Array([0, 1]), 2, 1, 4, 1)]).toEqual([0, 0.25, 0.75, 1])
  })

  it('compares maps of different sizes as softmaxes on the larger grid: uniform vs uniform is zero', () => {
    const a = { values: new Float32Array(16).fill(1 / 16), width: 4, height: 4 }
    const b = { values: new Float32Array(64).fill(1 / 64), width: 8, height: 8 }
    const d = differenceOf(a, b)
    expect([d.width, d.height]).toEqual([8, 8])
    expect(d.maxAbs).toBeLessThan(1e-7)
  })

  it('is B − A: positive where the second run looks more', () => {
    const a = { values: new Float32Array([0.5, 0.5, 0, 0]), width: 2, height: 2 }
    const b = { values: new Float32Array([0, 0.5, 0.5, 0]), width: 2, height: 2 }
    const d = differenceOf(a, b)
    expect([...d.values]).toEqual([-0.5, 0, 0.5, 0])
    expect(d.maxAbs).toBe(0.5)
  })
})
