/**
 * One evaluation as a self-contained job: what the worker thread runs, and what the CLI and tests
 * can run in-process. Inputs may be file paths or data already in memory.
 */
import { readFile } from 'node:fs/promises'
import { type CityscapesEvaluation, evaluateCityscapesDirectories } from './cityscapes'
import { type CityscapesJsonReport, cityscapesJsonReport } from './cityscapesReport'
import {
  type CocoDataset,
  type CocoResult,
  type IouType,
  prepareGroundTruth,
  prepareResults,
} from './cocoData'
import { type CocoEvaluation, evaluatePrepared } from './cocoEval'
import { type CocoJsonReport, cocoJsonReport } from './cocoReport'
import type { ConfusionOptions } from './confusion'
import { EvalError, throwIfAborted } from './errors'
import { type TideErrors, computeTide, fileImageOrder } from './tide'

/** A JSON input: a file to read, or the parsed value. */
export type JsonSource<T> = { path: string } | { data: T }

export type EvalJob =
  | {
      kind: 'coco'
      iouType: IouType
      groundTruth: JsonSource<CocoDataset>
      detections: JsonSource<CocoResult[]>
      perImageScoreThreshold?: number
      confusion?: ConfusionOptions | false
      /** false: no per-category and per-image results (empty in the result and the report). */
      details?: boolean
      /** Also compute the TIDE error breakdown (`errors` in the result and the report). */
      errors?: boolean
    }
  | {
      kind: 'cityscapes'
      groundTruthDir: string
      predictionDir: string
      /** What the prediction PNGs hold (default: label ids, as the official script expects). */
      predictionIds?: 'label' | 'train'
    }

export type EvalJobResult =
  | {
      kind: 'coco'
      evaluation: CocoEvaluation
      report: CocoJsonReport
      /** TIDE when asked for (null: nothing to measure), undefined otherwise. */
      errors?: TideErrors | null
    }
  | {
      kind: 'cityscapes'
      evaluation: CityscapesEvaluation
      report: CityscapesJsonReport
      /** Prediction files no ground truth image paired with. */
      unusedPredictions: string[]
    }

export interface EvalJobHooks {
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
}

/** Reads and parses a JSON file, naming it in any error. */
export async function readJsonFile<T>(path: string, what: string): Promise<T> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new EvalError(
      'EVAL_READ_FAILED',
      `Cannot read ${what} ${path}: ${(error as Error).message}`,
      {
        file: path,
      },
    )
  }
  try {
    return JSON.parse(text) as T
  } catch (error) {
    throw new EvalError(
      'EVAL_BAD_JSON',
      `${what} ${path} is not valid JSON: ${(error as Error).message}`,
      {
        file: path,
      },
    )
  }
}

async function resolve<T>(source: JsonSource<T>, what: string): Promise<T> {
  return 'path' in source ? readJsonFile<T>(source.path, what) : source.data
}

export async function runEvalJob(job: EvalJob, hooks: EvalJobHooks = {}): Promise<EvalJobResult> {
  if (job.kind === 'coco') {
    // Both files are read at once, so the detections are read while the ground truth is parsed;
    // errors still come in the same order (the ground truth's first).
    const datasetRead = resolve(job.groundTruth, 'ground truth')
    const resultsRead = resolve(job.detections, 'detections')
    resultsRead.catch(() => {}) // awaited below, after the ground truth
    const dataset = await datasetRead
    const results = await resultsRead
    // Prepared once for COCOeval and TIDE alike (masks are rasterised here).
    const gt = prepareGroundTruth(dataset, job.iouType)
    throwIfAborted(hooks.signal)
    const dt = prepareResults(gt, results)
    throwIfAborted(hooks.signal)
    const evaluation = evaluatePrepared(gt, dt, {
      iouType: job.iouType,
      perImageScoreThreshold: job.perImageScoreThreshold,
      confusion: job.confusion,
      details: job.details,
      onProgress: hooks.onProgress,
      signal: hooks.signal,
    })
    const report = cocoJsonReport(evaluation)
    if (!job.errors) return { kind: 'coco', evaluation, report }
    const errors = computeTide(gt, dt, fileImageOrder(dataset, gt), { signal: hooks.signal })
    return { kind: 'coco', evaluation, report: { ...report, errors }, errors }
  }
  if (job.kind === 'cityscapes') {
    const { unusedPredictions, ...evaluation } = await evaluateCityscapesDirectories(
      job.groundTruthDir,
      job.predictionDir,
      { predictionIds: job.predictionIds, onProgress: hooks.onProgress, signal: hooks.signal },
    )
    return {
      kind: 'cityscapes',
      evaluation,
      report: cityscapesJsonReport(evaluation),
      unusedPredictions,
    }
  }
  throw new EvalError(
    'EVAL_BAD_INPUT',
    `Unknown evaluation kind ${JSON.stringify((job as { kind: unknown }).kind)}`,
  )
}
