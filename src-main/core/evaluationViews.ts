/**
 * The evaluation views' queries: the complete per-image list of one evaluation in the order the
 * user chose, filtered by category or by a confusion matrix cell. The per-image details were
 * written by the evaluation (`EvaluationManager.#save`); an evaluation stored before they existed
 * says so instead of answering with an empty list.
 */
import { z } from 'zod'
import type {
  CocoConfusion,
  EvaluationImageOrder,
  EvaluationImageRow,
} from '../common/api/evaluationViews'
import { AppError } from '../common/errors'
import type { Handlers } from './dispatcher'
import { prepareGroundTruth, prepareResults } from './eval/cocoData'
import type { MaskGeometry } from './eval/cocoEval'
import { computeConfusionMatrix } from './eval/confusion'
import { rleArea, rleToBboxInto } from './eval/rle'
import type { EvaluationManager } from './evaluations'
import type { Db } from './store/store'
import type { Studio } from './studio'

/** A recomputed matrix and its cells per image (store image id). */
interface Recomputed {
  confusion: CocoConfusion
  cells: Map<number, [number, number, number][]>
}

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
  scoreThreshold?: number | undefined
}

export class EvaluationViews {
  readonly #evaluation
  readonly #rows
  readonly #evaluations: EvaluationManager
  /** The last few recomputed matrices: a click on a cell asks for the same one again. */
  readonly #recomputed = new Map<string, Recomputed>()

  constructor(db: Db, evaluations: EvaluationManager) {
    this.#evaluations = evaluations
    this.#evaluation = db.prepare<
      [number],
      { kind: string; metrics: string | null; run_id: number; gt_version: number }
    >('SELECT kind, metrics, run_id, gt_version FROM evaluations WHERE id = ?')
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
      const stored = this.#storedThreshold(evaluation.metrics)
      if (query.scoreThreshold !== undefined && query.scoreThreshold !== stored) {
        const { cells } = this.#recompute(query.id, query.scoreThreshold)
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
  confusion(id: number, scoreThreshold: number): CocoConfusion {
    return this.#recompute(id, scoreThreshold).confusion
  }

  #recompute(id: number, scoreThreshold: number): Recomputed {
    const key = `${id}:${scoreThreshold}`
    const cached = this.#recomputed.get(key)
    if (cached) return cached
    const evaluation = this.#evaluation.get(id)
    if (!evaluation) throw new AppError('NOT_FOUND', `Evaluation ${id} does not exist.`)
    if (evaluation.kind === 'cityscapes') {
      throw new AppError(
        'UNSUPPORTED',
        'A Cityscapes confusion matrix counts pixels; it has no score threshold.',
      )
    }
    const inputs = this.#evaluations.cocoInputs(evaluation.run_id)
    if (inputs.gtVersion !== evaluation.gt_version) {
      throw new AppError(
        'CONFLICT',
        `The ground truth changed since evaluation ${id} (version ${evaluation.gt_version}, now ${inputs.gtVersion}); evaluate the run again.`,
      )
    }
    const iouType = evaluation.kind === 'coco-segm' ? 'segm' : 'bbox'
    const gt = prepareGroundTruth(inputs.gt, iouType)
    const dt = prepareResults(gt, inputs.dets)
    const matrix = computeConfusionMatrix(gt, dt, { scoreThreshold }, maskGeometry(gt, dt))
    const cells = new Map<number, [number, number, number][]>()
    matrix.imageCells.forEach((imageCells, i) => cells.set(Number(gt.imageIds[i]), imageCells))
    const result: Recomputed = {
      confusion: {
        iouThreshold: matrix.iouThreshold,
        scoreThreshold: matrix.scoreThreshold,
        labels: [...matrix.categoryIds, 'background'],
        matrix: matrix.matrix,
        ignoredDetections: matrix.ignoredDetections,
      },
      cells,
    }
    this.#recomputed.set(key, result)
    if (this.#recomputed.size > 4) this.#recomputed.delete(this.#recomputed.keys().next().value!)
    return result
  }

  #storedThreshold(metrics: string | null): number | null {
    if (!metrics) return null
    const parsed = z
      .object({ confusion: z.object({ scoreThreshold: z.number() }).nullable() })
      .safeParse(JSON.parse(metrics))
    return parsed.success && parsed.data.confusion ? parsed.data.confusion.scoreThreshold : null
  }

  #confusionSize(metrics: string | null): number | null {
    if (!metrics) return null
    const parsed = z
      .object({ confusion: z.object({ labels: z.array(z.unknown()) }).nullable() })
      .safeParse(JSON.parse(metrics))
    return parsed.success && parsed.data.confusion ? parsed.data.confusion.labels.length : null
  }
}

/** Mask boxes and areas, as COCOeval computes them (the confusion matrix's box test needs them). */
function maskGeometry(
  gt: ReturnType<typeof prepareGroundTruth>,
  dt: ReturnType<typeof prepareResults>,
): MaskGeometry | null {
  if (!gt.gt.masks || !dt.masks) return null
  const gtBoxes = new Float64Array(gt.gt.count * 4)
  const gtAreas = new Float64Array(gt.gt.count)
  gt.gt.masks.forEach((rle, g) => {
    rleToBboxInto(rle, gtBoxes, g * 4)
    gtAreas[g] = rleArea(rle)
  })
  const dtBoxes = new Float64Array(dt.count * 4)
  const dtAreas = new Float64Array(dt.count)
  dt.masks.forEach((rle, d) => {
    rleToBboxInto(rle, dtBoxes, d * 4)
    dtAreas[d] = rleArea(rle)
  })
  return { gtBoxes, gtAreas, dtBoxes, dtAreas }
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
