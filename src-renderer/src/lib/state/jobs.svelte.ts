import type { Job } from '../../../../src-main/common/api'
import { api } from '../api'

/** Jobs of this session, kept live from `job:progress` events. */
class JobsState {
  byId = $state.raw<Record<string, Job>>({})

  constructor() {
    api.on('job:progress', (job) => (this.byId = { ...this.byId, [job.id]: job }))
    void api.call('jobs:list', {}).then((jobs) => {
      const next = { ...this.byId }
      for (const j of jobs) next[j.id] ??= j
      this.byId = next
    })
  }

  get all(): Job[] {
    return Object.values(this.byId).sort((a, b) => b.startedAt.localeCompare(a.startedAt))
  }

  get running(): Job[] {
    return this.all.filter((j) => j.state === 'running')
  }

  dismiss(id: string): void {
    const next = { ...this.byId }
    delete next[id]
    this.byId = next
  }
}

export const jobs = new JobsState()
