import type { AttentionMap, ImageInference, Prediction } from '../../common/api'
import type { GcBlockInfo } from '../../common/api'
import { rleCountsFromString } from '../datasets/segmentation'
import type { Db } from '../store/store'
import { fromFloat16 } from './float16'
import type { Geometry } from './preprocess'
import type { ItemResult } from './protocol'

function attentionMap(
  a: {
    block: number
    height: number
    width: number
    min: number
    max: number
    data: Uint8Array
    transform: Uint16Array | null
  },
  blocks: GcBlockInfo[],
): AttentionMap {
  const info = blocks.find((b) => b.index === a.block)
  return {
    block: a.block,
    stage: info?.stage ?? null,
    indexInStage: info?.indexInStage ?? a.block,
    channels: info?.channels ?? a.transform?.length ?? 0,
    height: a.height,
    width: a.width,
    min: a.min,
    max: a.max,
    data: Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).toString('base64'),
    transform: a.transform ? Array.from(a.transform, fromFloat16) : null,
  }
}

/** A fresh result (the viewer's run-this-image) in the API's shape. */
export function inferenceFromItem(
  r: ItemResult,
  blocks: GcBlockInfo[],
  ep: string | null,
): ImageInference {
  const { width, height } = r.geometry
  return {
    imageId: r.imageId,
    status: 'done',
    error: r.note,
    geometry: r.geometry,
    predictions: r.detections
      ? r.detections
          .filter((d) => d.categoryId !== null)
          .map((d) => ({
            categoryId: d.categoryId!,
            score: d.score,
            bbox: d.bbox,
            mask: d.maskRle
              ? {
                  size: [height, width] as [number, number],
                  counts: rleCountsFromString(d.maskRle, height, width),
                }
              : null,
          }))
      : null,
    semanticPng: r.semanticPng ? Buffer.from(r.semanticPng).toString('base64') : null,
    attention: r.attention ? r.attention.map((a) => attentionMap(a, blocks)) : null,
    timings: r.timings,
    executionProvider: ep,
  }
}

/** A stored result of one image in one run, or null when the run has not reached it. */
export function storedInference(
  db: Db,
  runId: number,
  imageId: number,
  blocks: GcBlockInfo[],
  ep: string | null,
): ImageInference | null {
  const row = db
    .prepare(
      'SELECT status, error, preprocess_ms, inference_ms, postprocess_ms, meta FROM run_images WHERE run_id = ? AND image_id = ?',
    )
    .get(runId, imageId) as
    | {
        status: 'done' | 'error'
        error: string | null
        preprocess_ms: number | null
        inference_ms: number | null
        postprocess_ms: number | null
        meta: string | null
      }
    | undefined
  if (!row) return null
  const geometry = row.meta ? (JSON.parse(row.meta) as Geometry) : null
  const preds = db
    .prepare(
      'SELECT category_id, score, bbox_x, bbox_y, bbox_w, bbox_h, mask_rle FROM predictions WHERE run_id = ? AND image_id = ? ORDER BY score DESC',
    )
    .all(runId, imageId) as {
    category_id: number
    score: number
    bbox_x: number
    bbox_y: number
    bbox_w: number
    bbox_h: number
    mask_rle: string | null
  }[]
  const semantic = db
    .prepare('SELECT png FROM semantic_outputs WHERE run_id = ? AND image_id = ?')
    .get(runId, imageId) as { png: Buffer } | undefined
  const att = db
    .prepare(
      'SELECT block_index, height, width, min_value, max_value, data, transform_f16 FROM attention_maps WHERE run_id = ? AND image_id = ? ORDER BY block_index',
    )
    .all(runId, imageId) as {
    block_index: number
    height: number
    width: number
    min_value: number
    max_value: number
    data: Buffer
    transform_f16: Buffer | null
  }[]
  const predictions: Prediction[] = preds.map((p) => ({
    categoryId: p.category_id,
    score: p.score,
    bbox: [p.bbox_x, p.bbox_y, p.bbox_w, p.bbox_h],
    mask:
      p.mask_rle && geometry
        ? {
            size: [geometry.height, geometry.width],
            counts: rleCountsFromString(p.mask_rle, geometry.height, geometry.width),
          }
        : null,
  }))
  return {
    imageId,
    status: row.status,
    error: row.error,
    geometry,
    predictions: semantic ? null : predictions,
    semanticPng: semantic ? semantic.png.toString('base64') : null,
    attention: att.length
      ? att.map((a) =>
          attentionMap(
            {
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
            },
            blocks,
          ),
        )
      : null,
    timings:
      row.inference_ms !== null
        ? {
            preprocessMs: row.preprocess_ms ?? 0,
            inferenceMs: row.inference_ms,
            postprocessMs: row.postprocess_ms ?? 0,
          }
        : null,
    executionProvider: ep,
  }
}
