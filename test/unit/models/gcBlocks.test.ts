import fs from 'node:fs'
import path from 'node:path'
import ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { buildCard } from '../../../src-main/core/models/card'
import { findGcBlocks } from '../../../src-main/core/models/gcBlocks'
import { decodeModel, Graph, readModelFile } from '../../../src-main/core/models/onnx'
import { tapModel } from '../../../src-main/core/models/taps'
import { tempDir } from '../../helpers/fixtures'

const dir = path.join(import.meta.dirname, '../../fixtures/onnx')
const stages = ['c3', 'c3', 'c4', 'c4', 'c4', 'c5']

// One row per fixture: what the card must say, found from the graph's structure alone.
const cases: {
  file: string
  opset: number
  blocks: number
  ratio?: number
  label?: string | null
  fusion?: string[]
  layerNorm?: string
  hidden?: number[]
}[] = [
  {
    file: 'gc_r16_opset17.onnx',
    opset: 17,
    blocks: 6,
    ratio: 16,
    label: 'r16',
    fusion: ['channel_add'],
    layerNorm: 'LayerNormalization',
    hidden: [2, 2, 4, 4, 4, 6],
  },
  {
    file: 'gc_r16_opset11_dynamic.onnx',
    opset: 11,
    blocks: 6,
    ratio: 16,
    label: 'r16',
    fusion: ['channel_add'],
    layerNorm: 'decomposed',
    hidden: [2, 2, 4, 4, 4, 6],
  },
  {
    file: 'gc_r4_add_mul_opset13.onnx',
    opset: 13,
    blocks: 6,
    ratio: 4,
    label: 'r4',
    fusion: ['channel_add', 'channel_mul'],
    layerNorm: 'decomposed',
    hidden: [8, 8, 16, 16, 16, 24],
  },
  { file: 'se_opset11.onnx', opset: 11, blocks: 0, label: null },
  { file: 'nonlocal_opset11.onnx', opset: 11, blocks: 0, label: null },
  { file: 'plain_opset11.onnx', opset: 11, blocks: 0, label: null },
]

describe('model card and GC blocks from the graph', () => {
  for (const c of cases) {
    it(`${c.file}: ${c.blocks} GC blocks${c.label ? ` (${c.label})` : ''}`, () => {
      const { model } = readModelFile(path.join(dir, c.file))
      const { card } = buildCard(model)
      expect(card.opset).toBe(c.opset)
      expect(card.gcBlocks).toHaveLength(c.blocks)
      expect(card.gcRatioLabel).toBe(c.label)
      if (c.blocks === 0) return
      expect(card.gcBlocks.map((b) => b.stage)).toEqual(stages)
      expect(card.gcBlocks.map((b) => b.indexInStage)).toEqual([0, 1, 0, 1, 2, 0])
      expect(card.gcBlocks.map((b) => b.channels)).toEqual([32, 32, 64, 64, 64, 96])
      expect(card.gcBlocks.map((b) => b.hidden)).toEqual(c.hidden)
      expect(card.gcBlocks.every((b) => b.ratio === c.ratio && b.layerNorm === c.layerNorm)).toBe(
        true,
      )
      expect(card.gcBlocks[0]!.fusion).toEqual(c.fusion)
    })
  }

  it('counts parameters and estimates FLOPs; GC blocks add few FLOPs', () => {
    const plain = buildCard(readModelFile(path.join(dir, 'plain_opset11.onnx')).model).card
    const gc = buildCard(readModelFile(path.join(dir, 'gc_r16_opset17.onnx')).model).card
    // Static input 64x96: the stem conv alone is 16*3*3*3 weights over a 32x48 output.
    expect(plain.flopsInput).toEqual([64, 96])
    expect(plain.flops).toBeGreaterThan(16 * 27 * 32 * 48)
    // GC r16 on every block: more parameters, a small FLOPs increase (the paper: ~0.3% on R-50).
    expect(gc.params).toBeGreaterThan(plain.params)
    expect(gc.flops / plain.flops).toBeGreaterThan(1)
    expect(gc.flops / plain.flops).toBeLessThan(1.1)
    // Attention maps: the feature size at each stage (stride 8, 16, 32 of 64x96).
    expect(gc.gcBlocks.map((b) => b.attentionSize)).toEqual([
      [8, 12],
      [8, 12],
      [4, 6],
      [4, 6],
      [4, 6],
      [2, 3],
    ])
  })

  it('says an unsupported model has no adapter, listing its outputs and the expected ones', () => {
    const { card } = buildCard(readModelFile(path.join(dir, 'plain_opset11.onnx')).model)
    expect(card.format).toBeNull()
    expect(card.formatError).toMatch(
      /outputs \(probs float32\[1,10\]\) match no supported format\. Expected one of: dets/,
    )
  })

  it('rejects a file that is not ONNX and a truncated ONNX with the file named', () => {
    const tmp = tempDir()
    const notOnnx = path.join(tmp, 'model.onnx')
    fs.writeFileSync(notOnnx, 'this is a text file, not a model')
    expect(() => readModelFile(notOnnx)).toThrow(/model\.onnx is not an ONNX model/)
    const bytes = fs.readFileSync(path.join(dir, 'gc_r16_opset17.onnx'))
    expect(() => decodeModel(bytes.subarray(0, bytes.length - 1000), 'cut.onnx')).toThrow(
      /cut\.onnx is not an ONNX model or is truncated/,
    )
  })
})

describe('attention taps', () => {
  for (const file of [
    'gc_r16_opset17.onnx',
    'gc_r16_opset11_dynamic.onnx',
    'gc_r4_add_mul_opset13.onnx',
  ]) {
    it(`${file}: taps every block without changing the model's own output`, async () => {
      const { bytes, model } = readModelFile(path.join(dir, file))
      const blocks = findGcBlocks(new Graph(model.graph))
      const { bytes: tapped, taps } = tapModel(bytes, model, blocks)
      const plain = await ort.InferenceSession.create(bytes)
      const withTaps = await ort.InferenceSession.create(tapped)
      const x = new ort.Tensor(
        'float32',
        Float32Array.from({ length: 3 * 64 * 96 }, (_, i) => Math.sin(i * 0.37)),
        [1, 3, 64, 96],
      )
      const a = await plain.run({ input: x })
      const b = await withTaps.run({ input: x })
      expect(Array.from(b.probs!.data as Float32Array)).toEqual(
        Array.from(a.probs!.data as Float32Array),
      )
      expect(taps).toHaveLength(6)
      const sizes = [
        [8, 12],
        [8, 12],
        [4, 6],
        [4, 6],
        [4, 6],
        [2, 3],
      ]
      taps.forEach((t, i) => {
        const [h, w] = sizes[i]!
        expect(b[t.mask]!.dims).toEqual([1, 1, h, w])
        const att = b[t.attention]!.data as Float32Array
        expect(att.length).toBe(h! * w!)
        // A softmax over positions: non-negative weights summing to one.
        expect(att.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5)
        expect(Math.min(...att)).toBeGreaterThanOrEqual(0)
        expect(b[t.transform]!.dims).toEqual([1, [32, 32, 64, 64, 64, 96][i], 1, 1])
      })
    })
  }
})
