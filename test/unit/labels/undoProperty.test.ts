/**
 * Property: any sequence of edits, followed by as many undos, gives back the ground truth rows
 * byte for byte (annotations, per-image class counts, image and dataset counts). Sequences are
 * drawn from a seeded generator, so a failure names its seed and replays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LabelChange } from '../../../src-main/common/api/labels'
import { LabelEditor } from '../../../src-main/core/labels/editor'
import { Studio } from '../../../src-main/core/studio'
import { tempDir } from '../../helpers/fixtures'
import { H, W, groundTruthRows, imageIds, labelDataset } from './helpers'

let studio: Studio
let datasetId: number
let images: number[]

beforeAll(async () => {
  studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
  ;({ datasetId } = await labelDataset(studio))
  images = imageIds(studio.db, datasetId)
})
afterAll(async () => studio.close())

/** mulberry32: small, seedable, good enough to pick edits. */
function rng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomChange(editor: LabelEditor, imageId: number, r: () => number): LabelChange {
  const int = (n: number) => Math.floor(r() * n)
  const cat = [3, 17, 90][int(3)]!
  const rows = editor.store.imageAnnotations(imageId)
  const live = rows.filter((x) => x.deleted === 0)
  const dead = rows.filter((x) => x.deleted === 1)
  const polygon = () => {
    const x = int(W - 12)
    const y = int(H - 12)
    return [x, y, x + 4 + int(8), y + r() * 3, x + 2 + int(9), y + 5 + int(7)]
  }
  const pick = int(8)
  if (pick === 0 || live.length === 0) {
    const shape = int(3)
    if (shape === 0)
      return { op: 'create', categoryId: cat, bbox: [int(50), int(30), int(10), r() * 9] }
    if (shape === 1)
      return {
        op: 'create',
        categoryId: cat,
        segmentation: { kind: 'polygon', polygons: [polygon()] },
      }
    const start = int(W * H - 20)
    const len = 1 + int(19)
    return {
      op: 'create',
      categoryId: cat,
      iscrowd: r() < 0.5,
      segmentation: { kind: 'rle', size: [H, W], counts: [start, len, W * H - start - len] },
    }
  }
  if (pick === 7 && dead.length > 0) {
    const a = dead[int(dead.length)]!
    return { op: 'restore', annotationId: a.id, revision: editor.store.revision(a.id) }
  }
  const a = live[int(live.length)]!
  const revision = editor.store.revision(a.id)
  switch (pick) {
    case 1:
      return { op: 'update', annotationId: a.id, revision, categoryId: cat }
    case 2:
      return { op: 'update', annotationId: a.id, revision, iscrowd: a.iscrowd === 0 }
    case 3:
      return a.segm_kind === 'rle'
        ? { op: 'update', annotationId: a.id, revision, categoryId: cat }
        : {
            op: 'update',
            annotationId: a.id,
            revision,
            bbox: [int(40), int(20), 1 + int(20), 1 + int(20)],
          }
    case 4:
      return {
        op: 'update',
        annotationId: a.id,
        revision,
        segmentation: { kind: 'polygon', polygons: [polygon(), polygon()] },
      }
    default:
      return { op: 'delete', annotationId: a.id, revision }
  }
}

describe('undo restores the ground truth byte for byte', () => {
  it.each([...Array(24)].map((_, i) => 1000 + i))('seed %i: n edits then n undos', (seed) => {
    const editor = new LabelEditor(studio.db)
    const original = groundTruthRows(studio.db, datasetId)
    const r = rng(seed)
    const n = 1 + Math.floor(r() * 20)
    const order: number[] = []
    for (let i = 0; i < n; i++) {
      const imageId = images[Math.floor(r() * images.length)]!
      // Several changes in one edit sometimes (one undo step for all of them).
      const k = r() < 0.2 ? 2 : 1
      const changes: LabelChange[] = []
      for (let j = 0; j < k; j++) {
        const c = randomChange(editor, imageId, r)
        // Two changes of one annotation in one edit would name a revision the first one ends.
        if (
          c.op !== 'create' &&
          changes.some((x) => x.op !== 'create' && x.annotationId === c.annotationId)
        )
          continue
        changes.push(c)
      }
      editor.edit(imageId, changes)
      order.push(imageId)
    }
    for (const imageId of order.reverse()) expect(editor.undo(imageId).operation).not.toBeNull()
    expect(groundTruthRows(studio.db, datasetId)).toEqual(original)
    for (const imageId of images) {
      // Leave a clean stack for the next seed.
      while (editor.redo(imageId).operation) {
        /* replays what was undone */
      }
      while (editor.undo(imageId).operation) {
        /* and undoes it again */
      }
    }
    expect(groundTruthRows(studio.db, datasetId)).toEqual(original)
  })

  it.each([...Array(12)].map((_, i) => 2000 + i))(
    'seed %i: edits mixed with undo and redo, then undo to the bottom',
    (seed) => {
      const editor = new LabelEditor(studio.db)
      const original = groundTruthRows(studio.db, datasetId)
      const r = rng(seed)
      for (let i = 0; i < 30; i++) {
        const imageId = images[Math.floor(r() * images.length)]!
        const x = r()
        if (x < 0.2) editor.undo(imageId)
        else if (x < 0.35) editor.redo(imageId)
        else editor.edit(imageId, [randomChange(editor, imageId, r)])
      }
      for (const imageId of images)
        while (editor.undo(imageId).operation) {
          /* to the bottom of the stack */
        }
      expect(groundTruthRows(studio.db, datasetId)).toEqual(original)
    },
  )
})
