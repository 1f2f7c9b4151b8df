import type { ImageSummary } from '../../../../src-main/common/api'
import { api } from '../api'

export const PAGE = 200

/**
 * The grid's filter and a page cache for one dataset. The grid asks for the pages it shows;
 * the viewer walks the same filtered list by index for its arrow keys.
 */
export class BrowseState {
  categoryIds = $state.raw<number[]>([])
  search = $state('')
  missingOnly = $state(false)
  total = $state<number | null>(null)
  /**
   * The image the user last opened or moved to (grid arrow keys, the viewer's ← →): the grid
   * comes back with it in view and focused after Esc, instead of at image 1.
   */
  focusIndex = $state<number | null>(null)
  #pages = $state.raw<Record<number, ImageSummary[]>>({})
  #loading = new Set<number>()
  #generation = 0

  constructor(readonly datasetId: number) {}

  get filterKey(): string {
    return JSON.stringify([this.categoryIds, this.search.trim(), this.missingOnly])
  }

  /** The filter as `images:query` and `images:locate` take it. */
  get filter(): { categoryIds?: number[]; search?: string; missingOnly?: true } {
    return {
      ...(this.categoryIds.length ? { categoryIds: this.categoryIds } : {}),
      ...(this.search.trim() ? { search: this.search.trim() } : {}),
      ...(this.missingOnly ? { missingOnly: true as const } : {}),
    }
  }

  reset(): void {
    this.focusIndex = null
    this.#generation++
    this.#pages = {}
    this.#loading.clear()
    this.total = null
    void this.ensurePage(0)
  }

  item(index: number): ImageSummary | undefined {
    return this.#pages[Math.floor(index / PAGE)]?.[index % PAGE]
  }

  async ensurePage(page: number): Promise<void> {
    if (this.#pages[page] || this.#loading.has(page)) return
    this.#loading.add(page)
    const gen = this.#generation
    try {
      const res = await api.call('images:query', {
        datasetId: this.datasetId,
        offset: page * PAGE,
        limit: PAGE,
        ...this.filter,
      })
      if (gen !== this.#generation) return
      this.total = res.total
      this.#pages = { ...this.#pages, [page]: res.items }
    } finally {
      this.#loading.delete(page)
    }
  }

  async itemAt(index: number): Promise<ImageSummary | undefined> {
    await this.ensurePage(Math.floor(index / PAGE))
    return this.item(index)
  }
}

const states = new Map<number, BrowseState>()

export function browseState(datasetId: number): BrowseState {
  let s = states.get(datasetId)
  if (!s) {
    s = new BrowseState(datasetId)
    states.set(datasetId, s)
  }
  return s
}
