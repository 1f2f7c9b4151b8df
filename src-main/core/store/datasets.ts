/**
 * The datasets and categories tables: the visible datasets (through `live_datasets`), their
 * classes, renames, lookups by id or name, and the status a dataset goes through while it is
 * imported or removed. Rows still importing or being removed are read only here, by the
 * handlers that finish or sweep them (`state`, `inStatus`).
 */
import type { Statement } from 'better-sqlite3'
import type { Category, Dataset } from '../../common/api'
import { LIVE_DATASETS } from './sql'
import type { Db } from './store'
import { perDb } from './sql'

export type DatasetStatus = 'importing' | 'ready' | 'deleting'

/** A dataset row in any status, for the import and removal handlers. */
export interface DatasetState {
  id: number
  name: string
  status: DatasetStatus
  importPid: number | null
}

interface RawRow {
  id: number
  name: string
  kind: Dataset['kind']
  split: string | null
  images_root: string
  source: string
  image_count: number
  annotation_count: number
  missing_image_count: number
  gt_version: number
  created_at: string
  is_demo: number
  category_count: number
}

interface RawCategory {
  id: number
  name: string
  supercategory: string | null
  train_id: number | null
  color: string
  annotation_count: number
  image_count: number
}

interface RawState {
  id: number
  name: string
  status: DatasetStatus
  import_pid: number | null
}

const toDataset = (r: RawRow): Dataset => ({
  id: r.id,
  name: r.name,
  kind: r.kind,
  split: r.split,
  imagesRoot: r.images_root,
  source: r.source,
  imageCount: r.image_count,
  annotationCount: r.annotation_count,
  missingImageCount: r.missing_image_count,
  categoryCount: r.category_count,
  gtVersion: r.gt_version,
  createdAt: r.created_at,
  isDemo: r.is_demo === 1,
})

const toCategory = (r: RawCategory): Category => ({
  id: r.id,
  name: r.name,
  supercategory: r.supercategory,
  trainId: r.train_id,
  color: JSON.parse(r.color) as [number, number, number],
  annotationCount: r.annotation_count,
  imageCount: r.image_count,
})

const toState = (r: RawState): DatasetState => ({
  id: r.id,
  name: r.name,
  status: r.status,
  importPid: r.import_pid,
})

const COLUMNS = `d.id, d.name, d.kind, d.split, d.images_root, d.source, d.image_count, d.annotation_count,
  d.missing_image_count, d.gt_version, d.created_at, d.is_demo,
  (SELECT count(*) FROM categories c WHERE c.dataset_id = d.id) AS category_count`

/**
 * The DELETE statements that remove the rows of `table` matching `where` and, first,
 * everything that references them, depth first. The references are read from the schema
 * itself, so tables later migrations add (labels, comparisons, analytics) go with their parents.
 */
function deleteTree(db: Db, table: string, where: string, seen: string[] = []): string[] {
  if (seen.includes(table)) return []
  const children = db
    .prepare<[string], { table: string; from: string; to: string }>(
      `SELECT m.name AS "table", f."from" AS "from", coalesce(f."to", 'id') AS "to"
       FROM sqlite_master m, pragma_foreign_key_list(m.name) f
       WHERE m.type = 'table' AND f."table" = ?`,
    )
    .all(table)
  return [
    ...children.flatMap((c) =>
      deleteTree(db, c.table, `"${c.from}" IN (SELECT "${c.to}" FROM "${table}" WHERE ${where})`, [
        ...seen,
        table,
      ]),
    ),
    `DELETE FROM "${table}" WHERE ${where}`,
  ]
}

export class DatasetStore {
  #list
  #get
  #categories
  #rename
  #named
  #names
  #gtVersion
  #state
  #inStatus
  #markDeleting
  #claim
  #setMissingCount
  #refreshCategoryCounts
  #removeImportRows: Statement[]
  #removal?: { images: Statement[]; dataset: Statement[] }

  constructor(readonly db: Db) {
    this.#list = db.prepare<[], RawRow>(
      `SELECT ${COLUMNS} FROM ${LIVE_DATASETS} d ORDER BY d.id DESC`,
    )
    this.#get = db.prepare<[number], RawRow>(
      `SELECT ${COLUMNS} FROM ${LIVE_DATASETS} d WHERE d.id = ?`,
    )
    this.#categories = db.prepare<[number], RawCategory>(
      // Counts are stored with the class (refreshCategoryCounts): no aggregate on this path.
      `SELECT c.id, c.name, c.supercategory, c.train_id, c.color, c.annotation_count, c.image_count
       FROM categories c WHERE c.dataset_id = ? ORDER BY c.id`,
    )
    this.#rename = db.prepare<[string, number]>(
      `UPDATE datasets SET name = ? WHERE id = ? AND id IN (SELECT id FROM ${LIVE_DATASETS})`,
    )
    this.#named = db
      .prepare<[string, string], number>(
        `SELECT id FROM ${LIVE_DATASETS} WHERE CAST(id AS TEXT) = ? OR name = ?`,
      )
      .pluck()
    this.#names = db.prepare<[], { id: number; name: string }>(
      `SELECT id, name FROM ${LIVE_DATASETS}`,
    )
    this.#gtVersion = db
      .prepare<[number], number>(`SELECT gt_version FROM ${LIVE_DATASETS} WHERE id = ?`)
      .pluck()
    this.#state = db.prepare<[number], RawState>(
      'SELECT id, name, status, import_pid FROM datasets WHERE id = ?',
    )
    this.#inStatus = db.prepare<[DatasetStatus], RawState>(
      'SELECT id, name, status, import_pid FROM datasets WHERE status = ?',
    )
    this.#markDeleting = db.prepare<[number, number]>(
      `UPDATE datasets SET status = 'deleting', import_pid = ? WHERE id = ?`,
    )
    this.#claim = db.prepare<[number, number]>('UPDATE datasets SET import_pid = ? WHERE id = ?')
    this.#setMissingCount = db.prepare<[number, number]>(
      'UPDATE datasets SET missing_image_count = ? WHERE id = ?',
    )
    this.#refreshCategoryCounts = db.prepare<{ d: number; c: number | null }>(
      `UPDATE categories SET
         image_count = (SELECT count(*) FROM image_categories ic
           WHERE ic.dataset_id = @d AND ic.category_id = categories.id),
         annotation_count = (SELECT coalesce(sum(ic.annotation_count), 0) FROM image_categories ic
           WHERE ic.dataset_id = @d AND ic.category_id = categories.id)
       WHERE dataset_id = @d AND (@c IS NULL OR id = @c)`,
    )
    // Children first in explicit order: faster than relying on cascades row by row for 860k rows.
    this.#removeImportRows = [
      'DELETE FROM image_categories WHERE dataset_id = ?',
      'DELETE FROM annotations WHERE dataset_id = ?',
      'DELETE FROM datasets WHERE id = ?',
    ].map((sql) => db.prepare(sql))
  }

  /** The visible datasets, newest first. */
  list(): Dataset[] {
    return this.#list.all().map(toDataset)
  }

  /** A visible dataset; null when it does not exist or is importing or being removed. */
  get(id: number): Dataset | null {
    const row = this.#get.get(id)
    return row ? toDataset(row) : null
  }

  categories(datasetId: number): Category[] {
    return this.#categories.all(datasetId).map(toCategory)
  }

  /** Renames a visible dataset; false when there is none with this id. */
  rename(id: number, name: string): boolean {
    return this.#rename.run(name, id).changes > 0
  }

  /** The visible datasets whose id or exact name is `given` (the CLI's `--dataset`). */
  idsNamed(given: string): number[] {
    return this.#named.all(given, given)
  }

  /** Every visible dataset's id and name, for lookups by name prefix. */
  names(): { id: number; name: string }[] {
    return this.#names.all()
  }

  /** The ground-truth version of a visible dataset (bumped by every label edit). */
  gtVersion(id: number): number | undefined {
    return this.#gtVersion.get(id)
  }

  /** A dataset in whatever status it is (import and removal handlers only). */
  state(id: number): DatasetState | null {
    const row = this.#state.get(id)
    return row ? toState(row) : null
  }

  /** The datasets left in `status`: unfinished imports and removals, swept at start-up. */
  inStatus(status: Exclude<DatasetStatus, 'ready'>): DatasetState[] {
    return this.#inStatus.all(status).map(toState)
  }

  /** Hides a dataset at once; `pid` is the process that removes it. */
  markDeleting(id: number, pid: number): void {
    this.#markDeleting.run(pid, id)
  }

  /** Takes over an unfinished import or removal for this process. */
  claim(id: number, pid: number): void {
    this.#claim.run(pid, id)
  }

  setMissingCount(id: number, missing: number): void {
    this.#setMissingCount.run(missing, id)
  }

  /**
   * Stores each class's image and annotation counts with the class, so opening a dataset reads
   * them instead of aggregating image_categories (0.5-0.9 s at train2017 scale). Called when an
   * import finishes; label edits move the counts through triggers on image_categories.
   */
  refreshCategoryCounts(datasetId: number, categoryIds?: number[]): void {
    if (!categoryIds) this.#refreshCategoryCounts.run({ d: datasetId, c: null })
    else for (const c of categoryIds) this.#refreshCategoryCounts.run({ d: datasetId, c })
  }

  /**
   * Removes what an import wrote, in one transaction: an import whose worker died, or one a
   * crash left behind (swept at start-up).
   */
  removeImportRows(id: number): void {
    this.db.transaction(() => {
      for (const s of this.#removeImportRows) s.run(id)
    })()
  }

  /**
   * Turns foreign keys off on this connection until the returned function restores them. A
   * removal runs so: SQLite would otherwise look up every child table (most have no index on
   * the parent column) once per deleted row, which is what made a dataset with a run on it
   * take 52 s. `removeImages` and `removeRest` delete the children themselves.
   */
  pauseForeignKeys(): () => void {
    const foreignKeys = this.db.pragma('foreign_keys', { simple: true }) as number
    this.db.pragma('foreign_keys = OFF')
    return () => this.db.pragma(`foreign_keys = ${foreignKeys}`)
  }

  /** Removes the images `lo..hi` of a dataset and everything hanging from them, in one transaction. */
  removeImages(datasetId: number, lo: number, hi: number): void {
    const { images } = this.#removalStatements()
    this.db
      .transaction(() => {
        for (const s of images) s.run({ d: datasetId, lo, hi })
      })
      .immediate()
  }

  /** Removes the dataset row and whatever still hangs from it, in one transaction. */
  removeRest(datasetId: number): void {
    const { dataset } = this.#removalStatements()
    this.db
      .transaction(() => {
        for (const s of dataset) s.run({ d: datasetId })
      })
      .immediate()
  }

  #removalStatements(): { images: Statement[]; dataset: Statement[] } {
    this.#removal ??= {
      images: deleteTree(this.db, 'images', 'dataset_id = @d AND id BETWEEN @lo AND @hi').map(
        (sql) => this.db.prepare(sql),
      ),
      dataset: deleteTree(this.db, 'datasets', 'id = @d').map((sql) => this.db.prepare(sql)),
    }
    return this.#removal
  }
}

export const datasetStore = perDb((db: Db) => new DatasetStore(db))
