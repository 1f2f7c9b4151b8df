/**
 * The ground truth of one image under edit: its annotations with revisions, undo/redo state and
 * what the last edit warned about. Every change goes through the API (one operation each); a
 * stale revision (another window edited the same annotation) reloads and says so.
 */
import type { LabelChange, LabelImageState } from '../../../../src-main/common/api/labels'
import { api, ApiError } from '../api'

export class LabelEditing {
  state = $state.raw<LabelImageState | null>(null)
  busy = $state(false)
  message = $state<string | null>(null)
  warnings = $state.raw<string[]>([])
  #generation = 0

  constructor(private readonly onchange: (s: LabelImageState) => void = () => {}) {}

  async load(imageId: number): Promise<void> {
    const g = ++this.#generation
    try {
      const s = await api.call('labels:image', { imageId })
      if (g === this.#generation) this.state = s
    } catch (err) {
      if (g === this.#generation) this.message = (err as Error).message
    }
  }

  async #run(
    call: () => Promise<{ image: LabelImageState; warnings: string[] }>,
  ): Promise<boolean> {
    const imageId = this.state?.imageId
    if (imageId === undefined) return false
    const g = ++this.#generation
    this.busy = true
    this.message = null
    try {
      const r = await call()
      if (g !== this.#generation) return false
      this.state = r.image
      this.warnings = r.warnings
      this.onchange(r.image)
      return true
    } catch (err) {
      if (g !== this.#generation) return false
      this.message = (err as Error).message
      if (err instanceof ApiError && err.code === 'CONFLICT') {
        // Show what the other window did, so the next edit starts from it.
        const s = await api.call('labels:image', { imageId })
        this.state = s
        this.onchange(s)
      }
      return false
    } finally {
      if (g === this.#generation) this.busy = false
    }
  }

  edit(changes: LabelChange[]): Promise<boolean> {
    const imageId = this.state!.imageId
    return this.#run(() => api.call('labels:edit', { imageId, changes, source: 'hand' }))
  }

  undo(): Promise<boolean> {
    const imageId = this.state!.imageId
    return this.#run(() => api.call('labels:undo', { imageId }))
  }

  redo(): Promise<boolean> {
    const imageId = this.state!.imageId
    return this.#run(() => api.call('labels:redo', { imageId }))
  }

  revert(operationId: number): Promise<boolean> {
    const imageId = this.state!.imageId
    return this.#run(() => api.call('labels:revert', { imageId, operationId }))
  }

  async accept(
    runId: number,
    q: { predictionIds?: number[]; minScore?: number },
  ): Promise<boolean> {
    const imageId = this.state!.imageId
    return this.#run(async () => {
      const r = await api.call('labels:accept', { runId, imageId, ...q })
      return { image: await api.call('labels:image', { imageId }), warnings: r.warnings }
    })
  }

  /** All of a run's predictions at or above `minScore` on every image of its dataset. */
  acceptDataset(runId: number, minScore: number): Promise<boolean> {
    const imageId = this.state!.imageId
    return this.#run(async () => {
      const r = await api.call('labels:accept', { runId, minScore })
      return {
        image: await api.call('labels:image', { imageId }),
        warnings: [
          `Accepted ${r.created} predictions on ${r.images} images (ground truth v${r.gtVersion}).`,
          ...r.warnings,
        ],
      }
    })
  }

  labelWithModel(modelId: number, minScore: number): Promise<boolean> {
    const imageId = this.state!.imageId
    return this.#run(() => api.call('labels:labelWithModel', { modelId, imageId, minScore }))
  }

  paint(req: {
    tool: 'brush' | 'eraser' | 'polygon'
    labelId: number
    points: number[]
    radius: number
  }): Promise<boolean> {
    const imageId = this.state!.imageId
    return this.#run(() => api.call('labels:paint', { imageId, instance: null, ...req }))
  }

  maskStroke(req: {
    annotationId: number
    revision: number
    tool: 'brush' | 'eraser'
    points: number[]
    radius: number
  }): Promise<boolean> {
    const imageId = this.state!.imageId
    return this.#run(() => api.call('labels:maskStroke', { imageId, ...req }))
  }
}
