import type { Job } from '../../../../src-main/common/api'
import { api } from '../api'

/** Jobs of this session, kept live from `job:progress` events. */
class JobsState {
  byId = $state.raw<Record<string, Job>>({})

  constructor() {
    api.on('job:progress', (job) => (this.byId = { ...this.byId, [job.id]: job }))
    // Jobs still running when the window opens are shown; those that ended before (the demo
    // imports of a first start, say) are history, not news.
    void api.call('jobs:list', {}).then((jobs) => {
      const next = { ...this.byId }
      for (const j of jobs) if (j.state === 'running') next[j.id] ??= j
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
