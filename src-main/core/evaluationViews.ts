/**
 * The evaluation views' queries: the complete per-image list of one evaluation in the order the
 * user chose, filtered by category or by a confusion matrix cell. The per-image details were
 * written by the evaluation (`EvaluationManager.#save`); an evaluation stored before they existed
 * says so instead of answering with an empty list.
 */
import { z } from 'zod'
import {
  CocoConfusion,
  type EvaluationImageOrder,
  type EvaluationImageRow,
} from '../common/api/evaluationViews'
import { AppError } from '../common/errors'
import type { Handlers } from './dispatcher'
import type { RecomputedConfusion } from './evaluationInputs'
import type { EvaluationManager } from './evaluations'
import { type EvaluationStore, evaluationStore } from './store/evaluations'
import type { Db } from './store/store'
import type { Studio } from './studio'

/** COCO details; Cityscapes stores its 19 per-class IoUs (train id order) as an array. */
const CocoDetails = z.object({
  maxScore: z.number().nullable().optional(),
  confusion: z.array(z.tuple([z.number(), z.number(), z.number()])).optional(),
  categories: z.array(z.number()).optional(),
})
const CityscapesDetails = z.array(z.number().nullable())

export interface ImageListQuery {
  id: number
  order: EvaluationImageOrder
  direction: 'asc' | 'desc'
  categoryId?: number | undefined
  cell?: { row: number; column: number } | undefined
  scoreThreshold?: number | undefined
}

export class EvaluationViews {
  readonly #store: EvaluationStore
  readonly #evaluations: EvaluationManager
  /**
   * The last few recomputed matrices (computed on the evaluation worker): a click on a cell asks
   * for the same one again.
   */
  readonly #recomputed = new Map<string, Promise<RecomputedConfusion>>()

  constructor(db: Db, evaluations: EvaluationManager) {
    this.#evaluations = evaluations
    this.#store = evaluationStore(db)
  }

  async imageList(query: ImageListQuery): Promise<{ total: number; rows: EvaluationImageRow[] }> {
    const evaluation = this.#store.find(query.id)
    if (!evaluation) throw new AppError('NOT_FOUND', `Evaluation ${query.id} does not exist.`)
    const coco = evaluation.kind !== 'cityscapes'
    const stored = this.#store.allImages(query.id)
    const items = stored.map((row) => {
      const raw = row.details
      const cocoDetails = coco ? CocoDetails.safeParse(raw ?? {}) : null
      const classIoU = coco ? null : CityscapesDetails.safeParse(raw)
      return {
        row: {
          imageId: row.imageId,
          fileName: row.fileName,
          ap: row.ap,
          ap50: row.ap50,
          tp: row.tp,
          fp: row.fp,
          fn: row.fn,
          miou: row.miou,
          maxScore: cocoDetails?.success ? (cocoDetails.data.maxScore ?? null) : null,
        },
        cells: cocoDetails?.success ? cocoDetails.data.confusion : undefined,
        categories: cocoDetails?.success
          ? cocoDetails.data.categories
          : classIoU?.success
            ? classIoU.data.flatMap((iou, trainId) => (iou === null ? [] : [trainId]))
            : undefined,
      }
    })

    let kept = items
    if (query.cell) {
      if (!coco) {
        throw new AppError(
          'UNSUPPORTED',
          'A Cityscapes confusion matrix counts pixels over the whole set; it is not stored per image.',
        )
      }
      const { row, column } = query.cell
      const parsed = CocoConfusion.safeParse(this.#store.metrics(query.id)?.confusion)
      const confusion = parsed.success ? parsed.data : null
      if (!confusion || (items.length > 0 && items.some((item) => item.cells === undefined))) {
        throw new AppError(
          'CONFLICT',
          `Evaluation ${query.id} was stored without per-image confusion cells; evaluate the run again.`,
        )
      }
      const size = confusion.labels.length
      if (row >= size || column >= size) {
        throw new AppError(
          'INVALID_INPUT',
          `Confusion cell (${row}, ${column}) is outside the ${size}x${size} matrix of evaluation ${query.id}.`,
        )
      }
      if (query.scoreThreshold !== undefined && query.scoreThreshold !== confusion.scoreThreshold) {
        const { cells } = await this.#recompute(query.id, query.scoreThreshold)
        kept = kept.filter((item) =>
          (cells.get(item.row.imageId) ?? []).some(
            ([r, c, n]) => r === row && c === column && n > 0,
          ),
        )
      } else {
        kept = kept.filter((item) =>
          item.cells!.some(([r, c, n]) => r === row && c === column && n > 0),
        )
      }
    }
    if (query.categoryId !== undefined) {
      if (items.some((item) => item.categories === undefined)) {
        throw new AppError(
          'CONFLICT',
          `Evaluation ${query.id} was stored without per-image categories; evaluate the run again.`,
        )
      }
      const category = query.categoryId
      kept = kept.filter((item) => item.categories!.includes(category))
    }

    const key = (row: EvaluationImageRow): number | null =>
      query.order === 'score' ? row.maxScore : row[query.order]
    const sign = query.direction === 'asc' ? 1 : -1
    const rows = kept
      .map((item) => item.row)
      .sort((a, b) => {
        const va = key(a)
        const vb = key(b)
        if (va === null || vb === null) {
          if (va === vb) return a.imageId - b.imageId
          return va === null ? 1 : -1
        }
        return sign * (va - vb) || a.imageId - b.imageId
      })
    return { total: rows.length, rows }
  }

  /** The confusion matrix at another score threshold, from the run and its ground truth. */
  async confusion(id: number, scoreThreshold: number): Promise<CocoConfusion> {
    return (await this.#recompute(id, scoreThreshold)).confusion
  }

  #recompute(id: number, scoreThreshold: number): Promise<RecomputedConfusion> {
    const key = `${id}:${scoreThreshold}`
    const cached = this.#recomputed.get(key)
    if (cached) return cached
    const evaluation = this.#store.find(id)
    if (!evaluation) throw new AppError('NOT_FOUND', `Evaluation ${id} does not exist.`)
    if (evaluation.kind === 'cityscapes') {
      throw new AppError(
        'UNSUPPORTED',
        'A Cityscapes confusion matrix counts pixels; it has no score threshold.',
      )
    }
    const pending = this.#evaluations.recomputeConfusion(evaluation, scoreThreshold)
    this.#recomputed.set(key, pending)
    if (this.#recomputed.size > 4) this.#recomputed.delete(this.#recomputed.keys().next().value!)
    // A failure is not kept: asking again tries again.
    pending.catch(() => {
      if (this.#recomputed.get(key) === pending) this.#recomputed.delete(key)
    })
    return pending
  }
}

export function evaluationViewHandlers(
  studio: Studio,
): Pick<Handlers, 'evaluations:imageList' | 'evaluations:confusion'> {
  const views = new EvaluationViews(studio.db, studio.evaluations)
  return {
    'evaluations:imageList': ({ id, order, direction, categoryId, cell, scoreThreshold }) =>
      views.imageList({ id, order, direction, categoryId, cell, scoreThreshold }),
    'evaluations:confusion': ({ id, scoreThreshold }) => views.confusion(id, scoreThreshold),
  }
}
