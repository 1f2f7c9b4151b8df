import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Evaluation, EvaluationDetail, EvaluationImage } from '../common/api'
import { AppError, toErrorShape } from '../common/errors'
import type { EvalJobResult, IouType } from './eval'
import {
  cityscapesEvaluationRows,
  cityscapesStem,
  cocoEvaluationRows,
  runEvalInWorker,
} from './eval'
import type { EventBus } from './events'
import { builtWorkerPath } from './paths'
import type {
  RecomputedConfusion,
  StoreCityscapesJob,
  StoreCityscapesResult,
  StoreCocoJob,
  StoreConfusionJob,
} from './evaluationInputs'
import { type RunFacts, evaluationInputStore } from './store/evaluationInputs'
import {
  type EvaluationKey,
  type EvaluationStore,
  type NewEvaluationImage,
  evaluationStore,
} from './store/evaluations'
import type { Db, StoreLocation } from './store/store'

/**
 * Evaluations of stored runs against the dataset's current ground truth, computed by the
 * evaluation library on a worker thread and saved per run, ground-truth version and kind. A
 * label edit bumps the ground-truth version, so re-evaluating keeps the earlier numbers beside
 * the new ones. Nothing is stored until an evaluation is complete.
 */
export class EvaluationManager {
  constructor(
    private readonly opts: { db: Db; bus: EventBus; dataDir: string; nativeBinding?: string },
  ) {}

  get #store() {
    return evaluationStore(this.opts.db)
  }

  get #inputs() {
    return evaluationInputStore(this.opts.db)
  }

  list(runId?: number): Evaluation[] {
    return this.#store.list(runId)
  }

  get(id: number): EvaluationDetail {
    const evaluation = this.#store.get(id)
    if (!evaluation) throw new AppError('NOT_FOUND', `Evaluation ${id} does not exist.`)
    return evaluation
  }

  /** Per-image rows, sortable (worst images first is the usual question). */
  images(...page: Parameters<EvaluationStore['images']>): EvaluationImage[] {
    return this.#store.images(...page)
  }

  #run(runId: number): RunFacts {
    const run = this.#inputs.run(runId)
    if (!run) throw new AppError('NOT_FOUND', `Run ${runId} does not exist.`)
    return run
  }

  /** Evaluates a run: COCO bbox (and segm when it has masks), or Cityscapes for label maps. */
  async evaluate(
    runId: number,
    options: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
  ): Promise<Evaluation[]> {
    const run = this.#run(runId)
    if (this.#inputs.doneImageCount(runId) === 0)
      throw new AppError('CONFLICT', `Run ${runId} has no finished images to evaluate.`)
    const jobs: {
      kind: Evaluation['kind']
      job: StoreCocoJob | StoreCityscapesJob
      cleanup?: () => void
    }[] = []
    if (run.task === 'semantic_segmentation') {
      if (run.kind !== 'cityscapes')
        throw new AppError('UNSUPPORTED', 'Label maps are evaluated against Cityscapes datasets.')
      // The worker writes the official script's folders here (hundreds of label-map PNGs read
      // from the store); the folder is made and removed on this side, whatever the worker does.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gcstudio-eval-'))
      jobs.push({
        kind: 'cityscapes',
        job: { kind: 'store-cityscapes', ...this.#workerStore(), runId, dir },
        cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
      })
    } else {
      // The worker reads the ground truth and the predictions from the store itself: assembling
      // them here would hold the thread that serves the UI for as long as the reading takes.
      const store = { kind: 'store-coco' as const, ...this.#workerStore(), runId }
      jobs.push({ kind: 'coco-bbox', job: { ...store, iouType: 'bbox', errors: true } })
      if (this.#inputs.hasMasks(runId))
        jobs.push({ kind: 'coco-segm', job: { ...store, iouType: 'segm', errors: true } })
    }
    const out: Evaluation[] = []
    try {
      for (const j of jobs) {
        // Nothing is written until the evaluation is complete: a cancel leaves no row, and a
        // re-evaluation keeps the earlier numbers until the new ones replace them.
        const key = { runId, datasetId: run.datasetId, gtVersion: run.gtVersion, kind: j.kind }
        let id: number
        try {
          const result = await runEvalInWorker<
            StoreCocoJob | StoreCityscapesJob,
            EvalJobResult | StoreCityscapesResult
          >(builtWorkerPath('evalWorker'), j.job, {
            ...(options.onProgress ? { onProgress: options.onProgress } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
          })
          const imageIds = 'imageIds' in result ? new Map(result.imageIds) : undefined
          id = this.#save(key, result, imageIds)
        } catch (err) {
          if (options.signal?.aborted)
            throw new AppError('CANCELLED', 'The evaluation was cancelled.')
          id = this.#store.saveFailure(key, toErrorShape(err).message)
        }
        const saved = this.#store.find(id)!
        this.opts.bus.emit('evaluation:changed', { id, runId, status: saved.status })
        out.push(saved)
      }
    } finally {
      // Cityscapes inputs live in a temporary folder until the evaluation is done.
      for (const j of jobs) j.cleanup?.()
    }
    return out
  }

  /**
   * A COCO evaluation's confusion matrix at another score threshold, recomputed on a worker
   * thread from the run and its ground truth, which must not have changed since.
   */
  async recomputeConfusion(
    evaluation: Evaluation,
    scoreThreshold: number,
  ): Promise<RecomputedConfusion> {
    const run = this.#run(evaluation.runId)
    if (run.gtVersion !== evaluation.gtVersion) {
      throw new AppError(
        'CONFLICT',
        `The ground truth changed since evaluation ${evaluation.id} (version ${evaluation.gtVersion}, now ${run.gtVersion}); evaluate the run again.`,
      )
    }
    const iouType: IouType = evaluation.kind === 'coco-segm' ? 'segm' : 'bbox'
    return runEvalInWorker<StoreConfusionJob, RecomputedConfusion>(builtWorkerPath('evalWorker'), {
      kind: 'store-confusion',
      ...this.#workerStore(),
      runId: evaluation.runId,
      iouType,
      scoreThreshold,
    })
  }

  /** Where a worker opens its own connection to this store. */
  #workerStore(): StoreLocation {
    return {
      dataDir: this.opts.dataDir,
      ...(this.opts.nativeBinding ? { nativeBinding: this.opts.nativeBinding } : {}),
    }
  }

  #save(key: EvaluationKey, result: EvalJobResult, imageIds?: Map<string, number>): number {
    if (result.kind === 'coco') {
      const rows = cocoEvaluationRows(result.evaluation, result.errors)
      return this.#store.saveDone(
        key,
        rows.summary,
        rows.categories,
        rows.images.map((r): NewEvaluationImage => ({
          imageId: Number(r.imageId),
          ap: r.ap,
          ap50: r.ap50,
          tp: r.truePositives,
          fp: r.falsePositives,
          fn: r.falseNegatives,
          miou: null,
          detailsJson: JSON.stringify({
            groundTruth: r.groundTruth,
            crowd: r.crowd,
            detections: r.detections,
            scoreThreshold: r.scoreThreshold,
            maxScore: r.maxScore,
            confusion: r.confusionCells,
            categories: r.categoryIds,
          }),
        })),
      )
    }
    const rows = cityscapesEvaluationRows(result.evaluation)
    return this.#store.saveDone(
      key,
      rows.summary,
      rows.classes,
      rows.images.flatMap((r): NewEvaluationImage[] => {
        const imageId =
          imageIds?.get(cityscapesStem(r.imageName) ?? r.imageName) ?? imageIds?.get(r.imageName)
        return imageId === undefined
          ? []
          : [
              {
                imageId,
                ap: null,
                ap50: null,
                tp: null,
                fp: null,
                fn: null,
                miou: r.mIoU,
                detailsJson: r.classIoUJson,
              },
            ]
      }),
    )
  }
}
