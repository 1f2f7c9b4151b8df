import type { ImageInference } from '../../../src-main/common/api'
import { api } from '../lib/api'
import { labelMapCanvas } from '../viz/heatmap'
import type { Rgb } from './layers'

/** Where a viewer's predictions and attention come from. */
export type PredictionSource =
  { kind: 'none' } | { kind: 'run'; runId: number } | { kind: 'model'; modelId: number }

export const noSource: PredictionSource = { kind: 'none' }

/** A <select> value for a source (the DOM speaks strings; the state does not). */
export function sourceKey(s: PredictionSource): string {
  switch (s.kind) {
    case 'none':
      return 'none'
    case 'run':
      return `run:${s.runId}`
    case 'model':
      return `model:${s.modelId}`
  }
}

export function sameSource(a: PredictionSource, b: PredictionSource): boolean {
  return sourceKey(a) === sourceKey(b)
}

/**
 * One image's predictions and attention from a source: a stored run's result, or the model run
 * on this image now (`inference:image`). A generation guard drops answers for an image or a
 * source the viewer has left. The predicted label map is coloured with the dataset's colours.
 */
export class PredictionState {
  source = $state.raw<PredictionSource>(noSource)
  result = $state.raw<ImageInference | null>(null)
  error = $state<string | null>(null)
  running = $state(false)
  labelMap = $state.raw<HTMLCanvasElement | null>(null)
  #generation = 0

  /** Must be built while a component initialises: the label map follows result and colours. */
  constructor(colors: () => Map<number, Rgb>) {
    $effect(() => {
      const png = this.result?.semanticPng
      const cols = colors()
      this.labelMap = null
      if (!png) return
      let alive = true
      void labelMapCanvas(png, cols).then((c) => alive && (this.labelMap = c))
      return () => {
        alive = false
      }
    })
  }

  /** Shows `source` for `imageId`: a stored run's row, or a live forward pass of the model. */
  async load(source: PredictionSource, imageId: number): Promise<void> {
    const generation = ++this.#generation
    this.source = source
    this.result = null
    this.error = null
    this.running = source.kind === 'model'
    try {
      let r: ImageInference | null
      if (source.kind === 'none') r = null
      else if (source.kind === 'run')
        r = await api.call('runs:imageResult', { runId: source.runId, imageId })
      else r = await api.call('inference:image', { modelId: source.modelId, imageId, taps: true })
      if (generation !== this.#generation) return
      this.result = r
      if (source.kind === 'run' && !r) this.error = 'This run has not reached this image.'
      else if (r?.status === 'error') this.error = r.error ?? 'This image failed in the model.'
    } catch (err) {
      if (generation === this.#generation) this.error = (err as Error).message
    } finally {
      if (generation === this.#generation) this.running = false
    }
  }
}
