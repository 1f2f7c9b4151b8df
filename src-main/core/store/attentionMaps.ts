/**
 * The `attention_maps` table: one row per run, image and GC block, written by inference runs and
 * by taps on demand alike (the same statement, so both store a map the same way).
 */
import type { Db } from './store'

/** One block's tap as the inference process sends it (see `core/inference/protocol.ts`). */
export interface AttentionMapRow {
  block: number
  height: number
  width: number
  min: number
  max: number
  /** Softmax weights scaled to 0..255 between min and max, row-major. */
  data: Uint8Array
  /** The transform output (channel_add term) as float16. */
  transform: Uint16Array | null
  /** The softmax weights as float16 (attention statistics read these). */
  weights?: Uint16Array | undefined
}

const bytes = (a: Uint16Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)

/** Prepares the insert once; the returned function writes (or replaces) one image's maps. */
export function attentionMapWriter(
  db: Db,
): (runId: number, imageId: number, maps: readonly AttentionMapRow[]) => void {
  const insert = db.prepare(
    `INSERT OR REPLACE INTO attention_maps (run_id, image_id, block_index, height, width, min_value, max_value, data, transform_f16, weights_f16)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  return (runId, imageId, maps) => {
    for (const a of maps)
      insert.run(
        runId,
        imageId,
        a.block,
        a.height,
        a.width,
        a.min,
        a.max,
        Buffer.from(a.data),
        a.transform ? bytes(a.transform) : null,
        a.weights ? bytes(a.weights) : null,
      )
  }
}
