/**
 * The `attention_maps` table: one row per run, image and GC block, written by inference runs and
 * by taps on demand alike (the same statement, so both store a map the same way), read back by
 * the viewer. The attention statistics read it through `attentionStats.ts`.
 */
import type { StoredMapRow } from './attentionStats'
import { perDb } from './sql'
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

type RawRow = Omit<StoredMapRow, 'image_id' | 'weights_f16'>

const toMap = (a: RawRow): AttentionMapRow => ({
  block: a.block_index,
  height: a.height,
  width: a.width,
  min: a.min_value,
  max: a.max_value,
  data: new Uint8Array(a.data),
  transform: a.transform_f16
    ? new Uint16Array(
        a.transform_f16.buffer.slice(
          a.transform_f16.byteOffset,
          a.transform_f16.byteOffset + a.transform_f16.byteLength,
        ),
      )
    : null,
})

export class AttentionMapStore {
  readonly #insert
  readonly #forImage

  constructor(db: Db) {
    this.#insert = db.prepare<
      [number, number, number, number, number, number, number, Buffer, Buffer | null, Buffer | null]
    >(
      `INSERT OR REPLACE INTO attention_maps (run_id, image_id, block_index, height, width, min_value, max_value, data, transform_f16, weights_f16)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.#forImage = db.prepare<[number, number], RawRow>(
      'SELECT block_index, height, width, min_value, max_value, data, transform_f16 FROM attention_maps WHERE run_id = ? AND image_id = ? ORDER BY block_index',
    )
  }

  /** Writes (or replaces) one image's maps. */
  write(runId: number, imageId: number, maps: readonly AttentionMapRow[]): void {
    for (const a of maps)
      this.#insert.run(
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

  /** One image's maps by block, without the weights (the viewer's). */
  forImage(runId: number, imageId: number): AttentionMapRow[] {
    return this.#forImage.all(runId, imageId).map(toMap)
  }
}

export const attentionMapStore = perDb((db: Db) => new AttentionMapStore(db))
