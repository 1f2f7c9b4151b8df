/**
 * The context-vector space of one GC block: every image's transform output (the C-dimensional
 * channel_add term, the global context the block adds at every position) projected to three
 * dimensions by PCA. Runs on the attention worker.
 */
import type { ContextSpace } from '../common/api/attention'
import { AppError } from '../common/errors'
import { pca } from './attention/pca'
import { fromFloat16 } from './inference/float16'
import {
  blockTransforms,
  datasetCategories,
  dominantClasses,
  evaluationOutcomes,
  runForAttention,
} from './store/attentionStats'
import type { Db } from './store/store'

export function contextSpace(db: Db, runId: number, block: number): ContextSpace {
  const run = runForAttention(db, runId)
  if (!run) throw new AppError('NOT_FOUND', `Run ${runId} does not exist.`)
  const info = run.gcBlocks.find((b) => b.index === block)
  if (!info)
    throw new AppError('NOT_FOUND', `${run.modelName} has no GC block ${block} (run ${runId}).`)
  const rows = blockTransforms(db, runId, block)
  if (rows.length === 0)
    throw new AppError(
      'CONFLICT',
      `Run ${runId} stored no transform outputs for block ${block}: compute attention for this run first.`,
    )
  const c = rows[0]!.transform_f16.byteLength / 2
  const usable = rows.filter((r) => r.transform_f16.byteLength === c * 2)
  const data = new Float32Array(usable.length * c)
  usable.forEach((r, i) => {
    for (let j = 0; j < c; j++) data[i * c + j] = fromFloat16(r.transform_f16.readUInt16LE(j * 2))
  })
  const { points, explained } = pca(data, usable.length, c, 3)
  const dominant = dominantClasses(db, run.datasetId)
  const outcomes = evaluationOutcomes(db, runId)
  const categories = datasetCategories(db, run.datasetId)
  const present = new Set(dominant.values())
  return {
    runId,
    block,
    channels: c,
    explained,
    points: usable.map((r, i) => ({
      imageId: r.image_id,
      fileName: r.file_name,
      x: points[i * 3]!,
      y: points[i * 3 + 1]!,
      z: points[i * 3 + 2]!,
      dominantClass: dominant.get(r.image_id) ?? null,
      correct: outcomes?.get(r.image_id)?.correct ?? null,
    })),
    classes: categories.filter((k) => present.has(k.id)),
  }
}
