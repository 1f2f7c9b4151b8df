/**
 * The image list an evaluation view opened the viewer from: its image ids in the list's current
 * order (sort, class and confusion-cell filters applied), so ←/→ in the viewer step through the
 * same list, with that run's predictions shown.
 */
import { router } from './router.svelte'

export interface EvaluationNavList {
  evaluationId: number
  runId: number
  datasetId: number
  imageIds: number[]
  /** What the list is, for the viewer's counter ("FP ↓, class car"). */
  label: string
}

class EvaluationNav {
  list = $state.raw<EvaluationNavList | null>(null)

  open(list: EvaluationNavList, imageId: number): void {
    this.list = list
    const index = list.imageIds.indexOf(imageId)
    router.go({
      name: 'image',
      datasetId: list.datasetId,
      imageId,
      index: index < 0 ? null : index,
      runId: list.runId,
    })
  }

  /** Position of an image in the list the viewer was opened from, or null when not from one. */
  position(datasetId: number, runId: number | null, imageId: number): number | null {
    const list = this.list
    if (!list || list.datasetId !== datasetId || list.runId !== runId) return null
    const i = list.imageIds.indexOf(imageId)
    return i < 0 ? null : i
  }

  /** Steps through the list; false when the viewer was not opened from one (or at its ends). */
  step(datasetId: number, runId: number | null, imageId: number, delta: number): boolean {
    const i = this.position(datasetId, runId, imageId)
    if (i === null) return false
    const next = this.list!.imageIds[i + delta]
    if (next === undefined) return true
    router.go({ name: 'image', datasetId, imageId: next, index: i + delta, runId }, true)
    return true
  }
}

export const evaluationNav = new EvaluationNav()
