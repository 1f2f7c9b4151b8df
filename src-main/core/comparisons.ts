/**
 * Comparisons of 2-4 runs of one dataset: checks the runs can be compared (same dataset and
 * images, finished, evaluated at the current ground truth), computes the comparison on a worker
 * thread, stores it complete, and answers the views' questions about it (the difference list,
 * one image's fixed and broken instances).
 */
import type { StoreCompareJob } from './evaluationInputs'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Evaluation } from '../common/api'
import type {
  CompareImage,
  CompareImageInstances,
  CompareRequest,
  CompareRun,
  CompareSummary,
  Comparison,
  ComparisonDetail,
} from '../common/api/compare'
import { AppError } from '../common/errors'
import type { CompareDetails, CompareJob } from './compare/job'
import { differencesAt } from './compare/job'
import { runCompareInWorker } from './compare/worker'
import { EVALUATED_LABELS } from './eval/cityscapesClasses'
import type { EvaluationManager } from './evaluations'
import type { EventBus } from './events'
import { writeRunLabelPngs } from './exports'
import { getModel } from './models/registry'
import { builtWorkerPath } from './paths'
import { type ComparisonRow, type ComparisonStore, comparisonStore } from './store/comparisons'
import { type RunFacts, evaluationInputStore } from './store/evaluationInputs'
import { evaluationStore } from './store/evaluations'
import type { Db } from './store/store'
import type { Handlers } from './dispatcher'
import type { JobManager } from './jobs'

const median = (values: number[]): number | null => {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export class ComparisonService {
  readonly #db: Db
  readonly #bus: EventBus
  readonly #evaluations: EvaluationManager
  readonly #store: ComparisonStore
  readonly #dataDir: string
  readonly #nativeBinding: string | undefined
  /** Parsed details of recently opened comparisons (the difference list pages through them). */
  readonly #details = new Map<number, CompareDetails>()

  constructor(opts: {
    db: Db
    bus: EventBus
    evaluations: EvaluationManager
    /** Where the compare worker opens its own store connection. */
    dataDir: string
    nativeBinding?: string
  }) {
    this.#db = opts.db
    this.#dataDir = opts.dataDir
    this.#nativeBinding = opts.nativeBinding
    this.#bus = opts.bus
    this.#evaluations = opts.evaluations
    this.#store = comparisonStore(opts.db)
    this.#store.sweepAbandoned(processAlive)
  }

  get #inputs() {
    return evaluationInputStore(this.#db)
  }

  #runFacts(runId: number): RunFacts {
    const row = this.#inputs.run(runId)
    if (!row) throw new AppError('NOT_FOUND', `Run ${runId} does not exist.`)
    return row
  }

  /** Everything that makes runs incomparable, as one message naming the runs. */
  #check(runIds: number[], iouType: 'bbox' | 'segm'): RunFacts[] {
    if (new Set(runIds).size !== runIds.length)
      throw new AppError('INVALID_INPUT', `A run appears twice in ${runIds.join(', ')}.`)
    const runs = runIds.map((id) => this.#runFacts(id))
    for (const r of runs) {
      const name = `Run ${r.id} (${r.modelName})`
      if (r.status === 'running' || r.status === 'queued')
        throw new AppError(
          'CONFLICT',
          `${name} is still ${r.status} (${r.imagesDone} of ${r.imagesTotal} images); compare it once it has finished.`,
        )
      if (r.status === 'failed')
        throw new AppError(
          'CONFLICT',
          `${name} failed${r.error ? `: ${r.error}` : ''}; a failed run cannot be compared.`,
        )
    }
    const [first] = runs as [RunFacts]
    const other = runs.find((r) => r.datasetId !== first.datasetId)
    if (other)
      throw new AppError(
        'CONFLICT',
        `Run ${first.id} is on dataset "${first.datasetName}" and run ${other.id} on "${other.datasetName}": only runs of the same dataset can be compared.`,
      )
    const semantic = runs.map((r) => r.task === 'semantic_segmentation')
    if (semantic.some((s) => s !== semantic[0]))
      throw new AppError(
        'CONFLICT',
        'Label-map runs (semantic segmentation) and detection runs cannot be compared with each other.',
      )
    if (!semantic[0] && iouType === 'segm') {
      const boxesOnly = runs.find((r) => r.task === 'detection')
      if (boxesOnly)
        throw new AppError(
          'CONFLICT',
          `Run ${boxesOnly.id} (${boxesOnly.modelName}) has no masks: compare with --iou-type bbox.`,
        )
    }
    const images = runs.map((r) => this.#inputs.doneImageIds(r.id))
    for (let r = 1; r < runs.length; r++) {
      const a = images[0]!
      const b = images[r]!
      if (a.length !== b.length || a.some((id, i) => id !== b[i]))
        throw new AppError(
          'CONFLICT',
          `Run ${runs[0]!.id} finished ${a.length} images and run ${runs[r]!.id} ${b.length}${a.length === b.length ? ' (not the same ones)' : ''}: a paired comparison needs the same images (resume the shorter run).`,
        )
    }
    if (images[0]!.length === 0)
      throw new AppError('CONFLICT', `Run ${runs[0]!.id} has no finished images to compare.`)
    return runs
  }

  /** A done evaluation of each run at the dataset's current ground truth, computed if missing. */
  async #ensureEvaluations(runs: RunFacts[], kind: Evaluation['kind']): Promise<void> {
    for (const r of runs) {
      const have = this.#evaluations
        .list(r.id)
        .some((e) => e.kind === kind && e.gtVersion === r.gtVersion && e.status === 'done')
      if (have) continue
      const evaluations = await this.#evaluations.evaluate(r.id)
      const failed = evaluations.find((e) => e.kind === kind && e.status !== 'done')
      if (failed)
        throw new AppError(
          'EVAL_FAILED',
          `Run ${r.id} (${r.modelName}) could not be evaluated: ${failed.error ?? 'unknown error'}`,
        )
    }
  }

  #runCard(r: RunFacts): Omit<CompareRun, 'stats' | 'mIoU' | 'iIoU' | 'categoryMIoU'> {
    const model = getModel(this.#db, r.modelId)
    const stages = new Map<string, { blocks: number; ratios: Set<number> }>()
    for (const b of model.card.gcBlocks) {
      const stage = b.stage ?? '?'
      const s = stages.get(stage) ?? { blocks: 0, ratios: new Set<number>() }
      s.blocks++
      s.ratios.add(Math.round(b.ratio * 100) / 100)
      stages.set(stage, s)
    }
    const times = this.#inputs.inferenceTimes(r.id)
    return {
      runId: r.id,
      modelId: r.modelId,
      modelName: r.modelName,
      gcLabel: model.card.gcBlocks.length ? model.card.gcRatioLabel : 'none',
      stages: [...stages].map(([stage, s]) => ({
        stage,
        blocks: s.blocks,
        ratio: s.ratios.size === 1 ? [...s.ratios][0]! : null,
      })),
      params: model.card.params,
      flops: model.card.flops,
      forwardMs: median(times),
      executionProvider: r.executionProvider,
    }
  }

  #cityscapesJob(runs: RunFacts[], tmp: string, seed: number, resamples: number): CompareJob {
    const stems = runs.map((r, i) =>
      writeRunLabelPngs(this.#db, r.id, path.join(tmp, `run${i}`), true),
    )
    const first = runs[0]!
    const byId = new Map(this.#inputs.datasetLabelMaps(first.datasetId).map((g) => [g.id, g]))
    const images = [...stems[0]!].map(([stem, imageId]) => {
      const g = byId.get(imageId)
      if (!g) throw new AppError('CONFLICT', `Image ${imageId} has no ground truth label map.`)
      return {
        name: stem,
        imageId,
        groundTruthFile: path.resolve(first.source, g.semanticPath),
        instancesFile: g.instancePath ? path.resolve(first.source, g.instancePath) : null,
        predictionFiles: runs.map((_, i) => {
          if (stems[i]!.get(stem) !== imageId)
            throw new AppError('CONFLICT', `Run ${runs[i]!.id} has no label map of ${stem}.`)
          return path.join(tmp, `run${i}`, `${stem}_gcstudio_labelIds.png`)
        }),
      }
    })
    return {
      kind: 'cityscapes',
      images,
      predictionIds: runs.map(() => 'label' as const),
      seed,
      resamples,
    }
  }

  /** Checks, evaluates where needed, computes on a worker and stores the comparison. */
  async create(
    input: CompareRequest,
    hooks: {
      onProgress?: (done: number, total: number | null, phase: string) => void
      signal?: AbortSignal
    } = {},
  ): Promise<Comparison> {
    const scoreThreshold = input.scoreThreshold ?? 0.5
    const seed = input.seed ?? 1
    const resamples = input.resamples ?? 1000
    const iouType = input.iouType ?? 'bbox'
    const runs = this.#check(input.runIds, iouType)
    const semantic = runs[0]!.task === 'semantic_segmentation'
    const evalKind: Evaluation['kind'] = semantic ? 'cityscapes' : `coco-${iouType}`
    const progress = (id: number | null, done: number, total: number | null, phase: string) => {
      hooks.onProgress?.(done, total, phase)
      if (id !== null) this.#bus.emit('compare:progress', { id, done, total, phase })
    }
    progress(null, 0, null, 'Evaluating runs')
    await this.#ensureEvaluations(runs, evalKind)
    const gtVersion = runs[0]!.gtVersion
    const id = this.#store.start({
      datasetId: runs[0]!.datasetId,
      gtVersion,
      kind: semantic ? 'cityscapes' : 'coco',
      iouType: semantic ? null : iouType,
      runIds: runs.map((r) => r.id),
      title: runs.map((r) => r.modelName).join(' vs '),
      scoreThreshold: semantic ? 0 : scoreThreshold,
      seed,
      resamples,
    })
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gcstudio-compare-'))
    try {
      let job: CompareJob | StoreCompareJob
      if (semantic) job = this.#cityscapesJob(runs, tmp, seed, resamples)
      else {
        // The worker reads the ground truth and every run's predictions from the store itself.
        job = {
          kind: 'store-coco',
          dataDir: this.#dataDir,
          ...(this.#nativeBinding ? { nativeBinding: this.#nativeBinding } : {}),
          runIds: runs.map((r) => r.id),
          iouType,
          scoreThreshold,
          seed,
          resamples,
        }
      }
      const { computed, details } = await runCompareInWorker(
        builtWorkerPath('compareWorker'),
        job,
        {
          onProgress: (done, total, phase) => progress(id, done, total, phase),
          ...(hooks.signal ? { signal: hooks.signal } : {}),
        },
      )
      const now = this.#runFacts(runs[0]!.id)
      if (now.gtVersion !== gtVersion)
        throw new AppError(
          'CONFLICT',
          `The ground truth of "${now.datasetName}" changed while comparing (version ${gtVersion} -> ${now.gtVersion}); compare again.`,
        )
      const summary: CompareSummary = {
        ...computed,
        runs: runs.map((r, i) => ({ ...this.#runCard(r), ...computed.runs[i]! })),
        vsReference: computed.vsReference.map((v, j) => ({ ...v, runId: runs[j + 1]!.id })),
      }
      this.#store.finish(id, summary, details)
      this.#details.set(id, details)
      progress(id, 1, 1, 'Done')
      return this.#toComparison(this.#store.get(id)!)
    } catch (err) {
      // Nothing half-computed stays behind.
      this.#store.delete(id)
      throw err
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  }

  #toComparison(row: ComparisonRow): Comparison {
    return {
      id: row.id,
      datasetId: row.datasetId,
      datasetName: row.datasetName,
      gtVersion: row.gtVersion,
      runIds: row.runIds,
      referenceRunId: row.runIds[0]!,
      kind: row.kind,
      iouType: row.iouType,
      scoreThreshold: row.scoreThreshold,
      seed: row.seed,
      resamples: row.resamples,
      status: row.status,
      title: row.title,
      error: null,
      createdAt: row.createdAt,
      finishedAt: row.finishedAt,
    }
  }

  list(): Comparison[] {
    return this.#store.list().map((r) => this.#toComparison(r))
  }

  #row(id: number): ComparisonRow {
    const row = this.#store.get(id)
    if (!row)
      throw new AppError('NOT_FOUND', `Comparison ${id} does not exist (it may have been deleted).`)
    return row
  }

  get(id: number): ComparisonDetail {
    const row = this.#row(id)
    const data = this.#store.data(id)
    const summary = data?.summary ? (JSON.parse(data.summary) as CompareSummary) : null
    const problems: string[] = []
    const names = new Map(summary?.runs.map((r) => [r.runId, r.modelName]))
    const existing = this.#inputs.existingRunIds(row.runIds)
    for (const runId of row.runIds) {
      if (!existing.has(runId))
        problems.push(
          `Run ${runId}${names.get(runId) ? ` (${names.get(runId)})` : ''} was deleted after this comparison was made: its numbers below are kept, but its predictions can no longer be shown.`,
        )
    }
    const currentGtVersion = this.#inputs.datasetGtVersion(row.datasetId)
    if (currentGtVersion !== undefined && currentGtVersion !== row.gtVersion)
      problems.push(
        `The ground truth was edited since this comparison was made (version ${row.gtVersion}, now ${currentGtVersion}): these numbers are for version ${row.gtVersion}; compare again for the current labels.`,
      )
    const kind: Evaluation['kind'] =
      row.kind === 'cityscapes' ? 'cityscapes' : `coco-${row.iouType!}`
    const evaluations = evaluationStore(this.#db)
    const tide = row.runIds.map((runId) => {
      const errors = evaluations.doneMetrics(runId, row.gtVersion, kind)?.errors
      if (!errors || typeof errors !== 'object') return null
      const t = errors as { ap50?: unknown; main?: unknown; special?: unknown }
      return typeof t.ap50 === 'number' && t.main && t.special
        ? {
            ap50: t.ap50,
            main: t.main as Record<string, number>,
            special: t.special as Record<string, number>,
          }
        : null
    })
    return { ...this.#toComparison(row), summary, tide, problems }
  }

  delete(id: number): boolean {
    this.#details.delete(id)
    return this.#store.delete(id)
  }

  #detailsOf(id: number): { row: ComparisonRow; details: CompareDetails } {
    const row = this.#row(id)
    if (row.status !== 'done')
      throw new AppError('CONFLICT', `Comparison ${id} is still being computed.`)
    let details = this.#details.get(id)
    if (!details) {
      details = JSON.parse(this.#store.data(id)!.details!) as CompareDetails
      // Keep a few: a 5,000-image comparison's details are a few megabytes.
      if (this.#details.size >= 4) this.#details.delete(this.#details.keys().next().value!)
      this.#details.set(id, details)
    }
    return { row, details }
  }

  /** Per image and run after the reference: fixed and broken counts and the metric delta. */
  #perImage(
    row: ComparisonRow,
    details: CompareDetails,
    scoreThreshold: number,
  ): { imageId: number; fixed: number[]; broken: number[]; delta: (number | null)[] }[] {
    const R = row.runIds.length
    if (details.kind === 'coco') {
      const I = details.imageIds.length
      const { fixed, broken } = differencesAt(details.matchedScore, scoreThreshold)
      const count = (lists: number[][]) =>
        lists.map((list) => {
          const perImage = new Int32Array(I)
          for (const g of list) perImage[details.annotationImage[g]!]!++
          return perImage
        })
      const f = count(fixed)
      const b = count(broken)
      return details.imageIds.map((imageId, i) => ({
        imageId: Number(imageId),
        fixed: f.map((c) => c[i]!),
        broken: b.map((c) => c[i]!),
        delta: Array.from({ length: R - 1 }, (_, j) => {
          const a = details.imageAp[0]![i]
          const o = details.imageAp[j + 1]![i]
          return a === null || o === null || a === undefined || o === undefined ? null : o - a
        }),
      }))
    }
    const sum = (v: number[]) => v.reduce((a, c) => a + c, 0)
    return details.imageIds.map((imageId, i) => ({
      imageId,
      fixed: details.fixedPixels.map((run) => sum(run[i]!)),
      broken: details.brokenPixels.map((run) => sum(run[i]!)),
      delta: Array.from({ length: R - 1 }, (_, j) => {
        const a = details.imageMIoU[0]![i]
        const o = details.imageMIoU[j + 1]![i]
        return a === null || o === null || a === undefined || o === undefined ? null : o - a
      }),
    }))
  }

  images(input: {
    id: number
    runId?: number | undefined
    order: 'net' | 'delta'
    scoreThreshold?: number | undefined
    changedOnly: boolean
    offset: number
    limit: number
  }): { total: number; images: CompareImage[] } {
    const { row, details } = this.#detailsOf(input.id)
    const j = input.runId === undefined ? 0 : row.runIds.indexOf(input.runId) - 1
    if (j < 0)
      throw new AppError(
        'INVALID_INPUT',
        `Run ${input.runId} is ${row.runIds[0] === input.runId ? 'the reference' : 'not part'} of comparison ${row.id}; pick one of ${row.runIds.slice(1).join(', ')}.`,
      )
    let rows = this.#perImage(row, details, input.scoreThreshold ?? row.scoreThreshold)
    if (input.changedOnly)
      rows = rows.filter((r) => r.fixed[j]! + r.broken[j]! > 0 || (r.delta[j] ?? 0) !== 0)
    const abs = (v: number | null | undefined) => (v === null || v === undefined ? -1 : Math.abs(v))
    rows.sort((a, b) =>
      input.order === 'net'
        ? b.fixed[j]! - b.broken[j]! - (a.fixed[j]! - a.broken[j]!) ||
          abs(b.delta[j]) - abs(a.delta[j]) ||
          a.imageId - b.imageId
        : abs(b.delta[j]) - abs(a.delta[j]) || a.imageId - b.imageId,
    )
    const page = rows.slice(input.offset, input.offset + input.limit)
    const names = this.#inputs.imageFileNames(page.map((p) => p.imageId))
    return {
      total: rows.length,
      images: page.map((p) => ({ ...p, fileName: names.get(p.imageId) ?? `image ${p.imageId}` })),
    }
  }

  /** The ground truth each run fixed and broke on one image, with boxes (COCO). */
  imageInstances(id: number, imageId: number, threshold?: number): CompareImageInstances {
    const { row, details } = this.#detailsOf(id)
    const scoreThreshold = threshold ?? row.scoreThreshold
    const reference = { runId: row.runIds[0]!, fixed: [], broken: [] }
    if (details.kind !== 'coco') {
      const i = details.imageIds.indexOf(imageId)
      if (i < 0)
        throw new AppError('NOT_FOUND', `Image ${imageId} is not part of comparison ${id}.`)
      // Label maps have pixels, not instances: per class, pixels fixed and broken and the IoU delta.
      return {
        imageId,
        scoreThreshold,
        runs: [
          reference,
          ...row.runIds.slice(1).map((runId, j) => ({
            runId,
            fixed: [],
            broken: [],
            classes: EVALUATED_LABELS.map((label, c) => ({
              name: label.name,
              fixedPixels: details.fixedPixels[j]![i]![c]!,
              brokenPixels: details.brokenPixels[j]![i]![c]!,
              deltaIoU: details.deltaIoU[j]![i]![c] ?? null,
            })),
          })),
        ],
      }
    }
    const i = details.imageIds.findIndex((v) => Number(v) === imageId)
    if (i < 0) throw new AppError('NOT_FOUND', `Image ${imageId} is not part of comparison ${id}.`)
    const { fixed, broken } = differencesAt(details.matchedScore, scoreThreshold)
    const onImage = (list: number[]) =>
      list.filter((g) => details.annotationImage[g] === i).map((g) => details.annotationIds[g]!)
    const wanted = [...fixed.flatMap(onImage), ...broken.flatMap(onImage)]
    const boxes = this.#inputs.annotationBoxes(wanted)
    const instances = (ids: number[]) =>
      ids.flatMap((a) => {
        const box = boxes.get(a)
        return box ? [box] : []
      })
    return {
      imageId,
      scoreThreshold,
      runs: [
        reference,
        ...row.runIds.slice(1).map((runId, j) => ({
          runId,
          fixed: instances(onImage(fixed[j]!)),
          broken: instances(onImage(broken[j]!)),
        })),
      ],
    }
  }
}

/**
 * The contract's `compare:*` methods. Creating a comparison is a job ('comparison': progress in the
 * jobs tray, cancel through `jobs:cancel`); the method resolves with the stored comparison once
 * the job is done, or rejects with the reason it was refused or failed.
 */
export function compareHandlers(
  service: ComparisonService,
  jobs: JobManager,
): Pick<
  Handlers,
  | 'compare:create'
  | 'compare:list'
  | 'compare:get'
  | 'compare:delete'
  | 'compare:images'
  | 'compare:imageInstances'
> {
  return {
    'compare:create': (input) =>
      jobs.run(
        { kind: 'comparison', title: `Compare runs ${input.runIds.join(', ')}` },
        (ctx) => {
          ctx.progress({ done: 0, total: null, phase: 'Checking and evaluating runs', unit: '' })
          return service.create(input, {
            signal: ctx.signal,
            onProgress: (done, total, phase) => ctx.progress({ done, total, phase }),
          })
        },
        (c) => c.title,
      ),
    'compare:list': () => service.list(),
    'compare:get': ({ id }) => service.get(id),
    'compare:delete': ({ id }) => ({ deleted: service.delete(id) }),
    'compare:images': (input) => service.images(input),
    'compare:imageInstances': ({ id, imageId, scoreThreshold }) =>
      service.imageInstances(id, imageId, scoreThreshold),
  }
}
