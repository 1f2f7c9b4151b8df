import fs from 'node:fs'
import { attentionMapWriter } from '../store/attentionMaps'
import { NOW } from '../store/sql'
import path from 'node:path'
import type { Run, RunSettings } from '../../common/api'
import { AppError, toErrorShape } from '../../common/errors'
import { rateTracker } from '../../common/rate'
import type { EventBus } from '../events'
import { getCategories, getDataset } from '../datasets/queries'
import type { ImageProbe } from '../datasets/imageProbe'
import { isInside } from '../paths'
import { getModel, verifyModelFile, type ModelRecord } from '../models/registry'
import { cachedTappedCopy, type BlockTaps } from '../models/taps'
import { tappedModelInWorker } from '../models/workerClient'
import { storeIoError, type Db } from '../store/store'
import { InferenceEngine, type ProcessLauncher, forkLauncher } from './engine'
import { buildLabelTable } from './labels'
import { cachedDoctorReport, requireProvider } from './doctor'
import type { InferItem, ItemResult } from './protocol'

type Settings = Run['settings']

interface RunRow {
  id: number
  model_id: number
  dataset_id: number
  settings: string
  status: Run['status']
  owner_pid: number | null
  execution_provider: string | null
  notes: string | null
  error: string | null
  images_total: number
  images_done: number
  images_failed: number
  created_at: string
  started_at: string | null
  finished_at: string | null
  model_name: string
  task: Run['task']
  card: string
  dataset_name: string
}

const BATCH = 8
const FLUSH_EVERY = 16
const FLUSH_MS = 400

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Where the tapped copy of a model lives: one per source sha256, made once (synchronously). */
export function tappedModelPath(
  dataDir: string,
  m: ModelRecord,
): { file: string; taps: BlockTaps[] } {
  return cachedTappedCopy(dataDir, m.sha256, m.path)
}

/**
 * Runs: a model over a dataset with settings. One runs at a time (one inference process);
 * others queue. Results are written in batched transactions as they stream in, so a crash,
 * a cancel or a closed app keeps every finished image, and resume skips them.
 */
export class RunManager {
  #queue: number[] = []
  #active: {
    runId: number
    engine: InferenceEngine | null
    cancel: boolean
    finished: Promise<void>
  } | null = null
  #live = new Map<number, { rate: number | null; etaSeconds: number | null }>()
  #idle: Promise<void> = Promise.resolve()

  constructor(
    private readonly opts: {
      db: Db
      dataDir: string
      bus: EventBus
      launcher?: ProcessLauncher
      imageTimeoutMs?: number
    },
  ) {
    // Runs whose process is gone were interrupted (crash, closed app): they can resume.
    const stale = opts.db
      .prepare(`SELECT id, owner_pid FROM runs WHERE status IN ('running', 'queued')`)
      .all() as { id: number; owner_pid: number | null }[]
    for (const r of stale) {
      if (r.owner_pid !== null && r.owner_pid !== process.pid && processAlive(r.owner_pid)) continue
      opts.db
        .prepare(
          `UPDATE runs SET status = 'paused', notes = coalesce(notes || ' ', '') || 'Interrupted; resume continues where it stopped.' WHERE id = ?`,
        )
        .run(r.id)
    }
  }

  #row(id: number): RunRow {
    const row = this.opts.db
      .prepare(
        `SELECT r.*, m.name AS model_name, m.task AS task, m.card AS card, d.name AS dataset_name
         FROM runs r JOIN models m ON m.id = r.model_id JOIN datasets d ON d.id = r.dataset_id WHERE r.id = ?`,
      )
      .get(id) as RunRow | undefined
    if (!row) throw new AppError('NOT_FOUND', `Run ${id} does not exist.`)
    return row
  }

  #toRun(row: RunRow): Run {
    const live = this.#live.get(row.id)
    const stats = this.opts.db
      .prepare(
        `SELECT avg(inference_ms) AS inf, sum(preprocess_ms + inference_ms + postprocess_ms) AS total FROM run_images WHERE run_id = ? AND status = 'done'`,
      )
      .get(row.id) as { inf: number | null; total: number | null }
    const finishedRate =
      row.status !== 'running' && stats.total ? (row.images_done * 1000) / stats.total : null
    const card = JSON.parse(row.card) as { gcBlocks: unknown[] }
    return {
      id: row.id,
      modelId: row.model_id,
      modelName: row.model_name,
      datasetId: row.dataset_id,
      datasetName: row.dataset_name,
      task: row.task,
      status: row.status,
      settings: JSON.parse(row.settings) as Settings,
      executionProvider: row.execution_provider,
      imagesTotal: row.images_total,
      imagesDone: row.images_done,
      imagesFailed: row.images_failed,
      rate: row.status === 'running' ? (live?.rate ?? null) : finishedRate,
      etaSeconds: row.status === 'running' ? (live?.etaSeconds ?? null) : null,
      meanInferenceMs: stats.inf,
      gcBlocks: card.gcBlocks.length,
      error: row.error,
      failures: row.images_failed > 0 ? this.#failures(row.id) : [],
      notes: row.notes,
      createdAt: row.created_at,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
    }
  }

  /** Why a run's images failed: each distinct message with its image count, commonest first. */
  #failures(id: number): { message: string; images: number }[] {
    return this.opts.db
      .prepare(
        `SELECT error AS message, count(*) AS images FROM run_images WHERE run_id = ? AND status = 'error'
         GROUP BY error ORDER BY images DESC, message LIMIT 5`,
      )
      .all(id) as { message: string; images: number }[]
  }

  get(id: number): Run {
    return this.#toRun(this.#row(id))
  }

  list(filter: { datasetId?: number; modelId?: number } = {}): Run[] {
    const ids = this.opts.db
      .prepare(
        `SELECT id FROM runs WHERE (@d IS NULL OR dataset_id = @d) AND (@m IS NULL OR model_id = @m) ORDER BY id DESC`,
      )
      .all({ d: filter.datasetId ?? null, m: filter.modelId ?? null }) as { id: number }[]
    return ids.map((r) => this.get(r.id))
  }

  #emit(id: number): void {
    // A run deleted meanwhile has nothing left to report.
    const exists = this.opts.db.prepare('SELECT 1 FROM runs WHERE id = ?').get(id)
    if (exists) this.opts.bus.emit('run:progress', this.get(id))
  }

  start(input: RunSettings & { ep: Settings['ep']; taps: boolean; threads: number }): Run {
    const model = getModel(this.opts.db, input.modelId)
    const dataset = getDataset(this.opts.db, input.datasetId)
    // A model made for another class list (or another dataset kind) is refused here, with
    // the reason, rather than queued to fail later.
    buildLabelTable(
      model.config,
      getCategories(this.opts.db, dataset.id),
      dataset.kind,
      model.card.classCount ?? null,
    )
    // An explicit provider this install cannot load is refused now, with the reason and the
    // fix, instead of a run that fails later or silently runs on the CPU.
    if (input.ep !== 'auto') requireProvider(input.ep, cachedDoctorReport())
    const settings: Settings = {
      ...input,
      scoreThreshold: input.scoreThreshold ?? model.config.scoreThreshold,
    }
    const total = Math.min(dataset.imageCount, input.limit ?? Infinity)
    const info = this.opts.db
      .prepare(
        `INSERT INTO runs (model_id, dataset_id, settings, status, images_total) VALUES (?, ?, ?, 'queued', ?)`,
      )
      .run(model.id, dataset.id, JSON.stringify(settings), total)
    const id = Number(info.lastInsertRowid)
    this.#enqueue(id)
    return this.get(id)
  }

  /** Continues a run: the images not done yet, the failed ones included, are (re)tried. */
  resume(id: number): Run {
    const row = this.#row(id)
    if (row.status === 'running' || row.status === 'queued') return this.get(id)
    if (row.status === 'done' && row.images_done >= row.images_total) {
      throw new AppError('CONFLICT', `Run ${id} is complete; start a new run to recompute it.`)
    }
    this.opts.db
      .prepare(`UPDATE runs SET status = 'queued', error = NULL, finished_at = NULL WHERE id = ?`)
      .run(id)
    this.#enqueue(id)
    return this.get(id)
  }

  cancel(id: number): Run {
    const row = this.#row(id)
    if (this.#active?.runId === id) {
      this.#active.cancel = true
      this.#active.engine?.cancel()
    } else if (row.status === 'queued') {
      this.#queue = this.#queue.filter((q) => q !== id)
      this.opts.db
        .prepare(`UPDATE runs SET status = 'cancelled', finished_at = ${NOW} WHERE id = ?`)
        .run(id)
      this.#emit(id)
    }
    return this.get(id)
  }

  /**
   * Deletes a run; one in progress is cancelled first and deleted once its process has let go
   * (deleting the row under a running run left its last write and event without a run).
   */
  async delete(id: number): Promise<boolean> {
    await this.stop({ runId: id })
    return this.opts.db.prepare('DELETE FROM runs WHERE id = ?').run(id).changes > 0
  }

  /**
   * Cancels the queued and running runs of a run, model or dataset, and resolves when none of
   * them is running any more: what must happen before their rows can be deleted.
   */
  async stop(which: { runId?: number; modelId?: number; datasetId?: number }): Promise<void> {
    const matches = (id: number) => {
      if (which.runId !== undefined) return id === which.runId
      const row = this.opts.db
        .prepare('SELECT model_id, dataset_id FROM runs WHERE id = ?')
        .get(id) as { model_id: number; dataset_id: number } | undefined
      return (
        row !== undefined && (row.model_id === which.modelId || row.dataset_id === which.datasetId)
      )
    }
    for (const id of this.#queue.filter(matches)) this.cancel(id)
    const active = this.#active
    if (active && matches(active.runId)) {
      this.cancel(active.runId)
      await active.finished
    }
  }

  /** Resolves when nothing is running or queued. */
  idle(): Promise<void> {
    return this.#idle
  }

  #enqueue(id: number): void {
    this.#queue.push(id)
    this.#emit(id)
    if (!this.#active) this.#idle = this.#drain()
  }

  async #drain(): Promise<void> {
    while (this.#queue.length) {
      const id = this.#queue.shift()!
      try {
        await this.#execute(id)
      } catch {
        // #execute records its own failures on the run; what is left (the run deleted, the
        // store closed under it) has no run to report to, and must not end the process.
      }
    }
  }

  async #execute(id: number): Promise<void> {
    const db = this.opts.db
    let finish = () => {}
    const active = {
      runId: id,
      engine: null as InferenceEngine | null,
      cancel: false,
      finished: new Promise<void>((resolve) => (finish = resolve)),
    }
    this.#active = active
    const rate = rateTracker()
    db.prepare(
      `UPDATE runs SET status = 'running', owner_pid = ?, started_at = coalesce(started_at, ${NOW}) WHERE id = ?`,
    ).run(process.pid, id)
    this.#emit(id)
    const notes: string[] = []
    let unmapped = 0
    const writer = this.#writer(
      id,
      () => {
        const r = this.opts.db
          .prepare('SELECT images_done, images_failed, images_total FROM runs WHERE id = ?')
          .get(id) as Pick<RunRow, 'images_done' | 'images_failed' | 'images_total'> | undefined
        if (!r) return
        this.#live.set(
          id,
          rate({ phase: 'run', done: r.images_done + r.images_failed, total: r.images_total }),
        )
        this.#emit(id)
      },
      // The store refused a write (a full disk): stop feeding the process; the run then fails
      // with that error, keeping every batch committed before it.
      () => {
        const active = this.#active
        if (active?.runId === id) {
          active.cancel = true
          active.engine?.cancel()
        }
      },
    )
    try {
      const row = this.#row(id)
      const settings = JSON.parse(row.settings) as Settings
      const model = getModel(db, row.model_id)
      verifyModelFile(db, model)
      const dataset = getDataset(db, row.dataset_id)
      const labelTable = buildLabelTable(
        model.config,
        getCategories(db, dataset.id),
        dataset.kind,
        model.card.classCount ?? null,
      )
      let modelPath = model.path
      let taps: BlockTaps[] | null = null
      if (settings.taps && model.card.gcBlocks.length > 0)
        ({ file: modelPath, taps } = await tappedModelInWorker(this.opts.dataDir, model))
      if (model.card.gcBlocks.length === 0)
        notes.push('No GC blocks in this model: no attention maps.')
      const engine = new InferenceEngine(
        this.opts.launcher ?? forkLauncher,
        this.opts.imageTimeoutMs,
      )
      active.engine = engine
      try {
        const ready = await engine.init({
          modelPath,
          config: {
            ...model.config,
            scoreThreshold: settings.scoreThreshold ?? model.config.scoreThreshold,
          },
          taps,
          ep: settings.ep,
          threads: settings.threads,
          labelTable,
        })
        db.prepare('UPDATE runs SET execution_provider = ? WHERE id = ?').run(ready.ep, id)
        if (settings.ep === 'auto' && ready.ep === 'cpu')
          notes.push(`Ran on the CPU: ${cachedDoctorReport().autoReason}.`)
        this.#emit(id)
        const pending = db
          .prepare(
            `SELECT i.id, i.file_name, i.width, i.height, i.probe FROM images i
             WHERE i.dataset_id = @d
               AND i.id NOT IN (SELECT image_id FROM run_images WHERE run_id = @r AND status = 'done')
               AND i.id IN (SELECT id FROM images WHERE dataset_id = @d ORDER BY id LIMIT @limit)
             ORDER BY i.id`,
          )
          .all({ d: dataset.id, r: id, limit: settings.limit ?? -1 }) as {
          id: number
          file_name: string
          width: number
          height: number
          probe: string | null
        }[]
        const items: InferItem[] = []
        for (const p of pending) {
          const file = path.resolve(dataset.imagesRoot, p.file_name)
          // The file decides, not the import's flag: a file copied in since is run.
          if (!isInside(dataset.imagesRoot, file) || !fs.existsSync(file)) {
            writer.error(p.id, `The image file ${p.file_name} is missing.`)
            continue
          }
          const probe = p.probe ? (JSON.parse(p.probe) as ImageProbe) : null
          items.push({
            imageId: p.id,
            file,
            width: p.width,
            height: p.height,
            applyOrientation: probe?.applyOrientation ?? null,
          })
        }
        // A model that rejects every input (wrong input size, wrong layout) fails fast with
        // the reason, instead of recording the same error for every image.
        let results = 0
        let firstErrors: string[] = []
        const callbacks = {
          onResult: (r: ItemResult) => {
            results++
            unmapped += writer.result(r)
          },
          onImageError: (imageId: number, message: string) => {
            writer.error(imageId, message)
            if (results === 0) firstErrors.push(message)
          },
        }
        const failFast = () => {
          if (results === 0 && firstErrors.length >= BATCH) {
            throw new AppError(
              'INFERENCE_FAILED',
              `The first ${firstErrors.length} images all failed: ${firstErrors[0]}`,
            )
          }
          if (results > 0) firstErrors = []
        }
        // Two batches in flight: the process starts the next batch (its first image already
        // decoding) while this side stores the previous one, so it never waits for us.
        let inFlight: Promise<boolean> | null = null
        for (let i = 0; i < items.length && !active.cancel; i += BATCH) {
          const sent = engine.infer(items.slice(i, i + BATCH), callbacks)
          sent.catch(() => {})
          if (inFlight) {
            await inFlight
            failFast()
          }
          inFlight = sent
        }
        if (inFlight) {
          await inFlight
          failFast()
        }
      } finally {
        engine.dispose()
      }
      writer.flush()
      const counts = db
        .prepare('SELECT images_done, images_failed FROM runs WHERE id = ?')
        .get(id) as { images_done: number; images_failed: number }
      if (!active.cancel && counts.images_done === 0 && counts.images_failed > 0) {
        // Nothing was computed: that is a failed run, whatever the per-image errors were.
        const why = this.#failures(id)[0]!
        throw new AppError(
          'INFERENCE_FAILED',
          `All ${counts.images_failed} images failed${why.images < counts.images_failed ? `; ${why.images} of them` : ''}: ${why.message}`,
        )
      }
      if (unmapped > 0)
        notes.push(
          `${unmapped} predictions had labels with no dataset category and were dropped: was the model exported for another class list?`,
        )
      const status = active.cancel ? 'cancelled' : 'done'
      db.prepare(`UPDATE runs SET status = ?, notes = ?, finished_at = ${NOW} WHERE id = ?`).run(
        status,
        notes.join(' ') || null,
        id,
      )
    } catch (err) {
      try {
        writer.flush()
      } catch {
        // The store itself failed (a full disk): the images flushed before are what is kept.
      }
      const shape = (err as { code?: string }).code?.startsWith('SQLITE_')
        ? storeIoError(err, this.opts.dataDir).toShape()
        : toErrorShape(err)
      db.prepare(
        `UPDATE runs SET status = 'failed', error = ?, notes = ?, finished_at = ${NOW} WHERE id = ?`,
      ).run(
        `${shape.message} Finished images are kept; resume continues from there.`,
        notes.join(' ') || null,
        id,
      )
    } finally {
      this.#active = null
      this.#live.delete(id)
      try {
        this.#emit(id)
      } finally {
        finish()
      }
    }
  }

  /** Batched writes of one run's results: one transaction per few images or per 400 ms. */
  #writer(runId: number, onFlush: () => void, onStoreError: () => void) {
    const db = this.opts.db
    const insertImage = db.prepare(
      `INSERT OR REPLACE INTO run_images (run_id, image_id, status, error, preprocess_ms, inference_ms, postprocess_ms, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const deletePredictions = db.prepare(
      'DELETE FROM predictions WHERE run_id = ? AND image_id = ?',
    )
    const insertPrediction = db.prepare(
      `INSERT INTO predictions (run_id, image_id, category_id, score, bbox_x, bbox_y, bbox_w, bbox_h, mask_rle, area) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const insertSemantic = db.prepare(
      `INSERT OR REPLACE INTO semantic_outputs (run_id, image_id, png) VALUES (?, ?, ?)`,
    )
    const writeAttention = attentionMapWriter(db)
    const counters = db.prepare(
      `UPDATE runs SET images_done = (SELECT count(*) FROM run_images WHERE run_id = @r AND status = 'done'),
         images_failed = (SELECT count(*) FROM run_images WHERE run_id = @r AND status = 'error') WHERE id = @r`,
    )
    let buffer: (() => void)[] = []
    let last = Date.now()
    const flush = () => {
      if (buffer.length === 0) return
      const work = buffer
      buffer = []
      db.transaction(() => {
        for (const w of work) w()
        counters.run({ r: runId })
      })()
      last = Date.now()
      onFlush()
    }
    // Flushes triggered by a result run inside the inference process's message handler: a
    // store error there is kept (the failed transaction rolled back as a whole) and reported
    // to the run, never thrown into the event loop.
    let failure: unknown = null
    const maybeFlush = () => {
      if (failure || (buffer.length < FLUSH_EVERY && Date.now() - last <= FLUSH_MS)) return
      try {
        flush()
      } catch (err) {
        failure = err
        buffer = []
        onStoreError()
      }
    }
    return {
      result(r: ItemResult): number {
        let unmapped = 0
        const kept = (r.detections ?? []).filter((d) => {
          if (d.categoryId === null) unmapped++
          return d.categoryId !== null
        })
        buffer.push(() => {
          insertImage.run(
            runId,
            r.imageId,
            'done',
            r.note,
            r.timings.preprocessMs,
            r.timings.inferenceMs,
            r.timings.postprocessMs,
            JSON.stringify(r.geometry),
          )
          deletePredictions.run(runId, r.imageId)
          for (const d of kept)
            insertPrediction.run(
              runId,
              r.imageId,
              d.categoryId,
              d.score,
              d.bbox[0],
              d.bbox[1],
              d.bbox[2],
              d.bbox[3],
              d.maskRle,
              d.area,
            )
          if (r.semanticPng) insertSemantic.run(runId, r.imageId, Buffer.from(r.semanticPng))
          writeAttention(runId, r.imageId, r.attention ?? [])
        })
        maybeFlush()
        return unmapped
      },
      error(imageId: number, message: string) {
        buffer.push(() => insertImage.run(runId, imageId, 'error', message, null, null, null, null))
        maybeFlush()
      },
      flush: () => {
        if (failure) throw failure
        flush()
      },
      failure: () => failure,
    }
  }

  async shutdown(): Promise<void> {
    this.#queue = []
    if (this.#active) {
      this.#active.cancel = true
      this.#active.engine?.cancel()
    }
    await Promise.race([this.#idle, new Promise((r) => setTimeout(r, 5000).unref())])
  }
}
