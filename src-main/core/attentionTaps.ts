/**
 * Attention for a run made without taps: the run's model, tapped, goes over the run's finished
 * images once more in the inference process, and only the attention maps are written. The
 * run's predictions, label maps, timings and geometry stay exactly as they were (the same
 * preprocessing gives the same geometry, so the maps line up with the stored results).
 */
import { attentionMapStore } from './store/attentionMaps'
import { runStore } from './store/runs'
import { AppError } from '../common/errors'
import type { JobContext } from './attentionJob'
import { getCategories, getDataset } from './datasets/queries'
import { InferenceEngine, forkLauncher, type ProcessLauncher } from './inference/engine'
import { buildLabelTable } from './inference/labels'
import type { ItemResult } from './inference/protocol'
import { inferItems, tappedModelPath } from './inference/runs'
import { getModel, verifyModelFile } from './models/registry'
import type { Db } from './store/store'

const BATCH = 8

export async function computeRunTaps(
  db: Db,
  dataDir: string,
  runId: number,
  ctx: JobContext,
  launcher: ProcessLauncher = forkLauncher,
): Promise<{ runId: number; images: number }> {
  const run = runStore(db).get(runId)
  if (!run) throw new AppError('NOT_FOUND', `Run ${runId} does not exist.`)
  if (run.status === 'running' || run.status === 'queued')
    throw new AppError(
      'CONFLICT',
      `Run ${runId} is ${run.status}; compute its attention once it stops.`,
    )
  const model = getModel(db, run.modelId)
  if (model.card.gcBlocks.length === 0)
    throw new AppError(
      'UNSUPPORTED',
      `Run ${runId} used ${model.name}, which has no GC blocks: there is no attention to compute.`,
    )
  verifyModelFile(db, model)
  const { settings } = run
  const dataset = getDataset(db, run.datasetId)
  const labelTable = buildLabelTable(model.config, getCategories(db, dataset.id), dataset.kind)
  const missing: string[] = []
  const items = inferItems(dataset.imagesRoot, runStore(db).imagesWithoutAttention(runId), (p) =>
    missing.push(p.fileName),
  )
  if (missing.length > 0)
    throw new AppError(
      'NOT_FOUND',
      `${missing.length} image files of run ${runId} are missing (e.g. ${missing.slice(0, 3).join(', ')}); attention needs the images.`,
    )
  const maps = attentionMapStore(db)
  const write = db.transaction((results: ItemResult[]) => {
    for (const r of results) maps.write(runId, r.imageId, r.attention ?? [])
  })
  const { file, taps } = tappedModelPath(dataDir, model)
  const engine = new InferenceEngine(launcher)
  const onAbort = () => engine.cancel()
  ctx.signal.addEventListener('abort', onAbort, { once: true })
  let done = 0
  const errors: string[] = []
  try {
    await engine.init({
      modelPath: file,
      config: {
        ...model.config,
        scoreThreshold: settings.scoreThreshold ?? model.config.scoreThreshold,
      },
      taps,
      ep: settings.ep,
      threads: settings.threads,
      labelTable,
    })
    ctx.progress(0, items.length, 'Computing attention')
    for (let i = 0; i < items.length && !ctx.signal.aborted; i += BATCH) {
      const results: ItemResult[] = []
      await engine.infer(items.slice(i, i + BATCH), {
        onResult: (r) => results.push(r),
        onImageError: (imageId, message) => errors.push(`image ${imageId}: ${message}`),
      })
      write(results)
      done += results.length
      ctx.progress(done, items.length, 'Computing attention')
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
    engine.dispose()
  }
  if (ctx.signal.aborted)
    throw new AppError(
      'CANCELLED',
      `Attention for run ${runId} was cancelled after ${done} images; the maps computed so far are kept and computing again continues from there.`,
    )
  if (errors.length > 0)
    throw new AppError(
      'INFERENCE_FAILED',
      `Attention for ${errors.length} images of run ${runId} failed: ${errors[0]}`,
    )
  return { runId, images: done }
}
