import type { ErrorShape } from '../../common/errors'
import type { ModelConfig } from '../../common/models'
import type { BlockTaps } from '../models/taps'
import type { Detection } from './adapters'
import type { Geometry } from './preprocess'

/** Execution providers in the order they are tried; the first that creates a session wins. */
export const executionProviders = ['cuda', 'dml', 'coreml', 'cpu'] as const
export type ExecutionProvider = (typeof executionProviders)[number]
export type EpChoice = ExecutionProvider | 'auto'

export interface InferItem {
  imageId: number
  file: string
  /** Annotated (oriented) size. */
  width: number
  height: number
  /** null: not probed yet (large datasets); the inference process decides from the file. */
  applyOrientation: boolean | null
}

export interface AttentionTap {
  block: number
  height: number
  width: number
  min: number
  max: number
  /** Softmax weights scaled to 0..255 between min and max, row-major. */
  data: Uint8Array
  /** The block's transform output (channel_add term), C float16 values. */
  transform: Uint16Array | null
  /** The softmax weights as float16, row-major (exact enough for attention statistics). */
  weights?: Uint16Array
}

export interface ItemResult {
  imageId: number
  geometry: Geometry
  detections: Detection[] | null
  /** Semantic map as dataset category ids (PNG, one channel). */
  semanticPng: Uint8Array | null
  attention: AttentionTap[] | null
  timings: { preprocessMs: number; inferenceMs: number; postprocessMs: number }
  /** Set when the result stands in for a failure the format is known for. */
  note: string | null
}

export type ToWorker =
  | {
      type: 'init'
      seq: number
      modelPath: string
      config: ModelConfig
      taps: BlockTaps[] | null
      ep: EpChoice
      threads: number
      /** Model label -> dataset category id (null: unmapped). */
      labelTable: (number | null)[]
      nativeSharp?: never
    }
  | { type: 'infer'; seq: number; items: InferItem[] }
  | { type: 'cancel' }
  | { type: 'shutdown' }

export type FromWorker =
  | {
      type: 'ready'
      seq: number
      ep: ExecutionProvider
      inputs: string[]
      outputs: string[]
      triedEps: string[]
    }
  | { type: 'result'; seq: number; result: ItemResult }
  | { type: 'imageError'; seq: number; imageId: number; message: string }
  | { type: 'batchDone'; seq: number; cancelled: boolean }
  | { type: 'fatal'; seq: number; error: ErrorShape }
