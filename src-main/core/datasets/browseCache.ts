import { datasetStore } from '../store/datasets'
import { imageStore } from '../store/images'
import type { Db } from '../store/store'

interface Names {
  ids: Int32Array
  /** Lower-cased file names in id order (the grid's order), joined by newlines. */
  all: string
  /** Where each name starts in `all`. */
  starts: Int32Array
}

/**
 * What makes grid pages cheap at train2017 scale, kept per studio:
 *
 * File-name search as a scan of the names held in memory: a substring (`LIKE '%x%'`) can use
 * no B-tree index, and SQLite's scan of 118k names, twice per page (count and page), cost
 * 40-70 ms; FTS5's trigram index is fast for rare substrings but 5-10x slower than the scan for
 * common ones ("000"). Here the names of the datasets being browsed are read once (about 5 MB
 * at train2017 scale) and a search is a loop of `includes`, a few milliseconds whatever the
 * term; pages after the first reuse the match list. File names never change after import, so
 * only a new import or a deletion of the dataset invalidates them.
 */
export class BrowseCache {
  #byDataset = new Map<number, Names>()
  #matches = new Map<string, Int32Array>()
  #classTotals = new Map<string, number>()

  /**
   * How many images hold one of `categoryIds`: counted once per ground-truth version (every
   * label edit bumps it), not on every page of the grid.
   */
  classTotal(
    db: Db,
    datasetId: number,
    categoryIds: readonly number[],
    count: () => number,
  ): number {
    const gt = datasetStore(db).gtVersion(datasetId)
    const key = `${datasetId}:${String(gt)}:${[...categoryIds].sort((a, b) => a - b).join(',')}`
    let n = this.#classTotals.get(key)
    if (n === undefined) {
      n = count()
      this.#classTotals.set(key, n)
      if (this.#classTotals.size > 256)
        this.#classTotals.delete(this.#classTotals.keys().next().value!)
    }
    return n
  }

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
    const { ids, all, starts } = this.#names(db, datasetId)
    const out: number[] = []
    // indexOf over one string is several times faster than includes() per name; a match never
    // spans two names because no name (and no needle that can match) holds a newline.
    if (!needle.includes('\n')) {
      let at = all.indexOf(needle)
      while (at >= 0) {
        let lo = 0
        let hi = starts.length - 1
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1
          if (starts[mid]! <= at) lo = mid
          else hi = mid - 1
        }
        out.push(ids[lo]!)
        const next = lo + 1 < starts.length ? starts[lo + 1]! : all.length
        at = all.indexOf(needle, next)
      }
    }
    const found = Int32Array.from(out)
    this.#matches.set(key, found)
    if (this.#matches.size > 32) this.#matches.delete(this.#matches.keys().next().value!)
    return found
  }

  invalidate(datasetId: number | null): void {
    if (datasetId === null) {
      this.#byDataset.clear()
      this.#matches.clear()
      this.#classTotals.clear()
      return
    }
    this.#byDataset.delete(datasetId)
    for (const k of [...this.#classTotals.keys()])
      if (k.startsWith(`${datasetId}:`)) this.#classTotals.delete(k)
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
    const rows = imageStore(db).names(datasetId)
    // Lower-cased first: lower-casing can change a name's length (İ), and starts must match.
    const lower = rows.map((r) => r[1].toLowerCase())
    const starts = new Int32Array(rows.length)
    let pos = 0
    lower.forEach((name, k) => {
      starts[k] = pos
      pos += name.length + 1
    })
    entry = { ids: Int32Array.from(rows, (r) => r[0]), all: lower.join('\n'), starts }
    this.#byDataset.set(datasetId, entry)
    if (this.#byDataset.size > this.keep) {
      const oldest = this.#byDataset.keys().next().value!
      this.invalidate(oldest)
    }
    return entry
  }
}
