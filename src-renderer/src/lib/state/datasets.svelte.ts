import type { Category, Dataset } from '../../../../src-main/common/api'
import { api } from '../api'

/** The dataset list and, per dataset, its categories; refreshed when main says they changed. */
class DatasetsState {
  list = $state.raw<Dataset[]>([])
  loaded = $state(false)
  error = $state<string | null>(null)
  #categories = $state.raw<Record<number, Category[]>>({})

  constructor() {
    api.on('dataset:changed', () => void this.refresh())
  }

  async refresh(): Promise<void> {
    try {
      this.list = await api.call('datasets:list', {})
      this.error = null
    } catch (err) {
      this.error = (err as Error).message
    } finally {
      this.loaded = true
    }
  }

  get(id: number): Dataset | undefined {
    return this.list.find((d) => d.id === id)
  }

  categories(id: number): Category[] | undefined {
    return this.#categories[id]
  }

  async loadCategories(id: number): Promise<Category[]> {
    const { categories } = await api.call('datasets:get', { id })
    this.#categories = { ...this.#categories, [id]: categories }
    return categories
  }
}

export const datasets = new DatasetsState()
