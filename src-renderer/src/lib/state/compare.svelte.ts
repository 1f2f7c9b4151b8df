/**
 * Comparisons in the renderer: the runs picked for comparing (checkboxes in Runs, shift-click for
 * ranges), the stored comparisons, and the one open comparison with its difference list.
 */
import type {
  CompareImage,
  CompareRequest,
  ComparisonDetail,
  Comparison,
} from '../../../../src-main/common/api/compare'
import { api, ApiError } from '../api'

class CompareSelection {
  ids = $state.raw<number[]>([])
  #anchor: number | null = null

  /** Toggles a run; with shift, sets the whole range from the last click to this one. */
  toggle(id: number, shift: boolean, ordered: readonly number[]): void {
    if (shift && this.#anchor !== null && ordered.includes(this.#anchor)) {
      const a = ordered.indexOf(this.#anchor)
      const b = ordered.indexOf(id)
      const range = ordered.slice(Math.min(a, b), Math.max(a, b) + 1)
      this.ids = [...new Set([...this.ids, ...range])]
    } else {
      this.ids = this.ids.includes(id) ? this.ids.filter((x) => x !== id) : [...this.ids, id]
    }
    this.#anchor = id
  }

  clear(): void {
    this.ids = []
    this.#anchor = null
  }
}

export const compareSelection = new CompareSelection()

export interface CompareProgress {
  phase: string
  done: number
  total: number | null
}

class Comparisons {
  list = $state.raw<Comparison[]>([])
  loaded = $state(false)
  creating = $state(false)
  progress = $state.raw<CompareProgress | null>(null)
  error = $state<string | null>(null)

  constructor() {
    api.on('compare:progress', (p) => {
      if (this.creating) this.progress = { phase: p.phase, done: p.done, total: p.total }
    })
  }

  async refresh(): Promise<void> {
    this.list = await api.call('compare:list', {})
    this.loaded = true
  }

  /** Creates a comparison; resolves with its id, or null with `error` set. */
  async create(request: CompareRequest): Promise<number | null> {
    this.creating = true
    this.error = null
    this.progress = { phase: 'Checking and evaluating runs', done: 0, total: null }
    try {
      const c = await api.call('compare:create', request)
      await this.refresh()
      return c.id
    } catch (err) {
      this.error = err instanceof ApiError ? err.message : String(err)
      return null
    } finally {
      this.creating = false
      this.progress = null
    }
  }

  async remove(id: number): Promise<void> {
    await api.call('compare:delete', { id })
    await this.refresh()
  }
}

export const comparisons = new Comparisons()

/** One open comparison: its detail and the difference list in its current order. */
export class OpenComparison {
  detail = $state.raw<ComparisonDetail | null>(null)
  error = $state<string | null>(null)
  images = $state.raw<CompareImage[]>([])
  total = $state(0)
  runId = $state<number | null>(null)
  order = $state<'net' | 'delta'>('net')
  scoreThreshold = $state(0.5)
  #generation = 0

  constructor(readonly id: number) {}

  async load(): Promise<void> {
    try {
      const detail = await api.call('compare:get', { id: this.id })
      this.detail = detail
      this.runId = detail.runIds[1] ?? null
      this.scoreThreshold = detail.scoreThreshold
      await this.loadImages()
    } catch (err) {
      this.error = err instanceof ApiError ? err.message : String(err)
    }
  }

  async loadImages(): Promise<void> {
    if (!this.detail || this.runId === null) return
    const generation = ++this.#generation
    const page = await api.call('compare:images', {
      id: this.id,
      runId: this.runId,
      order: this.order,
      ...(this.detail.kind === 'coco' ? { scoreThreshold: this.scoreThreshold } : {}),
      limit: 500,
    })
    // A slower answer to an earlier question must not overwrite a newer one.
    if (generation !== this.#generation) return
    this.images = page.images
    this.total = page.total
  }
}
