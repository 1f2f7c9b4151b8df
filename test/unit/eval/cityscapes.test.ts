import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, cpSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type CityscapesIdKind,
  CityscapesAccumulator,
  cityscapesStem,
  evaluateCityscapesDirectories,
} from '../../../src-main/core/eval/cityscapes'
import { LABEL_BY_ID } from '../../../src-main/core/eval/cityscapesClasses'
import { formatCityscapesTables } from '../../../src-main/core/eval/cityscapesReport'
import { decodeLabelPng, encodeLabelPng } from '../../../src-main/core/eval/png'
import { fixtureDir, loadFixture } from './fixtures'

type Scores = Record<string, number | null>
interface Expected {
  classScores: Scores
  classInstScores: Scores
  categoryScores: Scores
  categoryInstScores: Scores
  averageScoreClasses: number
  averageScoreInstClasses: number
  averageScoreCategories: number
  averageScoreInstCategories: number
  confMatrix: number[][]
  perImage: { stem: string; classScores: Scores; averageScoreClasses: number }[]
  printed: string
}

const expected = loadFixture<Expected>('cityscapes/expected.json')
const root = join(fixtureDir, 'cityscapes')
const TOLERANCE = 1e-9

function close(actual: number | null, want: number | null | undefined, what: string): void {
  if (want === null || want === undefined) expect(actual, what).toBeNull()
  else expect(Math.abs(actual! - want), what).toBeLessThanOrEqual(TOLERANCE)
}

describe('Cityscapes evaluation against cityscapesScripts', () => {
  // The same predictions as label-id PNGs, as train-id PNGs, and as palette PNGs (mmseg's format).
  const variants: [string, string, CityscapesIdKind][] = [
    ['label ids', 'pred', 'label'],
    ['train ids', 'pred-train', 'train'],
    ['palette PNG label ids', 'pred-palette', 'label'],
  ]
  it.each(variants)('%s', async (_, predDir, predictionIds) => {
    const result = await evaluateCityscapesDirectories(join(root, 'gtFine'), join(root, predDir), {
      predictionIds,
    })
    expect(result.images).toBe(3)
    for (const c of result.classes) {
      close(c.iou, expected.classScores[c.name], `IoU ${c.name}`)
      close(c.iiou, expected.classInstScores[c.name], `iIoU ${c.name}`)
    }
    close(result.mIoU, expected.averageScoreClasses, 'mIoU')
    close(result.iIoU, expected.averageScoreInstClasses, 'iIoU')
    for (const c of result.categories) {
      close(c.iou, expected.categoryScores[c.name], `category IoU ${c.name}`)
      close(c.iiou, expected.categoryInstScores[c.name], `category iIoU ${c.name}`)
    }
    close(result.categoryMIoU, expected.averageScoreCategories, 'category mIoU')
    close(result.categoryIIoU, expected.averageScoreInstCategories, 'category iIoU')
    // Train ids fold every ignored label into 255 ('unlabeled'), so only the evaluated part of the
    // script's label-id matrix survives that round trip; it is all the scores depend on.
    const evaluated = LABEL_BY_ID.filter((l) => !l.ignoreInEval)
    const ignored = LABEL_BY_ID.filter((l) => l.ignoreInEval)
    expect(result.confusionMatrix).toEqual(
      evaluated.map((g) => evaluated.map((p) => expected.confMatrix[g.id]![p.id])),
    )
    expect(result.predictedIgnored).toEqual(
      evaluated.map((g) => ignored.reduce((sum, p) => sum + expected.confMatrix[g.id]![p.id]!, 0)),
    )
    if (predictionIds === 'label') expect(result.labelConfusionMatrix).toEqual(expected.confMatrix)
    // Per-image IoU is the script run on that image alone.
    for (const image of result.perImage) {
      const want = expected.perImage.find((p) => p.stem === image.name)!
      close(image.mIoU, want.averageScoreClasses, `${image.name} mIoU`)
      result.classes.forEach((c, i) =>
        close(image.classIoU[i]!, want.classScores[c.name], `${image.name} ${c.name}`),
      )
    }
    expect(formatCityscapesTables(result)).toBe(expected.printed)
  })

  it('covers what the case is meant to cover', async () => {
    const result = await evaluateCityscapesDirectories(join(root, 'gtFine'), join(root, 'pred'))
    const byName = Object.fromEntries(result.classes.map((c) => [c.name, c]))
    expect(byName.train!.iou).toBe(0) // only in predictions
    expect(byName.wall!.iou).toBeNull() // in neither
    expect(byName.person!.iiou).not.toBeNull() // instances
    const ignoredGt = LABEL_BY_ID.filter((l) => l.ignoreInEval).map((l) => l.id)
    const ignoredPixels = ignoredGt.reduce(
      (s, id) => s + expected.confMatrix[id]!.reduce((a, b) => a + b, 0),
      0,
    )
    expect(ignoredPixels).toBeGreaterThan(0)
    // The 19x19 matrix plus predicted-ignore pixels account for every evaluated pixel.
    const counted =
      result.confusionMatrix.flat().reduce((a, b) => a + b, 0) +
      result.predictedIgnored.reduce((a, b) => a + b, 0)
    expect(counted + ignoredPixels).toBe(result.pixels)
  })
})

describe('label PNG decoding', () => {
  it('reads 16-bit instanceIds values (not rescaled to 8 bits)', async () => {
    const file = join(root, 'gtFine/val/lindau/lindau_000000_000019_gtFine_instanceIds.png')
    const image = await decodeLabelPng(readFileSync(file), file)
    expect(image.data).toBeInstanceOf(Uint16Array)
    const values = new Set(image.data)
    expect(values.has(24001)).toBe(true)
    expect(values.has(26002)).toBe(true)
  })

  it('reads palette PNGs as their indices', async () => {
    const a = join(root, 'pred/lindau/lindau_000001_000019_leftImg8bit.png')
    const b = join(root, 'pred-palette/lindau_000001_000019_leftImg8bit.png')
    const grey = await decodeLabelPng(readFileSync(a), a)
    const palette = await decodeLabelPng(readFileSync(b), b)
    expect(Array.from(palette.data)).toEqual(Array.from(grey.data))
  })

  it('writes label PNGs that read back identically', async () => {
    const data = Uint8Array.from({ length: 35 * 7 }, (_, i) => i % 34)
    const png = await encodeLabelPng(data, 35, 7)
    const back = await decodeLabelPng(png, 'roundtrip.png')
    expect(Array.from(back.data)).toEqual(Array.from(data))
  })

  it.each([
    ['lindau_000000_000019_gtFine_labelIds.png', 'lindau_000000_000019'],
    ['frankfurt_000000_000294_leftImg8bit.png', 'frankfurt_000000_000294'],
    ['img_0001.png', null],
    ['0001.png', null],
  ])('stem of %s', (name, stem) => {
    expect(cityscapesStem(name)).toBe(stem)
  })
})

describe('Cityscapes bad input', () => {
  const work = mkdtempSync(join(tmpdir(), 'gcstudio-cityscapes-'))
  afterAll(() => rmSync(work, { recursive: true, force: true }))
  const gtDir = join(root, 'gtFine')

  async function predictionsWith(
    name: string,
    change: (dir: string) => Promise<void> | void,
  ): Promise<string> {
    const dir = join(work, name)
    mkdirSync(dir, { recursive: true })
    cpSync(join(root, 'pred'), dir, { recursive: true })
    await change(dir)
    return dir
  }
  const first = 'lindau/lindau_000001_000019_leftImg8bit.png'

  it.each([
    [
      'a truncated PNG',
      'EVAL_BAD_PNG',
      /lindau_000001_000019_leftImg8bit\.png/,
      (dir: string) => {
        const file = join(dir, first)
        writeFileSync(file, readFileSync(file).subarray(0, 120))
      },
    ],
    [
      'a prediction of the wrong size',
      'EVAL_IMAGE_SIZE',
      /lindau_000001_000019_leftImg8bit\.png: prediction is 40x32/,
      async (dir: string) => {
        writeFileSync(
          join(dir, first),
          await encodeLabelPng(new Uint8Array(40 * 32).fill(7), 40, 32),
        )
      },
    ],
    [
      'a prediction with an id outside the label set',
      'EVAL_LABEL_OUT_OF_SET',
      /prediction has value 40 at \(x=5, y=0\), not a label id/,
      async (dir: string) => {
        const data = new Uint8Array(48 * 32).fill(7)
        data[5] = 40
        writeFileSync(join(dir, first), await encodeLabelPng(data, 48, 32))
      },
    ],
    [
      'an RGB prediction',
      'EVAL_BAD_PNG',
      /has 3 channels/,
      async (dir: string) => {
        const rgb = await sharp(Buffer.alloc(48 * 32 * 3, 7), {
          raw: { width: 48, height: 32, channels: 3 },
        })
          .png()
          .toBuffer()
        writeFileSync(join(dir, first), rgb)
      },
    ],
    [
      'a missing prediction',
      'EVAL_PAIRING',
      /Found no prediction for ground truth .*lindau_000001_000019_gtFine_labelIds\.png/,
      (dir: string) => rmSync(join(dir, first)),
    ],
    [
      'two predictions for one image',
      'EVAL_PAIRING',
      /Found 2 predictions/,
      (dir: string) => cpSync(join(dir, first), join(dir, 'lindau/lindau_000001_000019_other.png')),
    ],
  ])('%s is named in the error', async (name, code, message, change) => {
    const dir = await predictionsWith(name.replace(/ /g, '-'), change)
    await expect(evaluateCityscapesDirectories(gtDir, dir)).rejects.toMatchObject({
      reason: code,
      message: expect.stringMatching(message),
    })
  })

  it('train-id predictions reject label ids that are not train ids', async () => {
    const accumulator = new CityscapesAccumulator({ predictionIds: 'train' })
    const gt = { width: 2, height: 1, data: Uint8Array.from([7, 7]) }
    expect(() =>
      accumulator.add({
        name: 'x',
        groundTruth: gt,
        instances: null,
        prediction: { width: 2, height: 1, data: Uint8Array.from([0, 33]) },
      }),
    ).toThrowError(/not a train id \(0-18 or 255\)/)
    // Nothing of the failed image was counted.
    expect(accumulator.finish().pixels).toBe(0)
  })
})
