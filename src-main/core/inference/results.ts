import type { AttentionMap, ImageInference, Prediction } from '../../common/api'
import type { GcBlockInfo } from '../../common/api'
import { rleCountsFromString } from '../datasets/segmentation'
import { attentionMapStore, type AttentionMapRow } from '../store/attentionMaps'
import { predictionStore } from '../store/predictions'
import { runStore } from '../store/runs'
import type { Db } from '../store/store'
import { fromFloat16 } from './float16'
import type { ItemResult } from './protocol'

function attentionMap(a: AttentionMapRow, blocks: GcBlockInfo[]): AttentionMap {
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
  const image = runStore(db).image(runId, imageId)
  if (!image) return null
  const { geometry } = image
  const semantic = predictionStore(db).semanticPng(runId, imageId)
  const att = attentionMapStore(db).forImage(runId, imageId)
  const predictions: Prediction[] = predictionStore(db)
    .forImage(runId, imageId)
    .map((p) => ({
      categoryId: p.categoryId,
      score: p.score,
      bbox: p.bbox,
      mask:
        p.maskRle && geometry
          ? {
              size: [geometry.height, geometry.width],
              counts: rleCountsFromString(p.maskRle, geometry.height, geometry.width),
            }
          : null,
    }))
  return {
    imageId,
    status: image.status,
    error: image.error,
    geometry,
    predictions: semantic ? null : predictions,
    semanticPng: semantic ? semantic.toString('base64') : null,
    attention: att.length ? att.map((a) => attentionMap(a, blocks)) : null,
    timings: image.timings,
    executionProvider: ep,
  }
}
