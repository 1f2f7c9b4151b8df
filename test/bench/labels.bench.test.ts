/**
 * Label editing at working scale: a generated COCO dataset of 5,000 images of 2048x1024 with
 * 7 polygon annotations each (35,000), imported by the studio (image files need not exist).
 * Measures: saving an edit (a 500-point polygon with one vertex moved, as a drag ends; and a
 * class change), undo, opening the history of an image with 10,000 edits, the dataset history,
 * and exporting the whole dataset as COCO JSON.
 * Run: npm run bench -- labels
 */
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import type { LabelChange } from '../../src-main/common/api/labels'
import { LabelEditor } from '../../src-main/core/labels/editor'
import { exportCocoGt } from '../../src-main/core/labels/exportGt'
import { Studio } from '../../src-main/core/studio'
import { tempDir } from '../helpers/fixtures'
import { percentile, writeReport } from './report'

const IMAGES = 5000
const PER_IMAGE = 7

function polygon(cx: number, cy: number, r: number, n: number): number[] {
  const p: number[] = []
  for (let i = 0; i < n; i++) {
    const a = (i / n) * 2 * Math.PI
    const rr = r * (0.8 + 0.2 * Math.sin(7 * a))
    p.push(
      Math.round((cx + rr * Math.cos(a)) * 100) / 100,
      Math.round((cy + rr * Math.sin(a)) * 100) / 100,
    )
  }
  return p
}

function generate(file: string) {
  const images = []
  const annotations = []
  let id = 0
  for (let i = 1; i <= IMAGES; i++) {
    images.push({ id: i, file_name: `img_${i}.jpg`, width: 2048, height: 1024 })
    for (let k = 0; k < PER_IMAGE; k++) {
      const cx = 150 + k * 260
      const p = polygon(cx, 500, 100, k === 0 ? 500 : 24)
      annotations.push({
        id: ++id,
        image_id: i,
        category_id: 1 + (k % 3),
        iscrowd: 0,
        area: 30000,
        bbox: [cx - 100, 400, 200, 200],
        segmentation: [p],
      })
    }
  }
  const categories = [1, 2, 3].map((c) => ({ id: c, name: `class${c}` }))
  fs.writeFileSync(file, JSON.stringify({ images, annotations, categories }))
}

const time = (f: () => unknown) => {
  const t = performance.now()
  f()
  return performance.now() - t
}

it('label editing at 5,000 images', async () => {
  const dir = tempDir()
  fs.mkdirSync(path.join(dir, 'images'))
  const gt = path.join(dir, 'instances.json')
  generate(gt)
  const studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
  try {
    const job = studio.jobs.startImport({
      kind: 'coco',
      annotations: gt,
      images: path.join(dir, 'images'),
    })
    const datasetId = (await studio.jobs.settled(job.id)).datasetId!
    const editor = new LabelEditor(studio.db)
    const image = (
      studio.db
        .prepare('SELECT id FROM images WHERE dataset_id = ? ORDER BY id LIMIT 1')
        .get(datasetId) as {
        id: number
      }
    ).id
    const big = editor.imageState(image).annotations[0]!
    expect(big.segmentation.kind === 'polygon' && big.segmentation.polygons[0]!.length).toBe(1000)

    // Saving a vertex drag of the 500-point polygon, 300 times (each a new undo step).
    const save: number[] = []
    let revision = big.revision
    const base = (big.segmentation as { polygons: number[][] }).polygons[0]!
    for (let i = 0; i < 300; i++) {
      const p = [...base]
      p[2 * (i % 500)] = p[2 * (i % 500)]! + 3
      const change: LabelChange = {
        op: 'update',
        annotationId: big.id,
        revision,
        segmentation: { kind: 'polygon', polygons: [p] },
      }
      let r: ReturnType<LabelEditor['edit']> | undefined
      save.push(time(() => (r = editor.edit(image, [change]))))
      revision = r!.image.annotations.find((a) => a.id === big.id)!.revision
    }
    const classChange: number[] = []
    const small = editor.imageState(image).annotations[1]!
    let rev2 = small.revision
    for (let i = 0; i < 300; i++) {
      let r: ReturnType<LabelEditor['edit']> | undefined
      classChange.push(
        time(
          () =>
            (r = editor.edit(image, [
              { op: 'update', annotationId: small.id, revision: rev2, categoryId: 1 + (i % 3) },
            ])),
        ),
      )
      rev2 = r!.image.annotations.find((a) => a.id === small.id)!.revision
    }
    const undo: number[] = []
    for (let i = 0; i < 100; i++) undo.push(time(() => editor.undo(image)))

    // An image with 10,000 edits in its history.
    const busy = image + 1
    const one = editor.imageState(busy).annotations[1]!
    let rev3 = one.revision
    const fill = performance.now()
    for (let i = 0; i < 10_000; i++) {
      const r = editor.edit(busy, [
        { op: 'update', annotationId: one.id, revision: rev3, iscrowd: i % 2 === 0 },
      ])
      rev3 = r.operation ? editor.store.revision(one.id) : rev3
    }
    const fillMs = performance.now() - fill
    const historyPage: number[] = []
    const stateOpen: number[] = []
    const datasetHistory: number[] = []
    for (let i = 0; i < 30; i++) {
      historyPage.push(time(() => editor.history({ imageId: busy, limit: 200 })))
      stateOpen.push(time(() => editor.imageState(busy)))
      datasetHistory.push(time(() => editor.history({ datasetId, limit: 200 })))
    }
    expect(editor.history({ imageId: busy, limit: 200 }).total).toBe(10_000)

    const exportMs: number[] = []
    for (let i = 0; i < 3; i++) {
      const out = path.join(tempDir(), 'gt.json')
      const t = performance.now()
      const r = await exportCocoGt(editor, datasetId, undefined, out)
      exportMs.push(performance.now() - t)
      expect(r.annotations).toBe(IMAGES * PER_IMAGE)
    }
    const v1 = performance.now()
    await exportCocoGt(editor, datasetId, 1, path.join(tempDir(), 'v1.json'))
    const exportV1Ms = performance.now() - v1

    const ms = (v: number) => Math.round(v * 100) / 100
    writeReport('labels', {
      dataset: `${IMAGES} images (2048x1024), ${IMAGES * PER_IMAGE} polygon annotations`,
      saveVertexDrag500ptPolygonMs: {
        p50: ms(percentile(save, 50)),
        p95: ms(percentile(save, 95)),
        max: ms(Math.max(...save)),
      },
      saveClassChangeMs: {
        p50: ms(percentile(classChange, 50)),
        p95: ms(percentile(classChange, 95)),
      },
      undoMs: { p50: ms(percentile(undo, 50)), p95: ms(percentile(undo, 95)) },
      tenThousandEditsWrittenS: ms(fillMs / 1000),
      historyFirstPageOf10000Ms: {
        p50: ms(percentile(historyPage, 50)),
        p95: ms(percentile(historyPage, 95)),
      },
      imageStateWith10000EditsMs: {
        p50: ms(percentile(stateOpen, 50)),
        p95: ms(percentile(stateOpen, 95)),
      },
      datasetHistoryFirstPageMs: {
        p50: ms(percentile(datasetHistory, 50)),
        p95: ms(percentile(datasetHistory, 95)),
      },
      exportCurrentVersionS: exportMs.map((v) => ms(v / 1000)),
      exportVersion1S: ms(exportV1Ms / 1000),
    })
  } finally {
    await studio.close()
  }
})
