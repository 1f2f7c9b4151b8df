import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CliUsageError } from '../../../src-main/cli/command'
import { evalCommand } from '../../../src-main/cli/commands/eval'
import type { CocoDataset, CocoResult } from '../../../src-main/core/eval/cocoData'
import { fixtureDir, loadFixture } from './fixtures'
import { captureIo } from './streams'

interface CocoCase {
  name: string
  iouType: 'bbox' | 'segm'
  gt: CocoDataset
  dets: CocoResult[]
  expected: { stats: number[]; perCategory: Record<string, number | null>; summary: string[] }
}

const cases = loadFixture<CocoCase[]>('coco-cases.json')
const work = mkdtempSync(join(tmpdir(), 'gcstudio-evalcli-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

function writeCase(c: CocoCase, dets: unknown = c.dets): { gt: string; dets: string } {
  const slug = c.name.replace(/[^a-z0-9]+/gi, '-')
  const gt = join(work, `${slug}-gt.json`)
  const detFile = join(work, `${slug}-dets.json`)
  writeFileSync(gt, JSON.stringify(c.gt))
  writeFileSync(detFile, JSON.stringify(dets))
  return { gt, dets: detFile }
}

const byName = (name: string): CocoCase => cases.find((c) => c.name === name)!

describe('gcstudio eval coco', () => {
  it.each([
    ['crowd overlap (bbox)'],
    ['categories without ground truth'],
    ['polygon with several parts'],
  ])('%s: prints pycocotools summary lines and writes the stable JSON', async (name) => {
    const c = byName(name)
    const files = writeCase(c)
    const out = join(work, 'out', `${c.iouType}.json`)
    const io = captureIo(work)
    const code = await evalCommand.run(
      ['coco', '--gt', files.gt, '--dets', files.dets, '--iou-type', c.iouType, '--json', out],
      io,
    )
    expect(io.err()).not.toMatch(/error/)
    expect(code).toBe(0)
    const lines = io.out().trimEnd().split('\n')
    expect(lines.slice(-12)).toEqual(c.expected.summary)

    const json = JSON.parse(readFileSync(out, 'utf8'))
    expect(json.stats).toHaveLength(12)
    json.stats.forEach((v: number, i: number) =>
      expect(Math.abs(v - c.expected.stats[i]!)).toBeLessThanOrEqual(1e-9),
    )
    expect(Object.keys(json.perCategory).sort()).toEqual(Object.keys(c.expected.perCategory).sort())
    for (const [id, ap] of Object.entries(c.expected.perCategory)) {
      if (ap === null) expect(json.perCategory[id]).toBeNull()
      else expect(Math.abs(json.perCategory[id] - ap)).toBeLessThanOrEqual(1e-9)
    }
    expect(json).toMatchObject({
      iouType: c.iouType,
      statNames: expect.any(Array),
      perImage: expect.any(Array),
    })
  })

  it('-1 stays -1 in stats (no ground truth in an area range)', async () => {
    const c = byName('categories without ground truth')
    const files = writeCase(c)
    const out = join(work, 'minus-one.json')
    await evalCommand.run(
      ['coco', '--gt', files.gt, '--dets', files.dets, '--iou-type', 'bbox', '--json', out],
      captureIo(work),
    )
    const json = JSON.parse(readFileSync(out, 'utf8'))
    expect(json.stats).toEqual(c.expected.stats.map((v) => (v === -1 ? -1 : expect.any(Number))))
    expect(c.expected.stats).toContain(-1)
  })

  const crowd = byName('crowd overlap (bbox)')
  const segm = byName('crowd overlap with RLE crowd regions (segm)')
  it.each([
    [
      'an unknown image id',
      crowd,
      'bbox',
      (d: CocoResult[]) => {
        d[3]!.image_id = 999
      },
      /results\[3\] names image_id 999, which is not in the ground truth/,
    ],
    [
      'an unknown category id',
      crowd,
      'bbox',
      (d: CocoResult[]) => {
        d[2]!.category_id = 77
      },
      /results\[2\] \(image 1\) names category_id 77/,
    ],
    [
      'a box with negative width',
      crowd,
      'bbox',
      (d: CocoResult[]) => {
        d[1]!.bbox = [1, 1, -3, 4]
      },
      /results\[1\] \(image 1\): bbox \[1,1,-3,4\] has a negative width or height/,
    ],
    [
      'a box with a null (NaN) value',
      crowd,
      'bbox',
      (d: CocoResult[]) => {
        d[4]!.bbox = [1, null as unknown as number, 3, 4]
      },
      /results\[4\] \(image 1\): bbox .* not a finite number/,
    ],
    [
      'a malformed RLE string',
      segm,
      'segm',
      (d: CocoResult[]) => {
        ;(d[5]!.segmentation as { counts: string }).counts = 'abc~'
      },
      /results\[5\] \(image 1\): RLE string has character "~" at position 3/,
    ],
    [
      'a mask of the wrong size',
      segm,
      'segm',
      (d: CocoResult[]) => {
        d[0]!.segmentation = { size: [10, 10], counts: [100] }
      },
      /results\[0\] \(image 1\): mask size 10x10 differs from the image's 160x200/,
    ],
  ] as const)('exits 1 on %s and names the entry', async (_, c, iouType, mutate, message) => {
    const dets = structuredClone(c.dets)
    mutate(dets)
    const files = writeCase(c, dets)
    const out = join(work, 'never.json')
    const io = captureIo(work)
    const code = await evalCommand.run(
      ['coco', '--gt', files.gt, '--dets', files.dets, '--iou-type', iouType, '--json', out],
      io,
    )
    expect(code).toBe(1)
    expect(io.err()).toMatch(message)
    expect(existsSync(out)).toBe(false)
  })

  it('exits 1 on a file that is not JSON, naming it', async () => {
    const bad = join(work, 'broken.json')
    writeFileSync(bad, '{"images": [')
    const io = captureIo(work)
    const code = await evalCommand.run(
      ['coco', '--gt', bad, '--dets', bad, '--iou-type', 'bbox'],
      io,
    )
    expect(code).toBe(1)
    expect(io.err()).toMatch(/ground truth .*broken\.json is not valid JSON/)
  })

  it('exits 1 on a missing file', async () => {
    const io = captureIo(work)
    const code = await evalCommand.run(
      ['coco', '--gt', 'nope.json', '--dets', 'nope.json', '--iou-type', 'bbox'],
      io,
    )
    expect(code).toBe(1)
    expect(io.err()).toMatch(/Cannot read ground truth .*nope\.json/)
  })

  it('exits 130 when interrupted, writing nothing', async () => {
    const files = writeCase(crowd)
    const controller = new AbortController()
    controller.abort()
    const out = join(work, 'interrupted.json')
    const io = captureIo(work, controller.signal)
    const code = await evalCommand.run(
      ['coco', '--gt', files.gt, '--dets', files.dets, '--iou-type', 'bbox', '--json', out],
      io,
    )
    expect(code).toBe(130)
    expect(existsSync(out)).toBe(false)
  })
})

describe('gcstudio eval cityscapes', () => {
  const expected = loadFixture<{
    printed: string
    averageScoreClasses: number
    averageScoreInstClasses: number
  }>('cityscapes/expected.json')
  const root = join(fixtureDir, 'cityscapes')
  it.each([
    ['label', 'pred'],
    ['train', 'pred-train'],
  ])('--ids %s prints the script tables and writes the stable JSON', async (ids, pred) => {
    const out = join(work, `cityscapes-${ids}.json`)
    const io = captureIo(root)
    const argv = ['cityscapes', '--gt', 'gtFine', '--pred', pred, '--json', out]
    if (ids === 'train') argv.push('--ids', 'train')
    const code = await evalCommand.run(argv, io)
    expect(io.err()).not.toMatch(/error/)
    expect(code).toBe(0)
    expect(io.out()).toContain(expected.printed)
    const json = JSON.parse(readFileSync(out, 'utf8'))
    expect(Object.keys(json.perClass)).toEqual(Array.from({ length: 19 }, (_, i) => String(i)))
    expect(Math.abs(json.mIoU - expected.averageScoreClasses)).toBeLessThanOrEqual(1e-9)
    expect(Math.abs(json.iIoU - expected.averageScoreInstClasses)).toBeLessThanOrEqual(1e-9)
    expect(json.perClass['3']).toBeNull() // wall: in neither ground truth nor prediction
    expect(json.confusionMatrix).toHaveLength(19)
    expect(json.perImage).toHaveLength(3)
  })

  it('exits 1 when predictions are label ids but --ids train is given', async () => {
    const io = captureIo(root)
    const code = await evalCommand.run(
      ['cityscapes', '--gt', 'gtFine', '--pred', 'pred', '--ids', 'train'],
      io,
    )
    expect(code).toBe(1)
    expect(io.err()).toMatch(/prediction has value \d+ at \(x=\d+, y=\d+\), not a train id/)
  })
})

describe('gcstudio eval usage', () => {
  it.each([
    [[], /coco or cityscapes/],
    [['voc'], /Unknown evaluation "voc"/],
    [['coco', '--gt', 'a', '--dets', 'b'], /needs --iou-type/],
    [['coco', '--gt', 'a', '--dets', 'b', '--iou-type', 'keypoints'], /bbox or segm/],
    [
      ['coco', '--gt', 'a', '--dets', 'b', '--iou-type', 'bbox', '--pred', 'c'],
      /--pred does not apply to eval coco/,
    ],
    [['cityscapes', '--gt', 'a'], /needs --pred/],
    [['cityscapes', '--gt', 'a', '--pred', 'b', '--ids', 'color'], /label or train/],
    [['coco', '--frobnicate'], /frobnicate/],
  ])('%j is a usage error', async (argv, message) => {
    await expect(evalCommand.run(argv, captureIo(work))).rejects.toThrowError(CliUsageError)
    await expect(evalCommand.run(argv, captureIo(work))).rejects.toThrowError(message)
  })

  it('--help prints the usage', async () => {
    const io = captureIo(work)
    expect(await evalCommand.run(['--help'], io)).toBe(0)
    expect(io.out()).toContain('gcstudio eval coco --gt instances.json')
  })
})
