// The studio on every model the zoo ships (models/manifest.json), with nothing known about any
// of them in advance: each is imported as a user would import it (an mmdeploy folder, or an
// .onnx with its sidecar), and what the studio finds by itself is checked against what the
// recipe that built the model recorded:
// - the format, and every GC block with its stage, channels, bottleneck and ratio;
// - FLOPs counted from the graph equal to the recipe's count from the PyTorch modules;
// - the studio's whole path (decode, preprocessing, onnxruntime, output adapter, label mapping)
//   gives the PyTorch model's detections / label maps on the recipe's reference images;
// - tapping every GC block's attention changes none of the model's own results.
import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { packageRoot } from '../../../src-main/core/paths'
import { openStore, type Db } from '../../../src-main/core/store/store'
import { addModel, type ModelRecord } from '../../../src-main/core/models/registry'
import { buildLabelTable } from '../../../src-main/core/inference/labels'
import { decodeImage, ModelRunner } from '../../../src-main/core/inference/runner'
import { tappedModelPath } from '../../../src-main/core/inference/runs'
import type { ItemResult } from '../../../src-main/core/inference/protocol'
import { tempDir } from '../../helpers/fixtures'
import { readReferenceArray, type ArrayRef } from '../../helpers/zooReference'

const root = packageRoot()

interface ZooModel {
  id: string
  task: string
  format: string
  onnx: { path: string; layerNorm: string; outputs: { name: string; shape: (number | string)[] }[] }
  classes: { label?: number; trainId?: number; categoryId?: number; labelId?: number }[]
  gc: { ratio: number; blocks: { stage: string; channels: number; hidden: number }[] } | null
  flops: { macs: number; input: number[] }
  preprocessing: { inGraph?: { minSize: number; maxSize: number; sizeDivisible: number } }
  reference: string
}
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'models/manifest.json'), 'utf8')) as {
  models: ZooModel[]
}
const cocoCategories = (
  JSON.parse(
    fs.readFileSync(path.join(root, 'resources/demo/coco/annotations/instances_val.json'), 'utf8'),
  ) as { categories: { id: number; name: string }[] }
).categories

/** The format name the studio should arrive at, from what the recipe says it exported. */
function expectedFormat(m: ZooModel): string {
  if (m.format === 'mmdeploy-mmdet-end2end') return 'mmdeploy-instance-seg'
  if (m.format === 'torchvision-maskrcnn') return 'torchvision-instance-seg'
  return m.onnx.outputs[0]!.shape[1] === 1 ? 'mmseg-argmax' : 'mmseg-logits'
}

/** What a user points the studio at: the export folder for mmdeploy, else the .onnx file. */
const importPath = (m: ZooModel) =>
  m.format.startsWith('mmdeploy')
    ? path.dirname(path.join(root, m.onnx.path))
    : path.join(root, m.onnx.path)

interface Case {
  image: string
  outputs: Record<string, ArrayRef>
}

let db: Db
let dataDir: string
beforeAll(() => {
  dataDir = tempDir('gcstudio-zoo-')
  db = openStore(dataDir)
})
afterAll(() => db?.close())

describe.each(manifest.models.map((m) => [m.id, m] as const))('%s', (_id, zm) => {
  let model: ModelRecord
  const cases = (
    JSON.parse(fs.readFileSync(path.join(root, zm.reference), 'utf8')) as { cases: Case[] }
  ).cases
  const refDir = path.dirname(path.join(root, zm.reference))
  const semantic = zm.task === 'semantic-segmentation'

  beforeAll(() => {
    model = addModel(db, importPath(zm)).model
  })

  it('is recognised by its format and GC blocks, found from the graph alone', () => {
    expect(model.format).toBe(expectedFormat(zm))
    const blocks = model.card.gcBlocks
    const want = zm.gc?.blocks ?? []
    expect(blocks.map((b) => [b.channels, b.hidden])).toEqual(
      want.map((b) => [b.channels, b.hidden]),
    )
    if (zm.gc) {
      expect(blocks.every((b) => b.ratio === 1 / zm.gc!.ratio)).toBe(true)
      expect(model.card.gcRatioLabel).toBe(`r${1 / zm.gc.ratio}`)
      expect(
        blocks.every(
          (b) =>
            (b.layerNorm === 'LayerNormalization') === (zm.onnx.layerNorm === 'LayerNormalization'),
        ),
      ).toBe(true)
      // Backbone blocks carry their stage; a head block has none in the recipe's terms.
      const stages = want.map((b) => (b.stage === 'head' ? undefined : b.stage))
      blocks.forEach((b, i) => stages[i] && expect(b.stage).toBe(stages[i]))
    } else {
      expect(model.card.gcRatioLabel).toBeNull()
    }
  })

  it("counts the recipe's FLOPs from the graph", () => {
    // A graph that resizes inside itself (torchvision) is measured at an image size: the
    // network sees it rescaled to its min/max size and padded, as the recipe records.
    let [h, w] = model.card.flopsInput
    const ig = zm.preprocessing.inGraph
    if (ig) {
      const f = Math.min(ig.minSize / Math.min(h, w), ig.maxSize / Math.max(h, w))
      const pad = (v: number) => Math.ceil(Math.floor(v * f) / ig.sizeDivisible) * ig.sizeDivisible
      ;[h, w] = [pad(h), pad(w)]
    }
    // Every shipped model is measured at the recipe's size: compare the sizes, then the counts.
    expect([h, w]).toEqual(zm.flops.input.slice(2))
    expect(model.card.flops).toBe(zm.flops.macs)
  })

  const runAll = async (taps: boolean): Promise<ItemResult[]> => {
    const tapped = taps && model.card.gcBlocks.length ? tappedModelPath(dataDir, model) : null
    const table = semantic
      ? buildLabelTable(model.config, [], 'cityscapes')
      : buildLabelTable(model.config, cocoCategories, 'coco')
    const runner = await ModelRunner.create(
      tapped?.file ?? model.path,
      model.config,
      tapped?.taps ?? null,
      'cpu',
      1,
      table,
    )
    const out: ItemResult[] = []
    for (const [i, c] of cases.entries()) {
      const file = path.join(root, c.image)
      const meta = await sharp(file).metadata()
      const item = {
        imageId: i,
        file,
        width: meta.width,
        height: meta.height,
        applyOrientation: false,
      }
      out.push(await runner.run(item, await decodeImage(item)))
    }
    await runner.session.release()
    return out
  }

  let plain: ItemResult[]
  it('gives what the PyTorch model gave, through the studio pipeline', async () => {
    plain = await runAll(false)
    for (const [i, c] of cases.entries()) {
      const r = plain[i]!
      const ref = (name: string) => Array.from(readReferenceArray(refDir, c.outputs[name]!))
      if (semantic) {
        const { data, info } = await sharp(Buffer.from(r.semanticPng!))
          .raw()
          .toBuffer({ resolveWithObject: true })
        const labelIdOf = new Map(zm.classes.map((k) => [k.trainId!, k.labelId!]))
        const spec = c.outputs.output!
        const stride = spec.sampleStride ?? 1
        const values = ref('output')
        const [sh, sw] = spec.shape.slice(-2) as [number, number]
        const planes = spec.shape.length === 4 ? spec.shape[1]! : 1
        let bad = 0
        for (let y = 0; y < sh; y++)
          for (let x = 0; x < sw; x++) {
            let trainId = 0
            if (planes === 1) trainId = values[y * sw + x]!
            else {
              // Logits: the class the PyTorch model scored highest at this sampled pixel.
              let best = -Infinity
              for (let k = 0; k < planes; k++) {
                const v = values[(k * sh + y) * sw + x]!
                if (v > best) [best, trainId] = [v, k]
              }
            }
            const got = data[(y * stride * info.width + x * stride) * info.channels]
            if (got !== labelIdOf.get(trainId)) bad++
          }
        // Argmax ties on class boundaries (fp16 logits, float error) are the only slack.
        expect(bad / (sh * sw), `${c.image}: pixels off`).toBeLessThanOrEqual(
          planes > 1 ? 0.01 : 0.001,
        )
        continue
      }
      const categoryOf = new Map(zm.classes.map((k) => [k.label!, k.categoryId!]))
      let boxes: number[][]
      let scores: number[]
      let labels: number[]
      if (c.outputs.dets) {
        const d = ref('dets')
        const n = c.outputs.dets.shape[1]!
        boxes = Array.from({ length: n }, (_, j) => d.slice(j * 5, j * 5 + 4))
        scores = Array.from({ length: n }, (_, j) => d[j * 5 + 4]!)
        labels = ref('labels')
      } else {
        const b = ref('boxes')
        scores = ref('scores')
        boxes = scores.map((_, j) => b.slice(j * 4, j * 4 + 4))
        labels = ref('labels')
      }
      const keep = scores.map((s, j) => j).filter((j) => scores[j]! >= model.config.scoreThreshold)
      const dets = r.detections!
      expect(
        dets.map((d) => d.categoryId),
        c.image,
      ).toEqual(keep.map((j) => categoryOf.get(labels[j]!)))
      dets.forEach((d, k) => {
        const [x1, y1, x2, y2] = boxes[keep[k]!]!
        const want = [x1!, y1!, x2! - x1!, y2! - y1!]
        d.bbox.forEach((v, q) => expect(Math.abs(v - want[q]!)).toBeLessThan(0.01))
        expect(Math.abs(d.score - scores[keep[k]!]!)).toBeLessThan(2e-3)
        expect(d.maskRle).not.toBeNull()
        expect(d.area).toBeGreaterThan(0)
        expect(d.area).toBeLessThanOrEqual(Math.ceil(want[2]! + 1) * Math.ceil(want[3]! + 1))
      })
    }
  })

  it('returns every GC block’s attention with taps on, and the same results', async () => {
    const tapped = await runAll(true)
    for (const [i, r] of tapped.entries()) {
      const p = plain[i]!
      expect(r.detections).toEqual(p.detections)
      expect(r.semanticPng).toEqual(p.semanticPng)
      expect(p.attention).toBeNull()
      if (!model.card.gcBlocks.length) {
        expect(r.attention).toBeNull()
        continue
      }
      expect(r.attention!.map((a) => a.block)).toEqual(model.card.gcBlocks.map((b) => b.index))
      for (const a of r.attention!) {
        expect(a.data.length).toBe(a.height * a.width)
        expect(a.min).toBeGreaterThanOrEqual(0)
        expect(a.max).toBeGreaterThan(a.min)
        // Softmax over H*W: the largest weight is at least the uniform one.
        expect(a.max).toBeGreaterThanOrEqual(1 / (a.height * a.width))
        expect(a.transform!.length).toBe(model.card.gcBlocks[a.block]!.channels)
      }
    }
  })
})
