/**
 * Cityscapes label maps: painting stores new map versions (the files on disk are never
 * written), instances and per-class pixel counts follow, undo gives back the exact rows, the
 * export writes the painted PNGs, and the evaluation scores the painted map.
 */
import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Evaluation, EvaluationDetail, Model } from '../../../src-main/common/api'
import type { EditResult, LabelImageState } from '../../../src-main/common/api/labels'
import { Studio } from '../../../src-main/core/studio'
import { makeCityscapesFixture, tempDir, type CityscapesFixture } from '../../helpers/fixtures'
import { call, groundTruthRows, imageIds } from './helpers'

const onnxDir = path.join(import.meta.dirname, '../../fixtures/onnx')
let studio: Studio
let fx: CityscapesFixture
let datasetId: number
let frame1: number
let frame2: number

const gtFile = (frame: string, kind: 'labelIds' | 'instanceIds') =>
  path.join(fx.root, 'gtFine', 'val', 'testcity', `${frame}_gtFine_${kind}.png`)

async function pixels(file: string, depth: 8 | 16): Promise<number[]> {
  const img = sharp(file)
  if (depth === 16) {
    const { data } = await img
      .toColourspace('grey16')
      .raw({ depth: 'ushort' })
      .toBuffer({ resolveWithObject: true })
    return Array.from(new Uint16Array(data.buffer, data.byteOffset, data.length / 2))
  }
  return Array.from(await img.extractChannel(0).raw().toBuffer())
}

beforeAll(async () => {
  studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
  fx = await makeCityscapesFixture()
  const job = studio.jobs.startImport({ kind: 'cityscapes', root: fx.root, split: 'val' })
  datasetId = (await studio.jobs.settled(job.id)).datasetId!
  ;[frame1, frame2] = imageIds(studio.db, datasetId) as [number, number]
})
afterAll(async () => studio.close())

describe('painting Cityscapes label maps', () => {
  it('paints a new car instance, keeps instance ids consistent, and undo restores every row', async () => {
    const original = groundTruthRows(studio.db, datasetId)
    const files = [gtFile(fx.frames[0]!, 'labelIds'), gtFile(fx.frames[0]!, 'instanceIds')]
    const onDisk = files.map((f) => fs.readFileSync(f))
    // A car drawn as a filled polygon over the road of frame 1, a new instance (k = 2 after 26001).
    const r = await call<EditResult>(studio, 'labels:paint', {
      imageId: frame1,
      tool: 'polygon',
      labelId: 26,
      points: [40, 28, 56, 28, 56, 32, 40, 32],
    })
    expect(r.image.editedLabelMap).toBe(true)
    expect(r.image.gtVersion).toBe(2)
    const cars = r.image.annotations.filter((a) => a.categoryId === 26 && !a.iscrowd)
    expect(cars.map((a) => a.bbox)).toEqual([
      [4, 18, 16, 10],
      [40, 28, 16, 4],
    ])
    expect(cars[1]!.area).toBe(64)
    // The files on disk are untouched.
    expect(files.map((f) => fs.readFileSync(f))).toEqual(onDisk)
    // The export writes the painted maps; frame 2's are the original files.
    const out = tempDir()
    const done = await call<{ files: number; version: number }>(studio, 'labels:exportGt', {
      datasetId,
      format: 'cityscapes',
      out,
    })
    expect(done).toMatchObject({ files: 4, version: 2 })
    const rel = (frame: string, kind: string) =>
      path.join(out, 'gtFine', 'val', 'testcity', `${frame}_gtFine_${kind}.png`)
    const labels = await pixels(rel(fx.frames[0]!, 'labelIds'), 8)
    const inst = await pixels(rel(fx.frames[0]!, 'instanceIds'), 16)
    const at = (x: number, y: number) => [labels[y * 64 + x], inst[y * 64 + x]]
    expect([at(41, 29), at(55, 31), at(39, 29), at(10, 20), at(20, 5)]).toEqual([
      [26, 26002],
      [26, 26002],
      [7, 7],
      [26, 26001],
      [23, 23],
    ])
    expect(fs.readFileSync(rel(fx.frames[1]!, 'labelIds'))).toEqual(
      fs.readFileSync(gtFile(fx.frames[1]!, 'labelIds')),
    )
    // Pixel counts: road lost the 64 pixels the car took.
    const classes = (
      await call<{ classes: { categoryId: number; pixelCount: number }[] }>(studio, 'images:get', {
        id: frame1,
      })
    ).classes
    const before = JSON.parse(JSON.stringify(original)) as string[]
    expect(classes.find((c) => c.categoryId === 7)!.pixelCount).toBe(
      Number(before.find((x) => x.startsWith(`ic ${frame1},7,`))!.split(',')[3]) - 64,
    )
    // The eraser paints "unlabeled"; then two undos give back every row byte for byte.
    const erased = await call<EditResult>(studio, 'labels:paint', {
      imageId: frame1,
      tool: 'eraser',
      points: [10, 22],
      radius: 2,
    })
    expect(erased.operation!.summary).toMatch(/^Painted the label map; changed shape of/)
    await call(studio, 'labels:undo', { imageId: frame1 })
    const back = await call<EditResult>(studio, 'labels:undo', { imageId: frame1 })
    expect(back.image.editedLabelMap).toBe(false)
    expect(groundTruthRows(studio.db, datasetId)).toEqual(original)
    const redone = await call<EditResult>(studio, 'labels:redo', { imageId: frame1 })
    expect(redone.image.annotations.filter((a) => a.categoryId === 26).length).toBe(3)
  })

  it('refuses shape edits of Cityscapes instances and paints only known label ids', async () => {
    const s = await call<LabelImageState>(studio, 'labels:image', { imageId: frame2 })
    const r = await studio.dispatch('labels:edit', {
      imageId: frame2,
      changes: [{ op: 'create', categoryId: 26, bbox: [1, 1, 4, 4] }],
    })
    expect(r.ok ? null : r.error.message).toMatch(/paint the label map/)
    const bad = await studio.dispatch('labels:paint', {
      imageId: frame2,
      tool: 'brush',
      labelId: 99,
      points: [3, 3],
    })
    expect(bad.ok ? null : bad.error.message).toBe('99 is not a Cityscapes label id.')
    expect(s.annotations).toHaveLength(0)
  })

  it('the evaluation scores the painted map, at the new version', async () => {
    const { model } = await call<{ model: Model }>(studio, 'models:add', {
      path: path.join(onnxDir, 'mmseg_argmax.onnx'),
    })
    const run = await call<{ id: number }>(studio, 'runs:start', { modelId: model.id, datasetId })
    await studio.runs.idle()
    const sky = async () => {
      const [e] = await call<Evaluation[]>(studio, 'evaluations:run', { runId: run.id })
      const d = await call<EvaluationDetail>(studio, 'evaluations:get', { id: e!.id })
      return { version: e!.gtVersion, iou: (d.metrics!.perClass as Record<string, number>)['10']! }
    }
    const first = await sky()
    // The model says sky everywhere: painting frame 2's building row sky adds exactly the
    // painted pixels to sky's true positives (the evaluated pixel count stays).
    const painted = await call<EditResult>(studio, 'labels:paint', {
      imageId: frame2,
      tool: 'polygon',
      labelId: 23,
      points: [0, 0, 64, 0, 64, 4, 0, 4],
    })
    expect(painted.image.gtVersion).toBeGreaterThan(first.version)
    const second = await sky()
    expect(second.version).toBe(painted.image.gtVersion)
    const evaluated = 2 * 64 * 32 - 2 * 32
    expect(second.iou - first.iou).toBeCloseTo((64 * 4) / evaluated, 12)
    // "Label with model" on frame 2: the segmenter's map (sky everywhere) replaces the labels,
    // one undoable operation; undo gives the painted map back.
    const byModel = await call<EditResult>(studio, 'labels:labelWithModel', {
      modelId: model.id,
      imageId: frame2,
    })
    expect(byModel.operation!.source).toBe('prediction')
    const pixelsOf = async () =>
      (
        await call<{ classes: { categoryId: number; pixelCount: number }[] }>(
          studio,
          'images:get',
          { id: frame2 },
        )
      ).classes.map((c) => [c.categoryId, c.pixelCount])
    expect(await pixelsOf()).toEqual([[23, 64 * 32]])
    await call(studio, 'labels:undo', { imageId: frame2 })
    expect(await pixelsOf()).toEqual([
      [7, 64 * 16],
      [11, 64 * 12],
      [23, 64 * 4],
    ])

    // Deleting the dataset takes its edits, painted maps and versions along.
    // Hidden at once, removed by a background job.
    const removal = (await call(studio, 'datasets:delete', { id: datasetId })) as {
      deleted: boolean
      jobId: string
    }
    expect(removal.deleted).toBe(true)
    expect((await studio.jobs.settled(removal.jobId)).state).toBe('done')
    for (const t of [
      'label_operations',
      'label_maps',
      'label_map_edits',
      'annotation_edits',
      'gt_versions',
    ])
      expect(studio.db.prepare(`SELECT count(*) AS n FROM ${t}`).get()).toEqual({ n: 0 })
  })
})
