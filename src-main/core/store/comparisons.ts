/**
 * The comparisons table: one row per saved comparison of 2-4 runs, its summary and the
 * per-image data of its difference list. Rows are typed here; services never cast rows.
 */
import { NOW, perDb } from './sql'
import type { CompareIouType } from '../../common/api/compare'
import type { Db } from './store'

export interface ComparisonRow {
  id: number
  datasetId: number
  datasetName: string
  gtVersion: number
  kind: 'coco' | 'cityscapes'
  iouType: CompareIouType | null
  runIds: number[]
  title: string
  scoreThreshold: number
  seed: number
  resamples: number
  status: 'running' | 'done'
  ownerPid: number | null
  createdAt: string
  finishedAt: string | null
}

interface RawRow {
  id: number
  dataset_id: number
  dataset_name: string
  gt_version: number
  kind: 'coco' | 'cityscapes'
  iou_type: CompareIouType | null
  run_ids: string
  title: string
  score_thr: number
  seed: number
  resamples: number
  status: 'running' | 'done'
  owner_pid: number | null
  created_at: string
  finished_at: string | null
}

const toRow = (r: RawRow): ComparisonRow => ({
  id: r.id,
  datasetId: r.dataset_id,
  datasetName: r.dataset_name,
  gtVersion: r.gt_version,
  kind: r.kind,
  iouType: r.iou_type,
  runIds: JSON.parse(r.run_ids) as number[],
  title: r.title,
  scoreThreshold: r.score_thr,
  seed: r.seed,
  resamples: r.resamples,
  status: r.status,
  ownerPid: r.owner_pid,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
})

const COLUMNS = `c.id, c.dataset_id, d.name AS dataset_name, c.gt_version, c.kind, c.iou_type, c.run_ids,
  c.title, c.score_thr, c.seed, c.resamples, c.status, c.owner_pid, c.created_at, c.finished_at`

export type NewComparison = Omit<
  ComparisonRow,
  'id' | 'datasetName' | 'status' | 'createdAt' | 'finishedAt' | 'ownerPid'
>

export class ComparisonStore {
  readonly #db: Db
  readonly #insert
  readonly #finish
  readonly #get
  readonly #list
  readonly #delete
  readonly #data
  readonly #running

  constructor(db: Db) {
    this.#db = db
    this.#insert = db.prepare<
      [number, number, string, string | null, string, string, number, number, number, number]
    >(
      `INSERT INTO comparisons (dataset_id, gt_version, kind, iou_type, run_ids, title, score_thr, seed, resamples, status, owner_pid)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)`,
    )
    this.#finish = db.prepare<[string, string, number]>(
      `UPDATE comparisons SET status = 'done', owner_pid = NULL, summary = ?, details = ?,
         finished_at = ${NOW} WHERE id = ?`,
    )
    this.#get = db.prepare<[number], RawRow>(
      `SELECT ${COLUMNS} FROM comparisons c JOIN datasets d ON d.id = c.dataset_id WHERE c.id = ?`,
    )
    this.#list = db.prepare<[], RawRow>(
      `SELECT ${COLUMNS} FROM comparisons c JOIN datasets d ON d.id = c.dataset_id ORDER BY c.id DESC`,
    )
    this.#delete = db.prepare<[number]>('DELETE FROM comparisons WHERE id = ?')
    this.#data = db.prepare<[number], { summary: string | null; details: string | null }>(
      'SELECT summary, details FROM comparisons WHERE id = ?',
    )
    this.#running = db.prepare<[], { id: number; owner_pid: number | null }>(
      `SELECT id, owner_pid FROM comparisons WHERE status = 'running'`,
    )
  }

  /** Inserts a comparison being computed by this process. */
  start(c: NewComparison): number {
    return Number(
      this.#insert.run(
        c.datasetId,
        c.gtVersion,
        c.kind,
        c.iouType,
        JSON.stringify(c.runIds),
        c.title,
        c.scoreThreshold,
        c.seed,
        c.resamples,
        process.pid,
      ).lastInsertRowid,
    )
  }

  /** Stores the complete result; until then the row is 'running' and shows no numbers. */
  finish(id: number, summary: unknown, details: unknown): void {
    this.#finish.run(JSON.stringify(summary), JSON.stringify(details), id)
  }

  get(id: number): ComparisonRow | undefined {
    const r = this.#get.get(id)
    return r ? toRow(r) : undefined
  }

  list(): ComparisonRow[] {
    return this.#list.all().map(toRow)
  }

  delete(id: number): boolean {
    return this.#delete.run(id).changes > 0
  }

  /** The stored JSON documents, parsed by the caller against its own types. */
  data(id: number): { summary: string | null; details: string | null } | undefined {
    return this.#data.get(id)
  }

  /** Removes rows left 'running' by processes that are gone (a crash mid-computation). */
  sweepAbandoned(isAlive: (pid: number) => boolean): number {
    let removed = 0
    this.#db.transaction(() => {
      for (const r of this.#running.all()) {
        if (r.owner_pid === null || !isAlive(r.owner_pid)) removed += this.#delete.run(r.id).changes
      }
    })()
    return removed
  }
}

export const comparisonStore = perDb((db: Db) => new ComparisonStore(db))
