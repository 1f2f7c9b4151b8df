import fs from 'node:fs'
import { NOW } from './store/sql'
import os from 'node:os'
import path from 'node:path'
import type { Evaluation, EvaluationDetail } from '../common/api'
import { AppError, toErrorShape } from '../common/errors'
import type { CocoDataset, CocoResult, EvalJob, EvalJobResult } from './eval'
import {
  cityscapesEvaluationRows,
  cityscapesStem,
  cocoEvaluationRows,
  runEvalInWorker,
} from './eval'
import type { EventBus } from './events'
import { builtWorkerPath } from './paths'
import { writeRunLabelPngs } from './exports'
import { cocoRunInputs, runHasMasks, type StoreCocoJob } from './evaluationInputs'
import type { Db } from './store/store'
import { labelEditStore } from './store/labelEdits'

interface RunInfo {
  id: number
  dataset_id: number
  task: string
  kind: 'coco' | 'cityscapes'
  source: string
  split: string | null
  gt_version: number
}

interface EvaluationKey {
  runId: number
  datasetId: number
  gtVersion: number
  kind: Evaluation['kind']
}

interface EvaluationRow {
  id: number
  run_id: number
  dataset_id: number
  gt_version: number
  kind: Evaluation['kind']
  status: Evaluation['status']
  primary_metric: number | null
  image_count: number | null
  metrics: string | null
  categories: string | null
  warnings: string | null
  error: string | null
  created_at: string
  finished_at: string | null
}

const toEvaluation = (r: EvaluationRow): Evaluation => ({
  id: r.id,
  runId: r.run_id,
  datasetId: r.dataset_id,
  gtVersion: r.gt_version,
  kind: r.kind,
  status: r.status,
  primaryMetric: r.primary_metric,
  imageCount: r.image_count,
  error: r.error,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
})

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

  list(runId?: number): Evaluation[] {
    const rows = this.opts.db
      .prepare('SELECT * FROM evaluations WHERE (@r IS NULL OR run_id = @r) ORDER BY id DESC')
      .all({ r: runId ?? null }) as EvaluationRow[]
    return rows.map(toEvaluation)
  }

  get(id: number): EvaluationDetail {
    const row = this.opts.db.prepare('SELECT * FROM evaluations WHERE id = ?').get(id) as
      EvaluationRow | undefined
    if (!row) throw new AppError('NOT_FOUND', `Evaluation ${id} does not exist.`)
    return {
      ...toEvaluation(row),
      metrics: row.metrics ? (JSON.parse(row.metrics) as Record<string, unknown>) : null,
      categories: row.categories ? (JSON.parse(row.categories) as Record<string, unknown>[]) : [],
      warnings: row.warnings ? (JSON.parse(row.warnings) as string[]) : [],
    }
  }

  /** Per-image rows, sortable (worst images first is the usual question). */
  images(
    id: number,
    order: 'ap' | 'miou' | 'fp' | 'fn',
    direction: 'asc' | 'desc',
    offset: number,
    limit: number,
  ) {
    const col = { ap: 'ap', miou: 'miou', fp: 'fp', fn: 'fn' }[order]
    return this.opts.db
      .prepare(
        `SELECT e.image_id AS imageId, i.file_name AS fileName, e.ap, e.ap50 AS ap50, e.tp, e.fp, e.fn, e.miou
         FROM evaluation_images e JOIN images i ON i.id = e.image_id
         WHERE e.evaluation_id = ? ORDER BY e.${col} IS NULL, e.${col} ${direction === 'asc' ? 'ASC' : 'DESC'}, e.image_id LIMIT ? OFFSET ?`,
      )
      .all(id, limit, offset) as {
      imageId: number
      fileName: string
      ap: number | null
      ap50: number | null
      tp: number | null
      fp: number | null
      fn: number | null
      miou: number | null
    }[]
  }

  #run(runId: number): RunInfo {
    const row = this.opts.db
      .prepare(
        `SELECT r.id, r.dataset_id, m.task, d.kind, d.source, d.split, d.gt_version FROM runs r
         JOIN models m ON m.id = r.model_id JOIN datasets d ON d.id = r.dataset_id WHERE r.id = ?`,
      )
      .get(runId) as RunInfo | undefined
    if (!row) throw new AppError('NOT_FOUND', `Run ${runId} does not exist.`)
    return row
  }

  /** Evaluates a run: COCO bbox (and segm when it has masks), or Cityscapes for label maps. */
  async evaluate(
    runId: number,
    options: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
  ): Promise<Evaluation[]> {
    const run = this.#run(runId)
    const db = this.opts.db
    const done = (
      db
        .prepare(`SELECT count(*) AS n FROM run_images WHERE run_id = ? AND status = 'done'`)
        .get(runId) as { n: number }
    ).n
    if (done === 0)
      throw new AppError('CONFLICT', `Run ${runId} has no finished images to evaluate.`)
    const jobs: {
      kind: Evaluation['kind']
      job: EvalJob | StoreCocoJob
      cleanup?: () => void
      imageIds?: Map<string, number>
    }[] = []
    if (run.task === 'semantic_segmentation') {
      if (run.kind !== 'cityscapes')
        throw new AppError('UNSUPPORTED', 'Label maps are evaluated against Cityscapes datasets.')
      jobs.push({ kind: 'cityscapes', ...this.#cityscapesJob(run) })
    } else {
      // The worker reads the ground truth and the predictions from the store itself: assembling
      // them here would hold the thread that serves the UI for as long as the reading takes.
      const store = {
        kind: 'store-coco' as const,
        dataDir: this.opts.dataDir,
        ...(this.opts.nativeBinding ? { nativeBinding: this.opts.nativeBinding } : {}),
        runId,
      }
      jobs.push({ kind: 'coco-bbox', job: { ...store, iouType: 'bbox', errors: true } })
      if (runHasMasks(db, runId))
        jobs.push({ kind: 'coco-segm', job: { ...store, iouType: 'segm', errors: true } })
    }
    const out: Evaluation[] = []
    try {
      for (const j of jobs) {
        // Nothing is written until the evaluation is complete: a cancel leaves no row, and a
        // re-evaluation keeps the earlier numbers until the new ones replace them.
        const key = { runId, datasetId: run.dataset_id, gtVersion: run.gt_version, kind: j.kind }
        let id: number
        try {
          const result = await runEvalInWorker(builtWorkerPath('evalWorker'), j.job, {
            ...(options.onProgress ? { onProgress: options.onProgress } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
          })
          id = this.#save(key, result, j.imageIds)
        } catch (err) {
          if (options.signal?.aborted)
            throw new AppError('CANCELLED', 'The evaluation was cancelled.')
          id = this.#saveFailure(key, toErrorShape(err).message)
        }
        this.opts.bus.emit('evaluation:changed', { id, runId, status: this.get(id).status })
        out.push(
          toEvaluation(
            db.prepare('SELECT * FROM evaluations WHERE id = ?').get(id) as EvaluationRow,
          ),
        )
      }
    } finally {
      // Cityscapes inputs live in a temporary folder until every evaluation of the run is done.
      for (const j of jobs) j.cleanup?.()
    }
    return out
  }

  /** What a COCO evaluation of this run reads (the evaluation views recompute from it). */
  cocoInputs(runId: number): { gt: CocoDataset; dets: CocoResult[]; gtVersion: number } {
    const run = this.#run(runId)
    return { ...cocoRunInputs(this.opts.db, runId), gtVersion: run.gt_version }
  }

  /**
   * The official script's layout in a temporary folder: the run's images' gtFine labelIds and
   * instanceIds (linked), and the predicted label-id PNGs, paired by Cityscapes stem.
   */
  #cityscapesJob(run: RunInfo): {
    job: EvalJob
    cleanup: () => void
    imageIds: Map<string, number>
  } {
    const db = this.opts.db
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gcstudio-eval-'))
    try {
      const gtDir = path.join(tmp, 'gt')
      const predDir = path.join(tmp, 'pred')
      fs.mkdirSync(gtDir)
      const imageIds = writeRunLabelPngs(db, run.id, predDir, true)
      const gt = db
        .prepare(
          `SELECT id, semantic_path, instance_path FROM images WHERE id IN (SELECT image_id FROM semantic_outputs WHERE run_id = ?) AND semantic_path IS NOT NULL`,
        )
        .all(run.id) as { id: number; semantic_path: string; instance_path: string | null }[]
      const byId = new Map(gt.map((g) => [g.id, g]))
      const labelEdits = labelEditStore(db)
      for (const [stem, id] of imageIds) {
        const g = byId.get(id)!
        // Edited label maps (label editing) are scored in place of the files they replace.
        const edited = labelEdits.currentMapEdit(id)?.after_map ?? null
        if (edited !== null) {
          const m = labelEdits.labelMap(edited)!
          fs.writeFileSync(path.join(gtDir, `${stem}_gtFine_labelIds.png`), m.label_png)
          fs.writeFileSync(path.join(gtDir, `${stem}_gtFine_instanceIds.png`), m.instance_png)
          continue
        }
        fs.symlinkSync(
          path.resolve(run.source, g.semantic_path),
          path.join(gtDir, `${stem}_gtFine_labelIds.png`),
        )
        if (g.instance_path)
          fs.symlinkSync(
            path.resolve(run.source, g.instance_path),
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
        cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }),
        imageIds,
      }
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true })
      throw err
    }
  }

  #upsert(key: EvaluationKey, status: 'done' | 'failed', error: string | null): number {
    return (
      this.opts.db
        .prepare(
          `INSERT INTO evaluations (run_id, dataset_id, gt_version, kind, status, error) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (run_id, gt_version, kind) DO UPDATE SET status = excluded.status, error = excluded.error,
             created_at = ${NOW}
           RETURNING id`,
        )
        .get(key.runId, key.datasetId, key.gtVersion, key.kind, status, error) as { id: number }
    ).id
  }

  #saveFailure(key: EvaluationKey, message: string): number {
    const id = this.#upsert(key, 'failed', message)
    this.opts.db.prepare(`UPDATE evaluations SET finished_at = ${NOW} WHERE id = ?`).run(id)
    return id
  }

  #save(key: EvaluationKey, result: EvalJobResult, imageIds?: Map<string, number>): number {
    const db = this.opts.db
    let id = 0
    const insert = db.prepare(
      `INSERT OR REPLACE INTO evaluation_images (evaluation_id, image_id, ap, ap50, tp, fp, fn, miou, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    db.transaction(() => {
      id = this.#upsert(key, 'done', null)
      db.prepare('DELETE FROM evaluation_images WHERE evaluation_id = ?').run(id)
      let summary
      let categories: unknown[]
      if (result.kind === 'coco') {
        const rows = cocoEvaluationRows(result.evaluation, result.errors)
        summary = rows.summary
        categories = rows.categories
        for (const r of rows.images) {
          insert.run(
            id,
            Number(r.imageId),
            r.ap,
            r.ap50,
            r.truePositives,
            r.falsePositives,
            r.falseNegatives,
            null,
            JSON.stringify({
              groundTruth: r.groundTruth,
              crowd: r.crowd,
              detections: r.detections,
              scoreThreshold: r.scoreThreshold,
              maxScore: r.maxScore,
              confusion: r.confusionCells,
              categories: r.categoryIds,
            }),
          )
        }
      } else {
        const rows = cityscapesEvaluationRows(result.evaluation)
        summary = rows.summary
        categories = rows.classes
        for (const r of rows.images) {
          const imageId =
            imageIds?.get(cityscapesStem(r.imageName) ?? r.imageName) ?? imageIds?.get(r.imageName)
          if (imageId !== undefined)
            insert.run(id, imageId, null, null, null, null, null, r.mIoU, r.classIoUJson)
        }
      }
      db.prepare(
        `UPDATE evaluations SET status = 'done', primary_metric = ?, image_count = ?, metrics = ?, categories = ?, warnings = ?, error = NULL,
           finished_at = ${NOW} WHERE id = ?`,
      ).run(
        summary.primaryMetric,
        summary.imageCount,
        summary.metricsJson,
        JSON.stringify(categories),
        summary.warningsJson,
        id,
      )
    })()
    return id
  }
}
