import type { LabelMapping, PreprocessSpec } from '../../../common/models'
import type { AdapterOptions, Detection, OutTensor } from '../../inference/adapters'
import type { Geometry } from '../../inference/preprocess'
import type { MmdeployInfo } from '../mmdeploy'
import type { Graph } from '../onnx'
import type { ModelFormat, ModelTask, TensorInfo } from './tensors'

/** What a format knows about a model before any sidecar: the import's defaults. */
export interface FormatDefaults {
  preprocess: PreprocessSpec
  labelMapping: LabelMapping
  scoreThreshold: number
  /** Where each default came from, shown on the model card. */
  sources: string[]
}

export interface FormatContext {
  /** mmdeploy's description, when the model came as an mmdeploy folder. */
  mmdeploy: MmdeployInfo | null
  /** The graph's input (w, h) when it is static. */
  staticHw: [number, number] | null
}

/** A model's outputs turned into what a run stores. */
export interface Adapted {
  detections: Detection[] | null
  /** Model labels per image pixel (semantic segmentation). */
  labels: Uint8Array | null
}

/**
 * One exporter's format: how to recognise its graph, how to feed it, and how to read its
 * outputs. Adding a format is adding one module to `formats/` and listing it in `index.ts`.
 */
export interface ModelFormatSpec {
  id: ModelFormat
  task: ModelTask
  /** Its outputs in words, for the message listing the supported formats. */
  expectedOutputs: string
  /** Whether a graph with these outputs was written by this exporter. */
  recognises(outputs: TensorInfo[]): boolean
  defaults(ctx: FormatContext): FormatDefaults
  /** How many classes the graph predicts, when it says (background not counted). */
  classCount(g: Graph): number | null
  /**
   * Model outputs to results. `primary` is the model's own first output (taps excluded).
   */
  adapt(
    outputs: Record<string, OutTensor>,
    primary: OutTensor | undefined,
    g: Geometry,
    o: AdapterOptions,
  ): Adapted
  /**
   * An onnxruntime failure this exporter is known to raise where the answer is "nothing
   * detected" (recognised precisely: every other error is a failure of the image).
   */
  emptyResultFailure?(message: string): boolean
}
