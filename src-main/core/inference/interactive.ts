import type { ImageInference } from '../../common/api'
import { AppError } from '../../common/errors'
import type { MediaService } from '../media'
import { getCategories, getDataset } from '../datasets/queries'
import { getModel, verifyModelFile } from '../models/registry'
import type { Db } from '../store/store'
import { InferenceEngine, forkLauncher, type ProcessLauncher } from './engine'
import { buildLabelTable } from './labels'
import { inferenceFromItem } from './results'
import { tappedModelPath } from './runs'
import type { ItemResult } from './protocol'

/**
 * The viewer's "run this image now": one warm inference process for the model in use, so the
 * answer after the first takes only the forward pass. It goes after a few idle minutes.
 */
export class InteractiveInference {
  #warm: { key: string; engine: InferenceEngine; ep: string } | null = null
  #timer: ReturnType<typeof setTimeout> | null = null

  constructor(
    private readonly opts: {
      db: Db
      dataDir: string
      media: MediaService
      launcher?: ProcessLauncher
      idleMs?: number
    },
  ) {}

  async image(modelId: number, imageId: number, taps: boolean): Promise<ImageInference> {
    const db = this.opts.db
    const model = getModel(db, modelId)
    const image = db
      .prepare('SELECT dataset_id, file_name, width, height FROM images WHERE id = ?')
      .get(imageId) as
      { dataset_id: number; file_name: string; width: number; height: number } | undefined
    if (!image) throw new AppError('NOT_FOUND', `Image ${imageId} does not exist.`)
    const dataset = getDataset(db, image.dataset_id)
    const key = `${modelId}:${taps}:${dataset.id}`
    if (!this.#warm || this.#warm.key !== key || !this.#warm.engine.alive) {
      this.dispose()
      verifyModelFile(db, model)
      const useTaps = taps && model.card.gcBlocks.length > 0
      const tapped = useTaps ? tappedModelPath(this.opts.dataDir, model) : null
      const engine = new InferenceEngine(this.opts.launcher ?? forkLauncher)
      const ready = await engine.init({
        modelPath: tapped?.file ?? model.path,
        config: model.config,
        taps: tapped?.taps ?? null,
        ep: 'auto',
        threads: 0,
        labelTable: buildLabelTable(
          model.config,
          getCategories(db, dataset.id),
          dataset.kind,
          model.card.classCount ?? null,
        ),
      })
      this.#warm = { key, engine, ep: ready.ep }
    }
    this.#touch()
    const { probe } = await this.opts.media.pipeline(imageId)
    const file = this.opts.media.filePath(imageId)
    let result: ItemResult | null = null
    let failure: string | null = null
    await this.#warm.engine.infer(
      [
        {
          imageId,
          file,
          width: image.width,
          height: image.height,
          applyOrientation: probe.applyOrientation,
        },
      ],
      {
        onResult: (r) => (result = r),
        onImageError: (_id, message) => (failure = message),
      },
    )
    if (!result) throw new AppError('INFERENCE_FAILED', failure ?? 'The image produced no result.')
    return inferenceFromItem(result, model.card.gcBlocks, this.#warm.ep)
  }

  #touch(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.dispose(), this.opts.idleMs ?? 5 * 60_000)
    this.#timer.unref()
  }

  dispose(): void {
    this.#warm?.engine.dispose()
    this.#warm = null
  }
}
