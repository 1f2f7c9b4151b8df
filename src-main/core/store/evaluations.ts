/**
 * The evaluations and evaluation_images tables: one row per evaluation of a run at a ground-truth
 * version and kind, and its per-image rows. An evaluation is written whole, in one transaction,
 * once it is complete (`saveDone`), or as a failure (`saveFailure`): nothing half-computed is ever
 * stored, and re-evaluating keeps the earlier numbers until the new ones replace them.
 */
import type { Statement } from 'better-sqlite3'
import { NOW, perDb } from './sql'
import type { Evaluation, EvaluationDetail, EvaluationImage } from '../../common/api'
import type { EvaluationSummaryRow } from '../eval/rows'
import type { Db } from './store'

/** Which evaluation a result belongs to (unique per run, ground-truth version and kind). */
export interface EvaluationKey {
  runId: number
  datasetId: number
  gtVersion: number
  kind: Evaluation['kind']
}

/** One image's row as the evaluation writes it, its details already a JSON document. */
export interface NewEvaluationImage {
  imageId: number
  ap: number | null
  ap50: number | null
  tp: number | null
  fp: number | null
  fn: number | null
  miou: number | null
  detailsJson: string
}

/** One image's row with its parsed details (COCO: counts, cells, categories; Cityscapes: IoUs). */
export interface StoredEvaluationImage extends EvaluationImage {
  details: unknown
}

export type EvaluationImageSort = 'ap' | 'miou' | 'fp' | 'fn'

interface RawHeadRow {
  id: number
  run_id: number
  dataset_id: number
  gt_version: number
  kind: Evaluation['kind']
  status: Evaluation['status']
  primary_metric: number | null
  image_count: number | null
  error: string | null
  created_at: string
  finished_at: string | null
}

interface RawRow extends RawHeadRow {
  metrics: string | null
  categories: string | null
  warnings: string | null
}

type RawImageRow = EvaluationImage & { details: string | null }

const toEvaluation = (r: RawHeadRow): Evaluation => ({
  id: r.id,
  runId: r.run_id,
  datasetId: r.dataset_id,
  gtVersion: r.gt_version,
  kind: r.kind,
  status: r.status,
  primaryMetric: r.primary_metric,
  imageCount: r.image_count,
  error: r.error,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
})

const parseMetrics = (metrics: string | null): EvaluationDetail['metrics'] =>
  metrics ? (JSON.parse(metrics) as Record<string, unknown>) : null

const toDetail = (r: RawRow): EvaluationDetail => ({
  ...toEvaluation(r),
  metrics: parseMetrics(r.metrics),
  categories: r.categories ? (JSON.parse(r.categories) as Record<string, unknown>[]) : [],
  warnings: r.warnings ? (JSON.parse(r.warnings) as string[]) : [],
})

const IMAGE_COLUMNS = `e.image_id AS imageId, i.file_name AS fileName, e.ap, e.ap50, e.tp, e.fp, e.fn, e.miou`

/** Listing without the JSON documents, which only one evaluation's detail needs. */
const HEAD_COLUMNS = `id, run_id, dataset_id, gt_version, kind, status, primary_metric, image_count, error,
  created_at, finished_at`

export class EvaluationStore {
  readonly #db: Db
  readonly #list
  readonly #listByRun
  readonly #head
  readonly #get
  readonly #metrics
  readonly #doneMetrics
  readonly #upsert
  readonly #finishFailure
  readonly #finishDone
  readonly #clearImages
  readonly #insertImage
  readonly #allImages
  /** One statement per sort column and direction (the column cannot be a parameter). */
  readonly #imagePages = new Map<string, Statement<[number, number, number], EvaluationImage>>()

  constructor(db: Db) {
    this.#db = db
    this.#list = db.prepare<[], RawHeadRow>(
      `SELECT ${HEAD_COLUMNS} FROM evaluations ORDER BY id DESC`,
    )
    this.#listByRun = db.prepare<[number], RawHeadRow>(
      `SELECT ${HEAD_COLUMNS} FROM evaluations WHERE run_id = ? ORDER BY id DESC`,
    )
    this.#head = db.prepare<[number], RawHeadRow>(
      `SELECT ${HEAD_COLUMNS} FROM evaluations WHERE id = ?`,
    )
    this.#get = db.prepare<[number], RawRow>('SELECT * FROM evaluations WHERE id = ?')
    this.#metrics = db.prepare<[number], { metrics: string | null }>(
      'SELECT metrics FROM evaluations WHERE id = ?',
    )
    this.#doneMetrics = db.prepare<[number, number, string], { metrics: string | null }>(
      `SELECT metrics FROM evaluations WHERE run_id = ? AND gt_version = ? AND kind = ? AND status = 'done'`,
    )
    this.#upsert = db.prepare<
      [number, number, number, string, string, string | null],
      { id: number }
    >(
      `INSERT INTO evaluations (run_id, dataset_id, gt_version, kind, status, error) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, gt_version, kind) DO UPDATE SET status = excluded.status, error = excluded.error,
         created_at = ${NOW}
       RETURNING id`,
    )
    this.#finishFailure = db.prepare<[number]>(
      `UPDATE evaluations SET finished_at = ${NOW} WHERE id = ?`,
    )
    this.#finishDone = db.prepare<[number | null, number, string, string, string, number]>(
      `UPDATE evaluations SET status = 'done', primary_metric = ?, image_count = ?, metrics = ?, categories = ?, warnings = ?, error = NULL,
         finished_at = ${NOW} WHERE id = ?`,
    )
    this.#clearImages = db.prepare<[number]>(
      'DELETE FROM evaluation_images WHERE evaluation_id = ?',
    )
    this.#insertImage = db.prepare<
      [
        number,
        number,
        number | null,
        number | null,
        number | null,
        number | null,
        number | null,
        number | null,
        string,
      ]
    >(
      `INSERT OR REPLACE INTO evaluation_images (evaluation_id, image_id, ap, ap50, tp, fp, fn, miou, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.#allImages = db.prepare<[number], RawImageRow>(
      `SELECT ${IMAGE_COLUMNS}, e.details
       FROM evaluation_images e JOIN images i ON i.id = e.image_id WHERE e.evaluation_id = ?`,
    )
    for (const column of ['ap', 'miou', 'fp', 'fn'] as const)
      for (const direction of ['ASC', 'DESC'] as const)
        this.#imagePages.set(
          `${column} ${direction}`,
          db.prepare<[number, number, number], EvaluationImage>(
            `SELECT ${IMAGE_COLUMNS}
             FROM evaluation_images e JOIN images i ON i.id = e.image_id
             WHERE e.evaluation_id = ? ORDER BY e.${column} IS NULL, e.${column} ${direction}, e.image_id LIMIT ? OFFSET ?`,
          ),
        )
  }

  /** Evaluations, newest first; of one run when given. */
  list(runId?: number): Evaluation[] {
    return (runId === undefined ? this.#list.all() : this.#listByRun.all(runId)).map(toEvaluation)
  }

  /** One evaluation without its JSON documents. */
  find(id: number): Evaluation | undefined {
    const row = this.#head.get(id)
    return row ? toEvaluation(row) : undefined
  }

  /** One evaluation with its metrics, categories and warnings parsed. */
  get(id: number): EvaluationDetail | undefined {
    const row = this.#get.get(id)
    return row ? toDetail(row) : undefined
  }

  /** Only the metrics document (the views read parts of it). */
  metrics(id: number): EvaluationDetail['metrics'] {
    return parseMetrics(this.#metrics.get(id)?.metrics ?? null)
  }

  /** The metrics of a run's done evaluation at a ground-truth version, if there is one. */
  doneMetrics(
    runId: number,
    gtVersion: number,
    kind: Evaluation['kind'],
  ): EvaluationDetail['metrics'] {
    return parseMetrics(this.#doneMetrics.get(runId, gtVersion, kind)?.metrics ?? null)
  }

  /** A page of per-image rows, nulls last, ties by image id. */
  images(
    id: number,
    order: EvaluationImageSort,
    direction: 'asc' | 'desc',
    offset: number,
    limit: number,
  ): EvaluationImage[] {
    return this.#imagePages.get(`${order} ${direction.toUpperCase()}`)!.all(id, limit, offset)
  }

  /** Every per-image row of an evaluation, unordered, with its details parsed. */
  allImages(id: number): StoredEvaluationImage[] {
    return this.#allImages.all(id).map((r) => ({
      ...r,
      details: r.details === null ? null : (JSON.parse(r.details) as unknown),
    }))
  }

  /** Stores a complete evaluation (replacing one of the same key) in one transaction. */
  saveDone(
    key: EvaluationKey,
    summary: Pick<
      EvaluationSummaryRow,
      'primaryMetric' | 'imageCount' | 'metricsJson' | 'warningsJson'
    >,
    categories: unknown[],
    images: Iterable<NewEvaluationImage>,
  ): number {
    let id = 0
    this.#db.transaction(() => {
      id = this.#upsertId(key, 'done', null)
      this.#clearImages.run(id)
      for (const r of images)
        this.#insertImage.run(id, r.imageId, r.ap, r.ap50, r.tp, r.fp, r.fn, r.miou, r.detailsJson)
      this.#finishDone.run(
        summary.primaryMetric,
        summary.imageCount,
        summary.metricsJson,
        JSON.stringify(categories),
        summary.warningsJson,
        id,
      )
    })()
    return id
  }

  /** Records that an evaluation failed, with the reason (its earlier per-image rows stay). */
  saveFailure(key: EvaluationKey, message: string): number {
    const id = this.#upsertId(key, 'failed', message)
    this.#finishFailure.run(id)
    return id
  }

  #upsertId(key: EvaluationKey, status: 'done' | 'failed', error: string | null): number {
    return this.#upsert.get(key.runId, key.datasetId, key.gtVersion, key.kind, status, error)!.id
  }
}

export const evaluationStore = perDb((db: Db) => new EvaluationStore(db))
