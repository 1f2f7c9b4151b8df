import type { ReportListItem, ReportTarget } from '../../../../src-main/common/api/reports'
import { api } from '../api'

/** The last reports, refreshed when one is written or removed. */
class ReportsState {
  list = $state.raw<ReportListItem[]>([])
  #generation = 0

  constructor() {
    api.on('report:changed', () => void this.refresh())
  }

  async refresh(): Promise<void> {
    const generation = ++this.#generation
    const list = await api.call('reports:list', {})
    // A slower, older answer must not overwrite a newer one.
    if (generation === this.#generation) this.list = list
  }

  /** The newest report of a target, once its job is done. */
  latestFor(target: ReportTarget): ReportListItem | undefined {
    const key = JSON.stringify(target)
    return this.list.find((r) => JSON.stringify(r.target) === key)
  }
}

export const reports = new ReportsState()
