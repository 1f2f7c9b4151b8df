/**
 * The inputs of a run's COCO evaluation, read from the store inside the evaluation worker (see
 * `workers/evalWorker.ts`): a run's ground truth and predictions can be hundreds of thousands of
 * rows, and reading them on the thread that serves the UI would stall it.
 */
import { AppError } from '../common/errors'
import type { CocoDataset, CocoResult, EvalJob, IouType } from './eval'
import type { CompareJob } from './compare/job'
import { runCocoResults } from './exports'
import { openStore, type Db } from './store/store'

/** An evaluation whose inputs the worker reads from the store at `dataDir`. */
export interface StoreCocoJob {
  kind: 'store-coco'
  dataDir: string
  nativeBinding?: string
  runId: number
  iouType: IouType
  /** Also compute TIDE's error breakdown. */
  errors?: boolean
}

/** Whether any prediction of the run has a mask (then it is evaluated as segm too). */
export function runHasMasks(db: Db, runId: number): boolean {
  return (
    (
      db
        .prepare(
          'SELECT EXISTS (SELECT 1 FROM predictions WHERE run_id = ? AND mask_rle IS NOT NULL) AS m',
        )
        .get(runId) as { m: number }
    ).m === 1
  )
}

/** Turns a store-backed job into the evaluation library's job, reading with its own connection. */
export function resolveStoreJob(job: StoreCocoJob): EvalJob {
  const db = openStore(job.dataDir, job.nativeBinding ? { nativeBinding: job.nativeBinding } : {})
  try {
    const { gt, dets } = cocoRunInputs(db, job.runId)
    return {
      kind: 'coco',
      iouType: job.iouType,
      groundTruth: { data: gt },
      detections: { data: dets },
      ...(job.errors ? { errors: true } : {}),
    }
  } finally {
    db.close()
  }
}

/** Ground truth of the images the run finished, and its predictions, in COCO's JSON forms. */
export function cocoRunInputs(db: Db, runId: number): { gt: CocoDataset; dets: CocoResult[] } {
  return { gt: cocoRunGroundTruth(db, runId), dets: runCocoResults(db, runId, 'store') }
}

/** Ground truth of the images the run finished, as a COCO instances document. */
export function cocoRunGroundTruth(db: Db, runId: number): CocoDataset {
  const datasetId = (
    db.prepare('SELECT dataset_id FROM runs WHERE id = ?').get(runId) as
      { dataset_id: number } | undefined
  )?.dataset_id
  if (datasetId === undefined) throw new AppError('NOT_FOUND', `Run ${runId} does not exist.`)
  const images = db
    .prepare(
      `SELECT i.id, i.file_name, i.width, i.height FROM images i JOIN run_images ri ON ri.image_id = i.id
       WHERE ri.run_id = ? AND ri.status = 'done' ORDER BY i.id`,
    )
    .all(runId) as { id: number; file_name: string; width: number; height: number }[]
  const annotations = db
    .prepare(
      `SELECT a.id, a.image_id, a.category_id, a.iscrowd, a.area, a.bbox_x, a.bbox_y, a.bbox_w, a.bbox_h, a.segm_kind, a.segmentation
       FROM live_annotations a JOIN run_images ri ON ri.image_id = a.image_id AND ri.run_id = ? AND ri.status = 'done'`,
    )
    .all(runId) as {
    id: number
    image_id: number
    category_id: number
    iscrowd: number
    area: number
    bbox_x: number
    bbox_y: number
    bbox_w: number
    bbox_h: number
    segm_kind: string
    segmentation: string | null
  }[]
  const categories = db
    .prepare('SELECT id, name, supercategory FROM categories WHERE dataset_id = ? ORDER BY id')
    .all(datasetId) as { id: number; name: string; supercategory: string | null }[]
  const gt: CocoDataset = {
    images: images.map((i) => ({
      id: i.id,
      file_name: i.file_name,
      width: i.width,
      height: i.height,
    })),
    annotations: annotations.map((a) => {
      let segmentation: unknown = undefined
      if (a.segm_kind !== 'none' && a.segmentation) {
        const s = JSON.parse(a.segmentation) as unknown
        segmentation = Array.isArray(s)
          ? s
          : {
              size: (s as { size: [number, number] }).size,
              counts: (s as { counts: unknown }).counts,
            }
      }
      return {
        id: a.id,
        image_id: a.image_id,
        category_id: a.category_id,
        iscrowd: a.iscrowd,
        area: a.area,
        bbox: [a.bbox_x, a.bbox_y, a.bbox_w, a.bbox_h],
        ...(segmentation !== undefined ? { segmentation } : {}),
      }
    }) as CocoDataset['annotations'],
    categories: categories.map((c) => ({
      id: c.id,
      name: c.name,
      ...(c.supercategory ? { supercategory: c.supercategory } : {}),
    })),
  }
  return gt
}

/**
 * A comparison whose inputs the compare worker reads from the store at `dataDir` (the ground
 * truth once, each run's predictions), as evaluations do: hundreds of thousands of rows must not
 * be read on the thread that serves the UI.
 */
export interface StoreCompareJob extends Omit<
  Extract<CompareJob, { kind: 'coco' }>,
  'kind' | 'groundTruth' | 'runs'
> {
  kind: 'store-coco'
  dataDir: string
  nativeBinding?: string
  runIds: number[]
}

export function resolveStoreCompareJob(job: StoreCompareJob): CompareJob {
  const { kind: _kind, dataDir, nativeBinding, runIds, ...rest } = job
  const db = openStore(dataDir, nativeBinding ? { nativeBinding } : {})
  try {
    return {
      ...rest,
      kind: 'coco',
      groundTruth: cocoRunGroundTruth(db, runIds[0]!),
      runs: runIds.map((id) => runCocoResults(db, id, 'store')),
    }
  } finally {
    db.close()
  }
}
