import type { Model, Run } from '../../../../src-main/common/api'
import { api } from '../api'

/** Imported models and the runs of this studio, kept live from main's events. */
class ModelsState {
  list = $state.raw<Model[]>([])
  loaded = $state(false)

  constructor() {
    api.on('model:changed', () => void this.refresh())
  }

  async refresh(): Promise<void> {
    this.list = await api.call('models:list', {})
    this.loaded = true
  }

  get(id: number): Model | undefined {
    return this.list.find((m) => m.id === id)
  }
}

class RunsState {
  byId = $state.raw<Record<number, Run>>({})
  loaded = $state(false)

  constructor() {
    api.on('run:progress', (run) => (this.byId = { ...this.byId, [run.id]: run }))
  }

  async refresh(): Promise<void> {
    const runs = await api.call('runs:list', {})
    this.byId = Object.fromEntries(runs.map((r) => [r.id, r]))
    this.loaded = true
  }

  get all(): Run[] {
    return Object.values(this.byId).sort((a, b) => b.id - a.id)
  }

  forDataset(datasetId: number): Run[] {
    return this.all.filter((r) => r.datasetId === datasetId)
  }
}

export const models = new ModelsState()
export const runs = new RunsState()
