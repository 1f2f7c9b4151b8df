import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Category } from '../../../src-main/common/api'
import type {
  EditResult,
  GtDiff,
  GtVersion,
  LabelImageState,
  LabelOperation,
  LabelOperationDetail,
} from '../../../src-main/common/api/labels'
import { Studio } from '../../../src-main/core/studio'
import { rleArea, rleFromPolygon, rleMerge } from '../../../src-main/core/eval/rle'
import { tempDir } from '../../helpers/fixtures'
import { H, W, call, groundTruthRows, imageIds, labelDataset } from './helpers'

let studio: Studio
let datasetId: number
let one: number
let two: number

beforeEach(async () => {
  studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
  ;({ datasetId } = await labelDataset(studio))
  ;[one, two] = imageIds(studio.db, datasetId) as [number, number]
})
afterEach(async () => studio.close())

const edit = (imageId: number, changes: unknown[], source = 'hand') =>
  call<EditResult>(studio, 'labels:edit', { imageId, changes, source })
const state = (imageId: number) => call<LabelImageState>(studio, 'labels:image', { imageId })
const undo = (imageId: number) => call<EditResult>(studio, 'labels:undo', { imageId })
const redo = (imageId: number) => call<EditResult>(studio, 'labels:redo', { imageId })
const categories = async () =>
  (await call<{ categories: Category[] }>(studio, 'datasets:get', { id: datasetId })).categories
const counts = async () =>
  Object.fromEntries((await categories()).map((c) => [c.name, [c.annotationCount, c.imageCount]]))

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p
  } catch (err) {
    return err as { code: string; message: string }
  }
  throw new Error('expected a failure')
}

describe('edit operations and their undo', () => {
  it('creates a box, a polygon and an RLE mask with COCO areas, and undo removes each', async () => {
    const original = groundTruthRows(studio.db, datasetId)
    const box = await edit(one, [{ op: 'create', categoryId: 17, bbox: [40, 20, 10, 6] }])
    const created = box.image.annotations.at(-1)!
    expect([created.categoryId, created.area, created.bbox, created.segmentation.kind]).toEqual([
      17,
      60,
      [40, 20, 10, 6],
      'none',
    ])
    expect(created.edited).toBe(true)
    // New ids come after the file's own: the file's largest annotation id is 7.
    expect(created.sourceId).toBe(8)
    const poly = [
      [30, 30, 50, 30, 50, 44, 30, 44],
      [52, 2, 60, 2, 56, 9],
    ]
    const p = await edit(one, [
      { op: 'create', categoryId: 17, segmentation: { kind: 'polygon', polygons: poly } },
    ])
    const pa = p.image.annotations.at(-1)!
    const cocoArea = rleArea(rleMerge(poly.map((part) => rleFromPolygon(part, H, W))))
    expect(pa.area).toBe(cocoArea)
    expect(pa.bbox).toEqual([30, 2, 30, 42])
    const counts0 = [...Array(W * H)].map(() => 0)
    const rle = { kind: 'rle', size: [H, W], counts: [W * H - 5, 5] }
    const r = await edit(two, [{ op: 'create', categoryId: 90, iscrowd: true, segmentation: rle }])
    const ra = r.image.annotations.at(-1)!
    expect([ra.area, ra.iscrowd, ra.segmentation]).toEqual([5, true, rle])
    expect(counts0.length).toBe(W * H)
    expect(await counts()).toEqual({ car: [3, 2], cat: [2, 1], toothbrush: [3, 2] })
    await undo(two)
    await undo(one)
    await undo(one)
    expect(groundTruthRows(studio.db, datasetId)).toEqual(original)
    expect(await counts()).toEqual({ car: [3, 2], cat: [0, 0], toothbrush: [2, 2] })
  })

  it('updates class, iscrowd and geometry, moving the per-class counts, and undoes them', async () => {
    const original = groundTruthRows(studio.db, datasetId)
    const car = (await state(one)).annotations.find((a) => a.categoryId === 3)!
    const r = await edit(one, [{ op: 'update', annotationId: car.id, revision: 0, categoryId: 17 }])
    expect(r.operation!.summary).toBe(`Changed class of ${car.id}`)
    expect(await counts()).toEqual({ car: [2, 1], cat: [1, 1], toothbrush: [2, 2] })
    // Moving a polygon's box moves and scales the polygon with it (the file's box [4,4,16,16]
    // is larger than its polygon [8,8]-[16,16]); a polygon's box is then its vertices' bounds.
    const rev = r.image.annotations.find((a) => a.id === car.id)!.revision
    const moved = await edit(one, [
      { op: 'update', annotationId: car.id, revision: rev, bbox: [20, 20, 16, 32], iscrowd: true },
    ])
    const m = moved.image.annotations.find((a) => a.id === car.id)!
    expect(m.segmentation).toEqual({
      kind: 'polygon',
      polygons: [[24, 28, 32, 28, 32, 44, 24, 44]],
    })
    expect(m.bbox).toEqual([24, 28, 8, 16])
    expect(m.iscrowd).toBe(true)
    // Dragging one vertex is an update with the new polygon.
    const rev2 = m.revision
    const dragged = await edit(one, [
      {
        op: 'update',
        annotationId: car.id,
        revision: rev2,
        segmentation: { kind: 'polygon', polygons: [[24, 28, 32, 28, 40, 40, 24, 44]] },
      },
    ])
    expect(dragged.image.annotations.find((a) => a.id === car.id)!.bbox).toEqual([24, 28, 16, 16])
    await undo(one)
    await undo(one)
    await undo(one)
    expect(groundTruthRows(studio.db, datasetId)).toEqual(original)
  })

  it('deletes and restores; redo replays; a new edit clears the redo stack', async () => {
    const original = groundTruthRows(studio.db, datasetId)
    const [a, b] = (await state(one)).annotations
    await edit(one, [{ op: 'delete', annotationId: a!.id, revision: 0 }])
    expect((await state(one)).annotations.map((x) => x.id)).toEqual([b!.id])
    expect(await counts()).toEqual({ car: [2, 1], cat: [0, 0], toothbrush: [2, 2] })
    const deleted = groundTruthRows(studio.db, datasetId)
    const u = await undo(one)
    expect(u.operation!.kind).toBe('undo')
    expect(groundTruthRows(studio.db, datasetId)).toEqual(original)
    expect(u.image.canRedo).toBe(true)
    await redo(one)
    expect(groundTruthRows(studio.db, datasetId)).toEqual(deleted)
    const s = await state(one)
    expect([s.canUndo, s.canRedo]).toEqual([true, false])
    // Restore the deleted one explicitly.
    const rev = (
      await call<{ items: LabelOperation[] }>(studio, 'labels:history', { imageId: one })
    ).items[0]!
    const detail = await call<LabelOperationDetail>(studio, 'labels:operation', { id: rev.id })
    expect(detail.changes[0]!.after!.deleted).toBe(true)
    const revision = studio.db
      .prepare('SELECT max(id) AS r FROM annotation_edits WHERE annotation_id = ?')
      .get(a!.id) as { r: number }
    await edit(one, [{ op: 'restore', annotationId: a!.id, revision: revision.r }])
    expect(groundTruthRows(studio.db, datasetId)).toEqual(original)
    await undo(one)
    const e = await edit(one, [{ op: 'create', categoryId: 3, bbox: [1, 1, 2, 2] }])
    expect(e.image.canRedo).toBe(false)
    const nothing = await redo(one)
    expect(nothing.operation).toBeNull()
  })

  it('refuses a stale revision (two windows): the second sees the first change, nothing lost', async () => {
    const car = (await state(one)).annotations.find((a) => a.categoryId === 3)!
    // Window A and window B both loaded revision 0; A changes the class first.
    await edit(one, [{ op: 'update', annotationId: car.id, revision: 0, categoryId: 17 }])
    const before = groundTruthRows(studio.db, datasetId)
    const err = await failure(
      edit(one, [{ op: 'update', annotationId: car.id, revision: 0, bbox: [0, 0, 5, 5] }]),
    )
    expect(err.code).toBe('CONFLICT')
    expect(err.message).toMatch(/changed elsewhere/)
    expect(groundTruthRows(studio.db, datasetId)).toEqual(before)
    // B reloads and sees A's class, then its edit goes through.
    const now = (await state(one)).annotations.find((a) => a.id === car.id)!
    expect(now.categoryId).toBe(17)
    await edit(one, [
      { op: 'update', annotationId: car.id, revision: now.revision, bbox: [0, 0, 5, 5] },
    ])
    expect((await state(one)).annotations.find((a) => a.id === car.id)!.categoryId).toBe(17)
  })

  it('a failing change leaves nothing of its edit (one transaction)', async () => {
    const before = groundTruthRows(studio.db, datasetId)
    const err = await failure(
      edit(one, [
        { op: 'create', categoryId: 3, bbox: [1, 1, 4, 4] },
        { op: 'create', categoryId: 999, bbox: [1, 1, 4, 4] },
      ]),
    )
    expect(err.code).toBe('INVALID_INPUT')
    expect(err.message).toMatch(/Change 2: category 999 is not a category/)
    expect(groundTruthRows(studio.db, datasetId)).toEqual(before)
    expect((await state(one)).operationCount).toBe(0)
  })
})

describe('masks edited with a brush and an eraser', () => {
  it('adds and removes mask pixels along a stroke, and undo restores the mask', async () => {
    const original = groundTruthRows(studio.db, datasetId)
    const crowd = (await state(two)).annotations.find((a) => a.segmentation.kind === 'rle')!
    expect(crowd.area).toBe(40)
    // A disc of radius 2 around (20, 10): the 12 pixels whose centres lie within 2 px.
    const b = await call<EditResult>(studio, 'labels:maskStroke', {
      imageId: two,
      annotationId: crowd.id,
      revision: 0,
      tool: 'brush',
      points: [20, 10],
      radius: 2,
    })
    const brushed = b.image.annotations.find((a) => a.id === crowd.id)!
    expect([brushed.area, brushed.bbox]).toEqual([52, [0, 8, 22, 27]])
    // Erasing across the rectangle's left columns (x 0..3) removes 4 x 5 pixels.
    const e = await call<EditResult>(studio, 'labels:maskStroke', {
      imageId: two,
      annotationId: crowd.id,
      revision: brushed.revision,
      tool: 'eraser',
      points: [0, 30, 0, 35, 2, 35, 2, 30],
      radius: 2,
    })
    expect(e.image.annotations.find((a) => a.id === crowd.id)!.area).toBe(52 - 20)
    await undo(two)
    await undo(two)
    expect(groundTruthRows(studio.db, datasetId)).toEqual(original)
    const box = (await state(two)).annotations.find((a) => a.segmentation.kind === 'polygon')!
    const err = await failure(
      call(studio, 'labels:maskStroke', {
        imageId: two,
        annotationId: box.id,
        revision: 0,
        tool: 'brush',
        points: [1, 1],
      }),
    )
    expect(err.message).toMatch(/is a polygon: edit its points; the brush edits masks/)
  })
})

describe('degenerate shapes', () => {
  it('warns about zero-area boxes and self-intersecting polygons and keeps them', async () => {
    const z = await edit(one, [{ op: 'create', categoryId: 3, bbox: [5, 5, 0, 7] }])
    expect(z.warnings).toEqual(['The box is 0 x 7: its area is 0 and it can never be matched.'])
    expect(z.image.annotations.at(-1)!.area).toBe(0)
    const bow = await edit(one, [
      {
        op: 'create',
        categoryId: 3,
        segmentation: { kind: 'polygon', polygons: [[10, 10, 30, 30, 30, 10, 10, 40]] },
      },
    ])
    expect(bow.warnings).toEqual(['Polygon part 1 crosses itself; COCO fills it by its own rules.'])
    expect(bow.operation!.warnings).toEqual(bow.warnings)
  })

  it('refuses polygon parts of fewer than 3 points and negative boxes, saying which', async () => {
    const err = await failure(
      edit(one, [
        {
          op: 'create',
          categoryId: 3,
          segmentation: {
            kind: 'polygon',
            polygons: [
              [1, 1, 9, 1, 9, 9],
              [20, 20, 25, 25],
            ],
          },
        },
      ]),
    )
    expect(err.message).toBe(
      'Polygon part 2 has 2 point(s); a polygon needs at least 3 (delete the part instead).',
    )
    const neg = await failure(edit(one, [{ op: 'create', categoryId: 3, bbox: [5, 5, -2, 3] }]))
    expect(neg.message).toMatch(/negative size/)
  })
})

describe('ground-truth versions', () => {
  it('an edit session is one version; an export or evaluation freezes it; diff lists the changes', async () => {
    const versions = () => call<GtVersion[]>(studio, 'labels:versions', { datasetId })
    expect((await versions()).map((v) => [v.version, v.frozen])).toEqual([[1, true]])
    const car = (await state(one)).annotations.find((a) => a.categoryId === 3)!
    const a = await edit(one, [{ op: 'update', annotationId: car.id, revision: 0, categoryId: 17 }])
    expect(a.image.gtVersion).toBe(2)
    const b = await edit(two, [{ op: 'create', categoryId: 90, bbox: [2, 2, 6, 6] }])
    expect(b.image.gtVersion).toBe(2)
    // Exporting version 2 freezes it: the next edit starts version 3.
    await call(studio, 'labels:exportGt', { datasetId, out: `${tempDir()}/gt.json` })
    const brush = (await state(two)).annotations.find((x) => x.categoryId === 90)!
    const c = await edit(two, [{ op: 'delete', annotationId: brush.id, revision: 0 }])
    expect(c.image.gtVersion).toBe(3)
    expect((await versions()).map((v) => [v.version, v.operations, v.frozen, v.current])).toEqual([
      [1, 0, true, false],
      [2, 2, true, false],
      [3, 1, false, true],
    ])
    const d = await call<GtDiff>(studio, 'labels:diff', { datasetId, from: 1, to: 3 })
    expect(d.added.map((x) => [x.categoryId, x.bbox])).toEqual([[90, [2, 2, 6, 6]]])
    expect(d.removed.map((x) => x.id)).toEqual([brush.id])
    expect(d.changed.map((x) => [x.before.categoryId, x.after.categoryId, x.fields])).toEqual([
      [3, 17, ['category']],
    ])
    const back = await call<GtDiff>(studio, 'labels:diff', { datasetId, from: 3, to: 2 })
    expect([back.added.map((x) => x.id), back.removed.length]).toEqual([[brush.id], 0])
    const missing = await failure(call(studio, 'labels:diff', { datasetId, from: 1, to: 9 }))
    expect(missing.message).toMatch(/versions 1\.\.3; there is no version 9/)
  })

  it('reverts an image to before an operation, as one undoable step', async () => {
    const original = groundTruthRows(studio.db, datasetId)
    const first = await edit(one, [{ op: 'create', categoryId: 3, bbox: [1, 1, 4, 4] }])
    const car = first.image.annotations.find((x) => x.categoryId === 3)!
    await edit(one, [{ op: 'delete', annotationId: car.id, revision: 0 }])
    const r = await call<EditResult>(studio, 'labels:revert', {
      imageId: one,
      operationId: first.operation!.id,
    })
    expect(r.operation!.kind).toBe('revert')
    expect(groundTruthRows(studio.db, datasetId)).toEqual(original)
    await undo(one)
    expect((await state(one)).annotations).toHaveLength(2)
    const history = await call<{ total: number; items: LabelOperation[] }>(
      studio,
      'labels:history',
      {
        imageId: one,
      },
    )
    expect(history.items.map((o) => o.kind)).toEqual(['undo', 'revert', 'edit', 'edit'])
  })
})

describe('a dataset whose image files are missing', () => {
  it('still takes edits to its ground truth, and says the file is missing', async () => {
    const dir = (
      studio.db.prepare('SELECT images_root FROM datasets WHERE id = ?').get(datasetId) as {
        images_root: string
      }
    ).images_root
    fs.rmSync(path.join(dir, 'one.png'))
    await call(studio, 'datasets:recheckFiles', { id: datasetId })
    const r = await edit(one, [{ op: 'create', categoryId: 3, bbox: [1, 1, 4, 4] }])
    expect(r.warnings).toEqual([
      'The image file one.png is missing on disk; the edit is stored all the same.',
    ])
    expect(r.image.annotations).toHaveLength(3)
  })
})

describe('a store that cannot be written', () => {
  it('refuses the edit with a message when read-only, and writes nothing', async () => {
    const before = groundTruthRows(studio.db, datasetId)
    studio.db.pragma('query_only = ON')
    const err = await failure(edit(one, [{ op: 'create', categoryId: 3, bbox: [1, 1, 4, 4] }]))
    studio.db.pragma('query_only = OFF')
    expect(err.code).toBe('STORE_READONLY')
    expect(err.message).toMatch(/cannot be written/)
    expect(groundTruthRows(studio.db, datasetId)).toEqual(before)
  })

  it('refuses the edit when the disk is full, and writes nothing', async () => {
    const before = groundTruthRows(studio.db, datasetId)
    const pages = studio.db.pragma('page_count', { simple: true }) as number
    studio.db.pragma(`max_page_count = ${pages}`)
    const big = [...Array(4000)].map((_, i) => (i % 2 ? 10 + (i % 30) : 10 + ((i * 7) % 40)))
    const err = await failure(
      edit(
        one,
        [...Array(40)].map(() => ({
          op: 'create',
          categoryId: 3,
          segmentation: { kind: 'polygon', polygons: [big] },
        })),
      ),
    )
    studio.db.pragma('max_page_count = 1073741823')
    expect(err.code).toBe('DISK_FULL')
    expect(groundTruthRows(studio.db, datasetId)).toEqual(before)
  })
})
