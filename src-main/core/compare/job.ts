/**
 * One comparison as a self-contained job: what the compare worker thread runs, and what tests
 * and the benchmark can run in-process. The inputs are the runs' predictions and the shared
 * ground truth; the result is complete or the job throws (nothing half-computed comes back).
 */
import { readFile } from 'node:fs/promises'
import type { CompareSummary } from '../../common/api/compare'
import type { CityscapesIdKind } from '../eval/cityscapes'
import { EVALUATED_LABELS } from '../eval/cityscapesClasses'
import type { CocoDataset, CocoResult, IouType } from '../eval/cocoData'
import { type CocoEvaluation, type CocoMatchTable, evaluateCoco } from '../eval/cocoEval'
import { throwIfAborted } from '../eval/errors'
import { decodeLabelPng } from '../eval/png'
import { CityscapesComparison, bootstrapMIoUDeltas } from './cityscapesCompare'
import { interval95 } from './resample'
import { bootstrapApDeltas, instanceDifferences, precisionCurve, statDeltas } from './cocoCompare'

export type CompareJob =
  | {
      kind: 'coco'
      iouType: IouType
      groundTruth: CocoDataset
      /** Per run, its predictions as COCO results; the first run is the reference. */
      runs: CocoResult[][]
      scoreThreshold: number
      seed: number
      resamples: number
    }
  | {
      kind: 'cityscapes'
      images: {
        name: string
        imageId: number
        groundTruthFile: string
        instancesFile: string | null
        /** Per run, its prediction PNG. */
        predictionFiles: string[]
      }[]
      predictionIds: CityscapesIdKind[]
      seed: number
      resamples: number
    }

/** What the job measured, without what the store knows (model names, cards, timings). */
export type CompareComputed = Omit<CompareSummary, 'runs' | 'vsReference'> & {
  runs: Pick<CompareSummary['runs'][number], 'stats' | 'mIoU' | 'iIoU' | 'categoryMIoU'>[]
  vsReference: Omit<CompareSummary['vsReference'][number], 'runId'>[]
}

/** Per-image data the difference list and the viewer read, stored beside the summary. */
export type CompareDetails =
  | {
      kind: 'coco'
      imageIds: (number | string)[]
      /** Per evaluated ground truth object: its annotation id and image index. */
      annotationIds: number[]
      annotationImage: number[]
      crowd: number[]
      /**
       * Per run, per object: score of the detection COCOeval matched it to at IoU 0.5 (area
       * "all", maxDets 100), null if none. Found at threshold s <=> matched score >= s, so any
       * threshold's fixed/broken comes from this without matching again.
       */
      matchedScore: (number | null)[][]
      /** Per run, per image: AP@[.5:.95] of the image alone. */
      imageAp: (number | null)[][]
    }
  | {
      kind: 'cityscapes'
      imageIds: number[]
      /** Per run, per image: the image's mIoU. */
      imageMIoU: (number | null)[][]
      /** Per run after the first, per image, per class (train id order): pixels fixed / broken. */
      fixedPixels: number[][][]
      brokenPixels: number[][][]
      /** Per run after the first, per image, per class: IoU(run) - IoU(reference) on the image. */
      deltaIoU: (number | null)[][][]
    }

export interface CompareJobResult {
  computed: CompareComputed
  details: CompareDetails
}

export interface CompareHooks {
  onProgress?: (done: number, total: number | null, phase: string) => void
  signal?: AbortSignal
  /**
   * Computes the AP bootstrap's replicates (per run after the first), e.g. split over threads;
   * by default here, on this thread.
   */
  apReplicates?: (
    tables: CocoMatchTable[],
    options: { seed: number; resamples: number; onProgress: (done: number, total: number) => void },
  ) => Promise<Float64Array[]>
}

export async function runCompareJob(
  job: CompareJob,
  hooks: CompareHooks = {},
): Promise<CompareJobResult> {
  return job.kind === 'coco' ? compareCoco(job, hooks) : compareCityscapes(job, hooks)
}

const orNull = (v: number): number | null => (v === -1 || Number.isNaN(v) ? null : v)

async function compareCoco(
  job: Extract<CompareJob, { kind: 'coco' }>,
  hooks: CompareHooks,
): Promise<CompareJobResult> {
  const { signal, onProgress } = hooks
  const R = job.runs.length
  const evaluations: CocoEvaluation[] = []
  job.runs.forEach((results, r) => {
    throwIfAborted(signal)
    const phase = `Evaluating run ${r + 1} of ${R}`
    evaluations.push(
      evaluateCoco(job.groundTruth, results, {
        iouType: job.iouType,
        perImageScoreThreshold: job.scoreThreshold,
        confusion: { iouThreshold: 0.5, scoreThreshold: job.scoreThreshold },
        signal,
        onProgress: (done, total) => onProgress?.(done, total, phase),
      }),
    )
  })
  const [reference] = evaluations as [CocoEvaluation]
  const differences = evaluations
    .slice(1)
    .map((e) => instanceDifferences(reference, e, job.scoreThreshold))
  const bootstrapOptions = {
    seed: job.seed,
    resamples: job.resamples,
    ...(signal ? { signal } : {}),
    onProgress: (done: number, total: number) => onProgress?.(done, total, 'Bootstrap'),
  }
  const bootstrap = hooks.apReplicates
    ? {
        intervals: (
          await hooks.apReplicates(
            evaluations.map((e) => e.matchesAll),
            bootstrapOptions,
          )
        ).map((values) => interval95(values.slice())),
      }
    : bootstrapApDeltas(evaluations, bootstrapOptions)
  const K = reference.categoryIds.length
  const gt = reference.groundTruth
  const perCategoryDiff = (list: Int32Array[]) =>
    list.map((gs) => {
      const counts = new Map<number, number>()
      for (const g of gs) counts.set(gt.categoryIds[g]!, (counts.get(gt.categoryIds[g]!) ?? 0) + 1)
      return counts
    })
  const fixedByCategory = perCategoryDiff(differences.map((d) => d.fixed))
  const brokenByCategory = perCategoryDiff(differences.map((d) => d.broken))
  const names = reference.categoryNames.map((n, k) => n ?? String(reference.categoryIds[k]))

  const computed: CompareComputed = {
    kind: 'coco',
    iouType: job.iouType,
    scoreThreshold: job.scoreThreshold,
    seed: job.seed,
    resamples: job.resamples,
    imageCount: reference.imageIds.length,
    runs: evaluations.map((e) => ({ stats: e.stats, mIoU: null, iIoU: null, categoryMIoU: null })),
    vsReference: evaluations.slice(1).map((e, j) => ({
      deltaStats: statDeltas(reference.stats, e.stats),
      delta:
        orNull(e.stats[0]!) === null || orNull(reference.stats[0]!) === null
          ? null
          : e.stats[0]! - reference.stats[0]!,
      ci95: bootstrap.intervals[j] ?? null,
      fixed: differences[j]!.fixed.length,
      broken: differences[j]!.broken.length,
    })),
    categories: reference.categoryIds.map((id, k) => ({
      id,
      name: names[k]!,
      values: evaluations.map((e) => orNull(e.perCategory[k]!.stats[0]!)),
      ap50: evaluations.map((e) => orNull(e.perCategory[k]!.stats[1]!)),
      groundTruth: reference.perCategory[k]!.groundTruth,
      fixed: fixedByCategory.map((m) => m.get(id) ?? 0),
      broken: brokenByCategory.map((m) => m.get(id) ?? 0),
    })),
    prCurves: [
      { categoryId: null, curves: evaluations.map((e) => precisionCurve(e, null, 0.5)) },
      ...Array.from({ length: K }, (_, k) => ({
        categoryId: reference.categoryIds[k]!,
        curves: evaluations.map((e) => precisionCurve(e, k, 0.5)),
      })),
    ],
    confusion: {
      labels: [...names, 'background'],
      matrices: evaluations.map((e) => e.confusion!.matrix),
    },
    warnings: reference.warnings,
  }
  const details: CompareDetails = {
    kind: 'coco',
    imageIds: reference.imageIds,
    annotationIds: Array.from(gt.annotationIds),
    annotationImage: (() => {
      const index = new Map(reference.imageIds.map((id, i) => [id, i]))
      return gt.imageIds.map((id) => index.get(id)!)
    })(),
    crowd: Array.from(gt.crowd),
    matchedScore: evaluations.map((e) => matchedScores(e)),
    imageAp: evaluations.map((e) => e.perImage.map((p) => p.ap)),
  }
  return { computed, details }
}

/** Per ground truth: the score of its match at IoU 0.5 (null if none or a crowd region). */
function matchedScores(evaluation: CocoEvaluation): (number | null)[] {
  const { matchesAll, groundTruth } = evaluation
  const scoreOf = new Float64Array(evaluation.detections.outcome50.length)
  for (let s = 0; s < matchesAll.slotDet.length; s++)
    scoreOf[matchesAll.slotDet[s]!] = matchesAll.score[s]!
  return Array.from(groundTruth.matchedResult50, (d, g) =>
    d >= 0 && !groundTruth.crowd[g] ? scoreOf[d]! : null,
  )
}

/** Fixed / broken ground truth indices at any threshold from stored matched scores. */
export function differencesAt(
  matchedScore: readonly (number | null)[][],
  scoreThreshold: number,
): { fixed: number[][]; broken: number[][] } {
  const found = (run: number, g: number) => {
    const s = matchedScore[run]![g]
    return s !== null && s !== undefined && s >= scoreThreshold
  }
  const fixed: number[][] = []
  const broken: number[][] = []
  for (let r = 1; r < matchedScore.length; r++) {
    const f: number[] = []
    const b: number[] = []
    for (let g = 0; g < matchedScore[0]!.length; g++) {
      const a = found(0, g)
      const o = found(r, g)
      if (o && !a) f.push(g)
      else if (a && !o) b.push(g)
    }
    fixed.push(f)
    broken.push(b)
  }
  return { fixed, broken }
}

async function compareCityscapes(
  job: Extract<CompareJob, { kind: 'cityscapes' }>,
  hooks: CompareHooks,
): Promise<CompareJobResult> {
  const { signal, onProgress } = hooks
  const R = job.predictionIds.length
  const comparison = new CityscapesComparison(job.predictionIds)
  const read = async (file: string) => decodeLabelPng(await readFile(file), file)
  const load = (image: (typeof job.images)[number]) =>
    Promise.all([
      read(image.groundTruthFile),
      image.instancesFile ? read(image.instancesFile) : Promise.resolve(null),
      Promise.all(image.predictionFiles.map(read)),
    ])
  let next = job.images.length > 0 ? load(job.images[0]!) : null
  for (let i = 0; i < job.images.length; i++) {
    throwIfAborted(signal)
    const [groundTruth, instances, predictions] = await next!
    next = i + 1 < job.images.length ? load(job.images[i + 1]!) : null
    next?.catch(() => undefined)
    comparison.add({ name: job.images[i]!.name, groundTruth, instances, predictions })
    onProgress?.(i + 1, job.images.length, 'Comparing label maps')
  }
  const { evaluations, images, counts } = comparison.finish()
  const bootstrap = bootstrapMIoUDeltas(counts, {
    seed: job.seed,
    resamples: job.resamples,
    ...(signal ? { signal } : {}),
    onProgress: (done, total) => onProgress?.(done, total, 'Bootstrap'),
  })
  const [reference] = evaluations
  const sumOver = (which: 'fixedPixels' | 'brokenPixels', r: number, c: number | null) =>
    images.reduce(
      (s, image) =>
        s + (c === null ? image[which][r]!.reduce((a, b) => a + b, 0) : image[which][r]![c]!),
      0,
    )
  const computed: CompareComputed = {
    kind: 'cityscapes',
    iouType: null,
    scoreThreshold: 0,
    seed: job.seed,
    resamples: job.resamples,
    imageCount: images.length,
    runs: evaluations.map((e) => ({
      stats: null,
      mIoU: e.mIoU,
      iIoU: e.iIoU,
      categoryMIoU: e.categoryMIoU,
    })),
    vsReference: evaluations.slice(1).map((e, j) => ({
      deltaStats: null,
      delta: e.mIoU === null || reference!.mIoU === null ? null : e.mIoU - reference!.mIoU,
      ci95: bootstrap.intervals[j] ?? null,
      fixed: sumOver('fixedPixels', j, null),
      broken: sumOver('brokenPixels', j, null),
    })),
    categories: EVALUATED_LABELS.map((label, c) => ({
      id: label.id,
      name: label.name,
      values: evaluations.map((e) => e.classes[c]!.iou),
      ap50: null,
      groundTruth:
        reference!.confusionMatrix[c]!.reduce((a, b) => a + b, 0) + reference!.predictedIgnored[c]!,
      fixed: Array.from({ length: R - 1 }, (_, j) => sumOver('fixedPixels', j, c)),
      broken: Array.from({ length: R - 1 }, (_, j) => sumOver('brokenPixels', j, c)),
    })),
    prCurves: [],
    confusion: {
      labels: EVALUATED_LABELS.map((l) => l.name),
      // Row-normalised: the share of each class's pixels predicted as each class.
      matrices: evaluations.map((e) =>
        e.confusionMatrix.map((row, c) => {
          const total = row.reduce((a, b) => a + b, 0) + e.predictedIgnored[c]!
          return row.map((v) => (total === 0 ? 0 : v / total))
        }),
      ),
    },
    warnings: [],
  }
  const details: CompareDetails = {
    kind: 'cityscapes',
    imageIds: job.images.map((i) => i.imageId),
    imageMIoU: Array.from({ length: R }, (_, r) => images.map((image) => image.mIoU[r]!)),
    fixedPixels: Array.from({ length: R - 1 }, (_, j) =>
      images.map((image) => image.fixedPixels[j]!),
    ),
    brokenPixels: Array.from({ length: R - 1 }, (_, j) =>
      images.map((image) => image.brokenPixels[j]!),
    ),
    deltaIoU: Array.from({ length: R - 1 }, (_, j) => images.map((image) => image.deltaIoU[j]!)),
  }
  return { computed, details }
}
