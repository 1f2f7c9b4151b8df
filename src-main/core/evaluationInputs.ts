/**
 * The inputs of a run's evaluation, read from the store inside the evaluation worker (see
 * `workers/evalWorker.ts`): a run's ground truth and predictions can be hundreds of thousands of
 * rows (COCO) or hundreds of label-map PNGs (Cityscapes), and reading them on the thread that
 * serves the UI would stall it. The evaluation views'
 * confusion matrix at another score threshold is recomputed there from the same inputs, and a
 * comparison's inputs are read the same way in the compare worker.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { CocoConfusion } from '../common/api/evaluationViews'
import { AppError } from '../common/errors'
import type { CocoDataset, CocoResult, EvalJob, EvalJobResult, IouType } from './eval'
import { maskGeometry, prepareGroundTruth, prepareResults } from './eval/cocoData'
import { computeConfusionMatrix } from './eval/confusion'
import { confusionJson } from './eval/cocoReport'
import type { CompareJob } from './compare/job'
import { runCocoResults, writeRunLabelPngs } from './exports'
import { evaluationInputStore } from './store/evaluationInputs'
import { labelEditStore } from './store/labelEdits'
import { readStoreAt, type Db, type StoreLocation } from './store/store'

/** An evaluation whose inputs the worker reads from the store at `dataDir`. */
export interface StoreCocoJob extends StoreLocation {
  kind: 'store-coco'
  runId: number
  iouType: IouType
  /** Also compute TIDE's error breakdown. */
  errors?: boolean
}

/** Turns a store-backed job into the evaluation library's job, reading with its own connection. */
export function resolveStoreJob(job: StoreCocoJob): EvalJob {
  const { gt, dets } = readStoreAt(job, (db) => cocoRunInputs(db, job.runId))
  return {
    kind: 'coco',
    iouType: job.iouType,
    groundTruth: { data: gt },
    detections: { data: dets },
    ...(job.errors ? { errors: true } : {}),
  }
}

/**
 * A label-map run's Cityscapes evaluation. The worker lays out the official script's folders in
 * `dir` (made and removed by the app, so a worker stopped mid-way leaves nothing behind).
 */
export interface StoreCityscapesJob extends StoreLocation {
  kind: 'store-cityscapes'
  runId: number
  dir: string
}

/** A Cityscapes result with the store image id of each evaluated file's stem. */
export type StoreCityscapesResult = EvalJobResult & { imageIds: [stem: string, imageId: number][] }

/**
 * Lays out the official script's folders in `job.dir`, reading with its own connection: the
 * run's images' gtFine labelIds and instanceIds (linked; an edited label map is written in place
 * of the files it replaces) and the predicted label-id PNGs, paired by Cityscapes stem.
 */
export function resolveStoreCityscapesJob(job: StoreCityscapesJob): {
  job: EvalJob
  imageIds: [string, number][]
} {
  return readStoreAt(job, (db) => {
    const inputs = evaluationInputStore(db)
    const run = inputs.run(job.runId)
    if (!run) throw new AppError('NOT_FOUND', `Run ${job.runId} does not exist.`)
    const gtDir = path.join(job.dir, 'gt')
    const predDir = path.join(job.dir, 'pred')
    fs.mkdirSync(gtDir, { recursive: true })
    const imageIds = writeRunLabelPngs(db, run.id, predDir, true)
    const byId = new Map(inputs.runLabelMaps(run.id).map((g) => [g.id, g]))
    const labelEdits = labelEditStore(db)
    for (const [stem, id] of imageIds) {
      const g = byId.get(id)!
      const edited = labelEdits.currentMapEdit(id)?.after_map ?? null
      if (edited !== null) {
        const m = labelEdits.labelMap(edited)!
        fs.writeFileSync(path.join(gtDir, `${stem}_gtFine_labelIds.png`), m.label_png)
        fs.writeFileSync(path.join(gtDir, `${stem}_gtFine_instanceIds.png`), m.instance_png)
        continue
      }
      fs.symlinkSync(
        path.resolve(run.source, g.semanticPath),
        path.join(gtDir, `${stem}_gtFine_labelIds.png`),
      )
      if (g.instancePath)
        fs.symlinkSync(
          path.resolve(run.source, g.instancePath),
          path.join(gtDir, `${stem}_gtFine_instanceIds.png`),
        )
    }
    return {
      job: {
        kind: 'cityscapes',
        groundTruthDir: gtDir,
        predictionDir: predDir,
        predictionIds: 'label',
      },
      imageIds: [...imageIds],
    }
  })
}

/** The confusion matrix of a run's COCO evaluation at another score threshold (IoU 0.5). */
export interface StoreConfusionJob extends StoreLocation {
  kind: 'store-confusion'
  runId: number
  iouType: IouType
  scoreThreshold: number
}

/** A recomputed matrix and its cells per image (store image id). */
export interface RecomputedConfusion {
  confusion: CocoConfusion
  cells: Map<number, [number, number, number][]>
}

/** Reads the run's inputs with its own connection and computes the matrix. */
export function runStoreConfusionJob(job: StoreConfusionJob): RecomputedConfusion {
  const inputs = readStoreAt(job, (db) => cocoRunInputs(db, job.runId))
  const gt = prepareGroundTruth(inputs.gt, job.iouType)
  const dt = prepareResults(gt, inputs.dets)
  const matrix = computeConfusionMatrix(
    gt,
    dt,
    { scoreThreshold: job.scoreThreshold },
    maskGeometry(gt, dt),
  )
  const cells = new Map<number, [number, number, number][]>()
  matrix.imageCells.forEach((imageCells, i) => cells.set(Number(gt.imageIds[i]), imageCells))
  return { confusion: confusionJson(matrix), cells }
}

/** Ground truth of the images the run finished, and its predictions, in COCO's JSON forms. */
export function cocoRunInputs(db: Db, runId: number): { gt: CocoDataset; dets: CocoResult[] } {
  return { gt: cocoRunGroundTruth(db, runId), dets: runCocoResults(db, runId, 'store') }
}

/** Ground truth of the images the run finished, as a COCO instances document. */
export function cocoRunGroundTruth(db: Db, runId: number): CocoDataset {
  const gt = evaluationInputStore(db).cocoGroundTruth(runId)
  if (gt === undefined) throw new AppError('NOT_FOUND', `Run ${runId} does not exist.`)
  return gt
}

/**
 * A comparison whose inputs the compare worker reads from the store at `dataDir` (the ground
 * truth once, each run's predictions), as evaluations do: hundreds of thousands of rows must not
 * be read on the thread that serves the UI.
 */
export interface StoreCompareJob
  extends
    StoreLocation,
    Omit<Extract<CompareJob, { kind: 'coco' }>, 'kind' | 'groundTruth' | 'runs'> {
  kind: 'store-coco'
  runIds: number[]
}

export function resolveStoreCompareJob(job: StoreCompareJob): CompareJob {
  const { kind: _kind, dataDir: _dataDir, nativeBinding: _nativeBinding, runIds, ...rest } = job
  return readStoreAt(job, (db) => ({
    ...rest,
    kind: 'coco',
    groundTruth: cocoRunGroundTruth(db, runIds[0]!),
    runs: runIds.map((id) => runCocoResults(db, id, 'store')),
  }))
}
