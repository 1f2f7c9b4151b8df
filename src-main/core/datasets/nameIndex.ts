import type { Db } from '../store/store'

interface Names {
  ids: Int32Array
  /** Lower-cased file names, in id order (the grid's order). */
  names: string[]
}

/**
 * File-name search as a scan of the names held in memory: a substring (`LIKE '%x%'`) can use
 * no B-tree index, and SQLite's scan of 118k names, twice per page (count and page), cost
 * 40-70 ms; FTS5's trigram index is fast for rare substrings but 5-10x slower than the scan for
 * common ones ("000"). Here the names of the datasets being browsed are read once (about 5 MB
 * at train2017 scale) and a search is a loop of `includes`, a few milliseconds whatever the
 * term; pages after the first reuse the match list. File names never change after import, so
 * only a new import or a deletion of the dataset invalidates them.
 */
export class FileNameIndex {
  #byDataset = new Map<number, Names>()
  #matches = new Map<string, Int32Array>()

  constructor(private readonly keep = 2) {}

  /** Ids of the dataset's images whose file name contains `term` (case-insensitive), in id order. */
  search(db: Db, datasetId: number, term: string): Int32Array {
    const needle = term.toLowerCase()
    const key = `${datasetId}\u0000${needle}`
    const hit = this.#matches.get(key)
    if (hit) {
      this.#matches.delete(key)
      this.#matches.set(key, hit)
      return hit
    }
    const { ids, names } = this.#names(db, datasetId)
    const out: number[] = []
    for (let k = 0; k < names.length; k++) if (names[k]!.includes(needle)) out.push(ids[k]!)
    const found = Int32Array.from(out)
    this.#matches.set(key, found)
    if (this.#matches.size > 32) this.#matches.delete(this.#matches.keys().next().value!)
    return found
  }

  invalidate(datasetId: number | null): void {
    if (datasetId === null) {
      this.#byDataset.clear()
      this.#matches.clear()
      return
    }
    this.#byDataset.delete(datasetId)
    for (const k of [...this.#matches.keys()])
      if (k.startsWith(`${datasetId}\u0000`)) this.#matches.delete(k)
  }

  #names(db: Db, datasetId: number): Names {
    let entry = this.#byDataset.get(datasetId)
    if (entry) {
      this.#byDataset.delete(datasetId)
      this.#byDataset.set(datasetId, entry)
      return entry
    }
    const rows = db
      .prepare('SELECT id, file_name FROM images WHERE dataset_id = ? ORDER BY id')
      .raw()
      .all(datasetId) as [number, string][]
    entry = {
      ids: Int32Array.from(rows, (r) => r[0]),
      names: rows.map((r) => r[1].toLowerCase()),
    }
    this.#byDataset.set(datasetId, entry)
    if (this.#byDataset.size > this.keep) {
      const oldest = this.#byDataset.keys().next().value!
      this.invalidate(oldest)
    }
    return entry
  }
}
