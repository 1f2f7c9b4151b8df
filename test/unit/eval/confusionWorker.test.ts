// The evaluation views' confusion matrix at another score threshold is recomputed in the
// evaluation worker, which reads the run's ground truth and predictions with its own connection:
// the connection of the thread serving the UI (traced here statement by statement) never reads
// them. The matrix and its cells' images equal the in-process computation the views used to do.
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CocoConfusion } from '../../../src-main/common/api/evaluationViews'
import { prepareGroundTruth, prepareResults } from '../../../src-main/core/eval/cocoData'
import { computeConfusionMatrix } from '../../../src-main/core/eval/confusion'
import { cocoRunInputs } from '../../../src-main/core/evaluationInputs'
import { EvaluationManager } from '../../../src-main/core/evaluations'
import { EvaluationViews } from '../../../src-main/core/evaluationViews'
import { EventBus } from '../../../src-main/core/events'
import { openStore, type Db } from '../../../src-main/core/store/store'
import { tempDir } from '../../helpers/fixtures'

const RUN = 1
let dir: string
let db: Db
let evaluationId: number
const statements: string[] = []
let traced: Db
let views: EvaluationViews

/** 12 images, 3 classes; detections near the objects, some of the wrong class, some stray. */
function seed(store: Db): void {
  let seedValue = 7
  const random = (): number => {
    seedValue = (seedValue * 16807) % 2147483647
    return seedValue / 2147483647
  }
  store.exec(`
    INSERT INTO datasets (id, name, kind, images_root, source, status) VALUES (1, 'synthetic', 'coco', '/d', '/d', 'ready');
    INSERT INTO categories (dataset_id, id, name, color) VALUES (1, 1, 'a', '#f00'), (1, 2, 'b', '#0f0'), (1, 5, 'c', '#00f');
    INSERT INTO models (id, sha256, name, task, format, path, source, file_size, file_mtime, config, card)
      VALUES (1, 'abc', 'synthetic', 'detection', 'onnx', '/m.onnx', '/m.onnx', 1, 0, '{}', '{}');
    INSERT INTO runs (id, model_id, dataset_id, settings, status) VALUES (${RUN}, 1, 1, '{}', 'done');
  `)
  const image = store.prepare(
    `INSERT INTO images (id, dataset_id, source_id, file_name, width, height) VALUES (?, 1, ?, ?, 200, 200)`,
  )
  const annotation = store.prepare(
    `INSERT INTO annotations (dataset_id, image_id, source_id, category_id, iscrowd, area, bbox_x, bbox_y, bbox_w, bbox_h, segm_kind)
     VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'none')`,
  )
  const prediction = store.prepare(
    `INSERT INTO predictions (run_id, image_id, category_id, score, bbox_x, bbox_y, bbox_w, bbox_h) VALUES (${RUN}, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const done = store.prepare(
    `INSERT INTO run_images (run_id, image_id, status) VALUES (${RUN}, ?, 'done')`,
  )
  const classes = [1, 2, 5]
  let source = 0
  for (let i = 1; i <= 12; i++) {
    image.run(i, i, `img${i}.jpg`)
    done.run(i)
    for (let k = 0; k < 4; k++) {
      const [x, y, w, h] = [random() * 150, random() * 150, 10 + random() * 40, 10 + random() * 40]
      const category = classes[Math.floor(random() * 3)]!
      annotation.run(i, ++source, category, k === 3 && i % 4 === 0 ? 1 : 0, w * h, x, y, w, h)
      if (random() < 0.8) {
        const wrong = random() < 0.25
        prediction.run(
          i,
          wrong ? classes[(classes.indexOf(category) + 1) % 3]! : category,
          random(),
          x + random() * 6 - 3,
          y + random() * 6 - 3,
          w,
          h,
        )
      }
    }
    prediction.run(i, classes[i % 3]!, random(), random() * 150, random() * 150, 20, 20)
  }
}

/** What the views computed on their own thread before: the run's inputs, prepared and matched. */
function inProcess(scoreThreshold: number): {
  confusion: CocoConfusion
  cells: Map<number, [number, number, number][]>
} {
  const { gt: dataset, dets } = cocoRunInputs(db, RUN)
  const gt = prepareGroundTruth(dataset, 'bbox')
  const { imageCells, categoryIds, ...counts } = computeConfusionMatrix(
    gt,
    prepareResults(gt, dets),
    { scoreThreshold },
    null,
  )
  return {
    confusion: { ...counts, labels: [...categoryIds, 'background'] },
    cells: new Map(imageCells.map((cells, i) => [Number(gt.imageIds[i]), cells])),
  }
}

beforeAll(async () => {
  dir = tempDir()
  db = openStore(dir)
  seed(db)
  const [evaluation] = await new EvaluationManager({
    db,
    bus: new EventBus(),
    dataDir: dir,
  }).evaluate(RUN)
  expect(evaluation).toMatchObject({ kind: 'coco-bbox', status: 'done' })
  evaluationId = evaluation!.id
  traced = new Database(path.join(dir, 'gcstudio.db'), {
    verbose: (sql) => statements.push(String(sql)),
  })
  views = new EvaluationViews(
    traced,
    new EvaluationManager({ db: traced, bus: new EventBus(), dataDir: dir }),
  )
}, 60_000)
afterAll(() => {
  traced?.close()
  db?.close()
})

const readsInputs = (sql: string) => /\b(predictions|annotations|live_annotations)\b/.test(sql)

describe('confusion matrix at another score threshold', () => {
  it('is computed in the evaluation worker, equal to the in-process matrix', async () => {
    statements.length = 0
    const got = await views.confusion(evaluationId, 0.3)
    expect(statements.length).toBeGreaterThan(0)
    expect(statements.filter(readsInputs)).toEqual([])
    const want = inProcess(0.3)
    expect(got).toEqual(want.confusion)
    expect(got.matrix.flat().reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    // Not the stored matrix under another name: a higher threshold counts fewer detections.
    const high = await views.confusion(evaluationId, 0.9)
    expect(high).toEqual(inProcess(0.9).confusion)
    expect(high.matrix).not.toEqual(got.matrix)
    expect(statements.filter(readsInputs)).toEqual([])
  })

  it('lists the images behind a cell of the recomputed matrix, as before', async () => {
    const want = inProcess(0.3)
    const K = want.confusion.labels.length - 1
    const cells = want.confusion.matrix.flatMap((row, r) => row.map((n, c) => ({ r, c, n })))
    const cell = cells.filter((x) => (x.r === K || x.c === K) && x.n > 0)[0]!
    statements.length = 0
    const { rows } = await views.imageList({
      id: evaluationId,
      order: 'ap',
      direction: 'asc',
      cell: { row: cell.r, column: cell.c },
      scoreThreshold: 0.3,
    })
    const behind = [...want.cells]
      .filter(([, imageCells]) =>
        imageCells.some(([r, c, n]) => r === cell.r && c === cell.c && n > 0),
      )
      .map(([imageId]) => imageId)
    expect(rows.map((r) => r.imageId).sort((a, b) => a - b)).toEqual(behind.sort((a, b) => a - b))
    expect(statements.filter(readsInputs)).toEqual([])
  })

  it('keeps recomputed matrices: asking again reads nothing', async () => {
    const first = await views.confusion(evaluationId, 0.45)
    statements.length = 0
    expect(await views.confusion(evaluationId, 0.45)).toBe(first)
    expect(statements).toEqual([])
  })

  it('refuses when the ground truth changed since the evaluation', async () => {
    db.prepare('UPDATE datasets SET gt_version = gt_version + 1').run()
    try {
      await expect(views.confusion(evaluationId, 0.6)).rejects.toMatchObject({
        code: 'CONFLICT',
        message: expect.stringMatching(/ground truth changed since evaluation/),
      })
      // Not kept: once the labels are back, the same question is answered.
      db.prepare('UPDATE datasets SET gt_version = gt_version - 1').run()
      expect(await views.confusion(evaluationId, 0.6)).toEqual(inProcess(0.6).confusion)
    } finally {
      db.prepare('UPDATE datasets SET gt_version = 1').run()
    }
  })
})
