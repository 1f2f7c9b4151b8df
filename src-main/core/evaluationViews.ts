/**
 * The evaluation views' queries: the complete per-image list of one evaluation in the order the
 * user chose, filtered by category or by a confusion matrix cell. The per-image details were
 * written by the evaluation (`EvaluationManager.#save`); an evaluation stored before they existed
 * says so instead of answering with an empty list.
 */
import { z } from 'zod'
import type { EvaluationImageOrder, EvaluationImageRow } from '../common/api/evaluationViews'
import { AppError } from '../common/errors'
import type { Handlers } from './dispatcher'
import type { Db } from './store/store'
import type { Studio } from './studio'

interface StoredImageRow {
  imageId: number
  fileName: string
  ap: number | null
  ap50: number | null
  tp: number | null
  fp: number | null
  fn: number | null
  miou: number | null
  details: string | null
}

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
}

export class EvaluationViews {
  readonly #evaluation
  readonly #rows

  constructor(db: Db) {
    this.#evaluation = db.prepare<[number], { kind: string; metrics: string | null }>(
      'SELECT kind, metrics FROM evaluations WHERE id = ?',
    )
    this.#rows = db.prepare<[number], StoredImageRow>(
      `SELECT e.image_id AS imageId, i.file_name AS fileName, e.ap, e.ap50, e.tp, e.fp, e.fn, e.miou, e.details
       FROM evaluation_images e JOIN images i ON i.id = e.image_id WHERE e.evaluation_id = ?`,
    )
  }

  imageList(query: ImageListQuery): { total: number; rows: EvaluationImageRow[] } {
    const evaluation = this.#evaluation.get(query.id)
    if (!evaluation) throw new AppError('NOT_FOUND', `Evaluation ${query.id} does not exist.`)
    const coco = evaluation.kind !== 'cityscapes'
    const stored = this.#rows.all(query.id)
    const items = stored.map((row) => {
      const raw = row.details === null ? null : (JSON.parse(row.details) as unknown)
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
      const size = this.#confusionSize(evaluation.metrics)
      if (size === null || (items.length > 0 && items.some((item) => item.cells === undefined))) {
        throw new AppError(
          'CONFLICT',
          `Evaluation ${query.id} was stored without per-image confusion cells; evaluate the run again.`,
        )
      }
      if (row >= size || column >= size) {
        throw new AppError(
          'INVALID_INPUT',
          `Confusion cell (${row}, ${column}) is outside the ${size}x${size} matrix of evaluation ${query.id}.`,
        )
      }
      kept = kept.filter((item) =>
        item.cells!.some(([r, c, n]) => r === row && c === column && n > 0),
      )
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

  #confusionSize(metrics: string | null): number | null {
    if (!metrics) return null
    const parsed = z
      .object({ confusion: z.object({ labels: z.array(z.unknown()) }).nullable() })
      .safeParse(JSON.parse(metrics))
    return parsed.success && parsed.data.confusion ? parsed.data.confusion.labels.length : null
  }
}

export function evaluationViewHandlers(studio: Studio): Pick<Handlers, 'evaluations:imageList'> {
  const views = new EvaluationViews(studio.db)
  return {
    'evaluations:imageList': ({ id, order, direction, categoryId, cell }) =>
      views.imageList({ id, order, direction, categoryId, cell }),
  }
}
