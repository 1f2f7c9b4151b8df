// The evaluation views on the studio's own run: GC r4 over the demo COCO set, evaluated in the
// studio. Its stored TIDE breakdown must be tidecv's numbers on that run's `gcstudio export`
// (test/fixtures/eval/tide/demo-gc-r4-*.tidecv.json), the stored PR curves must average to the
// AP COCOeval reports, and the per-image list must be complete, ordered and filterable by a
// confusion cell whose images add up to the cell's count.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EvaluationDetail, Model } from '../../../src-main/common/api'
import {
  type EvaluationImageRow,
  TIDE_MAIN_ERROR_NAMES,
  TIDE_SPECIAL_ERROR_NAMES,
  type TideErrors,
  parseCocoMetrics,
} from '../../../src-main/common/api/evaluationViews'
import type { CocoDataset } from '../../../src-main/core/eval/cocoData'
import { evaluateCoco } from '../../../src-main/core/eval/cocoEval'
import { evaluateTide } from '../../../src-main/core/eval/tide'
import { runCocoResults } from '../../../src-main/core/exports'
import { packageRoot } from '../../../src-main/core/paths'
import { Studio } from '../../../src-main/core/studio'
import { tempDir } from '../../helpers/fixtures'
import { loadFixture } from './fixtures'

let studio: Studio
let runId = 0
const evaluations: Record<string, EvaluationDetail> = {}
const groundTruth = JSON.parse(
  fs.readFileSync(
    path.join(packageRoot(), 'resources/demo/coco/annotations/instances_val.json'),
    'utf8',
  ),
) as CocoDataset

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await studio.dispatch(method, input)
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r.value as T
}

async function callError(
  method: string,
  input: unknown,
): Promise<{ code: string; message: string }> {
  const r = await studio.dispatch(method, input)
  if (r.ok) throw new Error(`${method} succeeded`)
  return r.error
}

beforeAll(async () => {
  studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
  await studio.ensureDemoDatasets()
  studio.ensureDemoModels()
  const coco = (await call<{ id: number; kind: string }[]>('datasets:list', {})).find(
    (d) => d.kind === 'coco',
  )!
  const model = (await call<Model[]>('models:list', {})).find((m) =>
    m.name.startsWith('mask-rcnn-gc-r4 ('),
  )!
  runId = (
    await call<{ id: number }>('runs:start', { modelId: model.id, datasetId: coco.id, taps: false })
  ).id
  await studio.runs.idle()
  for (const e of await call<{ id: number; kind: string }[]>('evaluations:run', { runId }))
    evaluations[e.kind] = await call<EvaluationDetail>('evaluations:get', { id: e.id })
}, 180_000)
afterAll(async () => studio?.close())

const close = (got: number, want: number, what: string, tolerance = 1e-6): void => {
  expect(Math.abs(got - want), `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(tolerance)
}

describe('evaluation views of GC r4 on the demo COCO set', () => {
  it.each(['bbox', 'segm'] as const)(
    'coco-%s: stored TIDE errors equal tidecv on the exported run',
    (iouType) => {
      const evaluation = evaluations[`coco-${iouType}`]!
      expect(evaluation.status).toBe('done')
      const { errors } = parseCocoMetrics(evaluation.metrics)
      const want = loadFixture<{ tidecv: TideErrors }>(`tide/demo-gc-r4-${iouType}.tidecv.json`)
      expect(errors).not.toBeNull()
      close(errors!.ap50, want.tidecv.ap50, 'ap50')
      for (const type of TIDE_MAIN_ERROR_NAMES)
        close(errors!.main[type], want.tidecv.main[type], type)
      for (const type of TIDE_SPECIAL_ERROR_NAMES)
        close(errors!.special[type], want.tidecv.special[type], type)

      // The same numbers from this run's own export (what `gcstudio export` writes), in-process.
      const exported = runCocoResults(studio.db, runId, 'source')
      const fromExport = evaluateTide(groundTruth, exported, iouType)!
      close(fromExport.ap50, want.tidecv.ap50, 'ap50 from the export')
      close(fromExport.main.Miss, want.tidecv.main.Miss, 'Miss from the export')
    },
  )

  it('stores PR curves whose means are COCOeval AP50, AP75 and AP', () => {
    const { prCurves, stats } = parseCocoMetrics(evaluations['coco-bbox']!.metrics)
    expect(prCurves?.recall).toHaveLength(101)
    const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length
    // Six-decimal rounding per point, twice for the overall curve.
    close(mean(prCurves!.overall!.iou50.precision), stats![1]!, 'AP50', 2e-6)
    close(mean(prCurves!.overall!.iou75.precision), stats![2]!, 'AP75', 2e-6)
    close(mean(prCurves!.overall!.mean.precision), stats![0]!, 'AP', 2e-6)
    const categories = evaluations['coco-bbox']!.categories
    for (const curve of prCurves!.categories) {
      const row = categories.find((c) => c.categoryId === curve.categoryId)!
      close(mean(curve.iou50.precision), row.ap50 as number, `AP50 of ${curve.name}`, 2e-6)
    }
  })

  it('lists every image, in the chosen order, nulls last', async () => {
    const id = evaluations['coco-bbox']!.id
    const byFp = await call<{ total: number; rows: EvaluationImageRow[] }>(
      'evaluations:imageList',
      { id, order: 'fp', direction: 'desc' },
    )
    expect(byFp.total).toBe(groundTruth.images.length)
    expect(byFp.rows).toHaveLength(groundTruth.images.length)
    for (let i = 1; i < byFp.rows.length; i++)
      expect(byFp.rows[i - 1]!.fp!).toBeGreaterThanOrEqual(byFp.rows[i]!.fp!)
    const byScore = await call<{ rows: EvaluationImageRow[] }>('evaluations:imageList', {
      id,
      order: 'score',
      direction: 'asc',
    })
    const scores = byScore.rows.map((r) => r.maxScore)
    const firstNull = scores.indexOf(null)
    if (firstNull >= 0) expect(scores.slice(firstNull).every((s) => s === null)).toBe(true)
    const known = scores.filter((s): s is number => s !== null)
    expect(known).toEqual([...known].sort((a, b) => a - b))
  })

  it('a confusion cell lists the images whose own matrices add up to its count', async () => {
    const evaluation = evaluations['coco-bbox']!
    const { confusion } = parseCocoMetrics(evaluation.metrics)
    const K = confusion!.labels.length - 1
    // The busiest error cell (background row or column), else the busiest cell.
    const cells = confusion!.matrix.flatMap((row, r) => row.map((n, c) => ({ r, c, n })))
    const errorCells = cells.filter((cell) => (cell.r === K || cell.c === K) && cell.n > 0)
    const cell = (errorCells.length > 0 ? errorCells : cells).sort((a, b) => b.n - a.n)[0]!
    expect(cell.n).toBeGreaterThan(0)
    const { rows } = await call<{ rows: EvaluationImageRow[] }>('evaluations:imageList', {
      id: evaluation.id,
      order: 'ap',
      direction: 'asc',
      cell: { row: cell.r, column: cell.c },
    })
    expect(rows.length).toBeGreaterThan(0)
    const exported = runCocoResults(studio.db, runId, 'source')
    let sum = 0
    for (const row of rows) {
      // The image evaluated alone, from the dataset's own file and the run's export.
      const image = groundTruth.images.find((i) => i.file_name === row.fileName)!
      const alone = evaluateCoco(
        {
          ...groundTruth,
          images: [image],
          annotations: groundTruth.annotations.filter((a) => a.image_id === image.id),
        },
        exported.filter((d) => d.image_id === image.id),
        { iouType: 'bbox' },
      )
      const n = alone.confusion!.matrix[cell.r]![cell.c]!
      expect(n, `${row.fileName} has cell (${cell.r}, ${cell.c})`).toBeGreaterThan(0)
      sum += n
    }
    expect(sum).toBe(cell.n)
  })

  it('filters by class, and says what is wrong with a bad cell or evaluation', async () => {
    const evaluation = evaluations['coco-bbox']!
    // The store's category id (what the views pass), and the same category in the source file.
    const stored = evaluation.categories[0]!
    const source = groundTruth.categories.find((c) => c.name === stored.name)!
    const { rows } = await call<{ rows: EvaluationImageRow[] }>('evaluations:imageList', {
      id: evaluation.id,
      categoryId: stored.categoryId,
    })
    const withCategory = new Set(
      groundTruth.annotations
        .filter((a) => a.category_id === source.id && !a.iscrowd)
        .map((a) => a.image_id),
    )
    const fileNames = new Set(rows.map((r) => r.fileName))
    for (const image of groundTruth.images.filter((i) => withCategory.has(i.id)))
      expect(fileNames.has(image.file_name!), image.file_name).toBe(true)
    expect(rows.length).toBeLessThan(groundTruth.images.length)

    const outside = await callError('evaluations:imageList', {
      id: evaluation.id,
      cell: { row: 99, column: 0 },
    })
    expect(outside.code).toBe('INVALID_INPUT')
    expect(outside.message).toMatch(/outside the \d+x\d+ matrix/)
    const missing = await callError('evaluations:imageList', { id: 987654 })
    expect(missing.code).toBe('NOT_FOUND')
  })

  it('recomputes the confusion matrix at another score threshold, and its cells’ images', async () => {
    const evaluation = evaluations['coco-segm']!
    const stored = parseCocoMetrics(evaluation.metrics).confusion!
    const same = await call<typeof stored>('evaluations:confusion', {
      id: evaluation.id,
      scoreThreshold: stored.scoreThreshold,
    })
    expect(same.matrix).toEqual(stored.matrix)

    const threshold = 0.9
    const high = await call<typeof stored>('evaluations:confusion', {
      id: evaluation.id,
      scoreThreshold: threshold,
    })
    expect(high.scoreThreshold).toBe(threshold)
    // Every detection at or above the threshold lands in one predicted column, or on a crowd.
    const K = high.labels.length - 1
    const counted = high.matrix.reduce(
      (sum, row) => sum + row.slice(0, K).reduce((a, b) => a + b, 0),
      0,
    )
    const exported = runCocoResults(studio.db, runId, 'source')
    expect(counted + high.ignoredDetections).toBe(
      exported.filter((d) => d.score >= threshold).length,
    )
    // Missed objects can only grow when fewer detections count.
    const missed = (m: number[][]) => m.slice(0, K).reduce((a, row) => a + row[K]!, 0)
    expect(missed(high.matrix)).toBeGreaterThanOrEqual(missed(stored.matrix))

    const cells = high.matrix.flatMap((row, r) => row.map((n, c) => ({ r, c, n })))
    const cell = cells.filter((x) => x.r !== x.c && x.n > 0).sort((a, b) => b.n - a.n)[0]!
    const { rows } = await call<{ rows: EvaluationImageRow[] }>('evaluations:imageList', {
      id: evaluation.id,
      cell: { row: cell.r, column: cell.c },
      scoreThreshold: threshold,
    })
    let sum = 0
    for (const row of rows) {
      const image = groundTruth.images.find((i) => i.file_name === row.fileName)!
      const alone = evaluateCoco(
        {
          ...groundTruth,
          images: [image],
          annotations: groundTruth.annotations.filter((a) => a.image_id === image.id),
        },
        exported.filter((d) => d.image_id === image.id),
        { iouType: 'segm', confusion: { scoreThreshold: threshold } },
      )
      sum += alone.confusion!.matrix[cell.r]![cell.c]!
    }
    expect(sum).toBe(cell.n)

    const bad = await callError('evaluations:confusion', { id: evaluation.id, scoreThreshold: 1.5 })
    expect(bad.code).toBe('INVALID_INPUT')
  })
})
