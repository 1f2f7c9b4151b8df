import type { Run } from '../../../../src-main/common/api'
import type { AttentionStats } from '../../../../src-main/common/api/attention'
import { api, ApiError } from '../api'

/**
 * One run's attention statistics in the Attention view: the stored ones when there are, else a
 * computation on request (on the main side's worker). A generation counter drops answers for a
 * run or parameters the user has already left.
 */
export class AttentionState {
  run = $state.raw<Run | null>(null)
  stats = $state.raw<AttentionStats | null>(null)
  contextDistance = $state(32)
  busy = $state(false)
  error = $state<string | null>(null)
  #generation = 0

  async load(runId: number): Promise<void> {
    const gen = ++this.#generation
    this.error = null
    try {
      const run = await api.call('runs:get', { id: runId })
      const stats = await api.call('attention:stats', {
        runId,
        params: { contextDistance: this.contextDistance },
      })
      if (gen !== this.#generation) return
      this.run = run
      this.stats = stats
    } catch (err) {
      if (gen === this.#generation) this.error = message(err)
    }
  }

  /** A run made without taps: compute its attention maps, then its statistics. */
  get canTap(): boolean {
    return Boolean(this.run && !this.run.settings.taps && this.run.gcBlocks > 0)
  }

  async tap(): Promise<void> {
    if (!this.run) return
    this.busy = true
    this.error = null
    try {
      await api.call('attention:tap', { runId: this.run.id })
      this.busy = false
      await this.compute()
    } catch (err) {
      this.error = message(err)
    } finally {
      this.busy = false
    }
  }

  async compute(): Promise<void> {
    if (!this.run) return
    const gen = ++this.#generation
    this.busy = true
    this.error = null
    try {
      const stats = await api.call('attention:compute', {
        runId: this.run.id,
        params: { contextDistance: this.contextDistance },
      })
      if (gen === this.#generation) this.stats = stats
    } catch (err) {
      if (gen === this.#generation) this.error = message(err)
    } finally {
      if (gen === this.#generation) this.busy = false
    }
  }
}

export const message = (err: unknown): string =>
  err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err)
