import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  detectFormat,
  formats,
  formatSpec,
  tensorInfo,
} from '../../../src-main/core/models/formats'
import { decodeModel, Graph } from '../../../src-main/core/models/onnx'
import { mmsegModel, torchvisionDetector } from '../../helpers/onnxGraphs'

const root = path.join(import.meta.dirname, '../../..')
const fromFile = (rel: string) =>
  new Graph(decodeModel(fs.readFileSync(path.join(root, rel)), rel).graph)
const fromBytes = (bytes: Uint8Array) => new Graph(decodeModel(bytes, 'generated').graph)

describe('model formats, one module each', () => {
  const cases: [string, Graph, string][] = [
    [
      'the zoo mmdeploy Mask R-CNN',
      fromFile('models/mask-rcnn-gc-r4/end2end.onnx'),
      'mmdeploy-instance-seg',
    ],
    [
      'the zoo torchvision Mask R-CNN',
      fromFile('models/mask-rcnn-gc-r4-torchvision/model.onnx'),
      'torchvision-instance-seg',
    ],
    ['the zoo mmseg argmax export', fromFile('models/gc-head/end2end.onnx'), 'mmseg-argmax'],
    ['the zoo mmseg logits export', fromFile('models/gc-head-logits/end2end.onnx'), 'mmseg-logits'],
    [
      'a torchvision detector without masks',
      fromBytes(torchvisionDetector({})),
      'torchvision-detection',
    ],
    [
      'a 40-class mmseg logits export',
      fromBytes(mmsegModel({ classes: 40, cls: 1 })),
      'mmseg-logits',
    ],
  ]
  for (const [what, g, id] of cases) {
    it(`${what} is recognised by exactly one format: ${id}`, () => {
      const outs = g.proto.output.map(tensorInfo)
      expect(formats.filter((f) => f.recognises(outs)).map((f) => f.id)).toEqual([id])
      expect(detectFormat(g)).toBe(id)
    })
  }

  it('each format says its task, defaults and class count', () => {
    expect(formats.map((f) => [f.id, f.task])).toEqual([
      ['mmdeploy-instance-seg', 'instance_segmentation'],
      ['mmdeploy-detection', 'detection'],
      ['torchvision-instance-seg', 'instance_segmentation'],
      ['torchvision-detection', 'detection'],
      ['mmseg-argmax', 'semantic_segmentation'],
      ['mmseg-logits', 'semantic_segmentation'],
    ])
    const tv = formatSpec('torchvision-detection').defaults({ mmdeploy: null, staticHw: [96, 80] })
    expect(tv.preprocess.resize).toEqual({ mode: 'fixed', scale: [96, 80] })
    expect(tv.labelMapping).toBe('category-id')
    expect(
      formatSpec('mmseg-argmax').defaults({ mmdeploy: null, staticHw: null }).labelMapping,
    ).toBe('train-id')
    expect(
      formatSpec('mmseg-logits').classCount(fromBytes(mmsegModel({ classes: 40, cls: 1 }))),
    ).toBe(40)
    // Only torchvision's exports have a known "nothing detected" failure.
    const quirk =
      "Non-zero status code returned while running Reshape node. Name:'x' Status Message: The input tensor cannot be reshaped to the requested shape. Input shape:{0,4}, requested shape:{0,-1}"
    expect(formats.filter((f) => f.emptyResultFailure?.(quirk)).map((f) => f.id)).toEqual([
      'torchvision-instance-seg',
      'torchvision-detection',
    ])
    expect(
      formatSpec('torchvision-detection').emptyResultFailure!(
        'Got invalid dimensions for input: image for the following indices index: 1 Got: 48 Expected: 80',
      ),
    ).toBe(false)
  })
})
