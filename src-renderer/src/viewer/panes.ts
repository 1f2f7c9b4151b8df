import type { Outline } from './layers'

/** One pane of the side-by-side viewer. */
export interface PaneSpec {
  /** The stored run this pane shows; null for a model run live on each image. */
  runId: number | null
  modelId?: number
  label: string
  /** Instances this run fixed (green) or broke (red) against a comparison's reference run. */
  outlines?: Outline[]
}
