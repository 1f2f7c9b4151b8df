/**
 * Rules every store module follows, written once.
 *
 * Time: the store writes every timestamp as ISO 8601 UTC with milliseconds
 * (`2026-12-01T14:40:02.123Z`), computed by SQLite in SQL (`NOW`) or, for rows whose time is
 * known before they are written (a job's start), by `nowIso()`: the two give the same text, so
 * times sort and compare as strings across tables.
 *
 * Ground truth: annotations are read through the `live_annotations` view (migration 10), never
 * `annotations` itself, so a soft-deleted row is never seen by an evaluation, a browser page,
 * the attention statistics or an export. Only the label editor, which owns deletion and undo,
 * and the import/removal of whole datasets touch the table.
 *
 * Datasets: the visible ones are read through the `live_datasets` view (migration 11), never
 * `datasets` itself, so a dataset still importing or being removed is never seen by a list, an
 * image's detail or file, the label editor or a CLI lookup. The table itself is read by what
 * must see every status (the import, the removal and the start-up sweeps in
 * core/store/datasets.ts and core/store/datasetImport.ts) and by joins from rows that already
 * belong to a dataset (a run's, a comparison's).
 */
export const NOW = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`

export const nowIso = (): string => new Date().toISOString()

export const LIVE_ANNOTATIONS = 'live_annotations'

export const LIVE_DATASETS = 'live_datasets'

/**
 * One instance of a store module per open connection, so its statements are prepared once
 * (at first use) and reused by every service, worker and CLI command on that connection:
 * `export const datasetStore = perDb((db) => new DatasetStore(db))`, then
 * `datasetStore(db).list()`. A closed connection's instance goes with it (WeakMap).
 */
export function perDb<Db extends object, T>(make: (db: Db) => T): (db: Db) => T {
  const made = new WeakMap<Db, T>()
  return (db) => {
    let it = made.get(db)
    if (it === undefined) {
      it = make(db)
      made.set(db, it)
    }
    return it
  }
}
