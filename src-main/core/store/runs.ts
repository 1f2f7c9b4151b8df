/**
 * The runs and run_images tables: a model over a dataset with settings, its status, progress
 * counters and per-image outcome (done or failed, timings, geometry). Resume reads from here
 * which images are still to do. The run's predictions, label maps and attention maps are
 * `predictions.ts` and `attentionMaps.ts`.
 */
import type { ImageInference, Run } from '../../common/api'
import { NOW, perDb } from './sql'
import type { Db } from './store'

type Settings = Run['settings']
type Geometry = NonNullable<ImageInference['geometry']>
type Timings = NonNullable<ImageInference['timings']>

interface RawRow {
  id: number
  model_id: number
  dataset_id: number
  settings: string
  status: Run['status']
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
  gc_blocks: number
  dataset_name: string
}

const COLUMNS = `r.id, r.model_id, r.dataset_id, r.settings, r.status, r.execution_provider, r.notes,
  r.error, r.images_total, r.images_done, r.images_failed, r.created_at, r.started_at,
  r.finished_at, m.name AS model_name, m.task, json_array_length(m.card, '$.gcBlocks') AS gc_blocks,
  d.name AS dataset_name
  FROM runs r JOIN models m ON m.id = r.model_id JOIN datasets d ON d.id = r.dataset_id`

interface DoneStats {
  /** Mean inference time of the finished images. */
  inf: number | null
  /** Their total time (preprocess, inference, postprocess). */
  total: number | null
}

/** Why a run's images failed: a distinct message and how many images gave it. */
export interface RunFailure {
  message: string
  images: number
}

/** A run's progress counters. */
export interface RunCounts {
  done: number
  failed: number
  total: number
}

/**
 * A run as the API shows it. `rate` is the finished run's mean (images per second of compute)
 * and `etaSeconds` null: a running run's live rate is the run manager's, not the store's.
 */
const toRun = (r: RawRow, stats: DoneStats, failures: RunFailure[]): Run => ({
  id: r.id,
  modelId: r.model_id,
  modelName: r.model_name,
  datasetId: r.dataset_id,
  datasetName: r.dataset_name,
  task: r.task,
  status: r.status,
  settings: JSON.parse(r.settings) as Settings,
  executionProvider: r.execution_provider,
  imagesTotal: r.images_total,
  imagesDone: r.images_done,
  imagesFailed: r.images_failed,
  rate: r.status !== 'running' && stats.total ? (r.images_done * 1000) / stats.total : null,
  etaSeconds: null,
  meanInferenceMs: stats.inf,
  gcBlocks: r.gc_blocks,
  error: r.error,
  failures,
  notes: r.notes,
  createdAt: r.created_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
})

/** An image a run (or its attention pass) still has to go over. */
export interface RunImageFile {
  id: number
  fileName: string
  width: number
  height: number
  /** From the image's probe; null when it was not probed yet. */
  applyOrientation: boolean | null
}

interface RawImageFile {
  id: number
  file_name: string
  width: number
  height: number
  apply_orientation: number | null
}

const toImageFile = (r: RawImageFile): RunImageFile => ({
  id: r.id,
  fileName: r.file_name,
  width: r.width,
  height: r.height,
  applyOrientation: r.apply_orientation === null ? null : r.apply_orientation !== 0,
})

const IMAGE_FILE = `i.id, i.file_name, i.width, i.height,
  json_extract(i.probe, '$.applyOrientation') AS apply_orientation`

/** One image's outcome in a run. */
export interface RunImage {
  status: 'done' | 'error'
  error: string | null
  geometry: Geometry | null
  timings: Timings | null
}

interface RawRunImage {
  status: 'done' | 'error'
  error: string | null
  preprocess_ms: number | null
  inference_ms: number | null
  postprocess_ms: number | null
  meta: string | null
}

const toRunImage = (r: RawRunImage): RunImage => ({
  status: r.status,
  error: r.error,
  geometry: r.meta ? (JSON.parse(r.meta) as Geometry) : null,
  timings:
    r.inference_ms !== null
      ? {
          preprocessMs: r.preprocess_ms ?? 0,
          inferenceMs: r.inference_ms,
          postprocessMs: r.postprocess_ms ?? 0,
        }
      : null,
})

export interface NewRun {
  modelId: number
  datasetId: number
  settings: Settings
  imagesTotal: number
}

export class RunStore {
  readonly #get
  readonly #list
  readonly #stats
  readonly #failures
  readonly #exists
  readonly #insert
  readonly #unfinished
  readonly #interrupted
  readonly #requeue
  readonly #cancelQueued
  readonly #remove
  readonly #start
  readonly #provider
  readonly #counts
  readonly #refreshCounts
  readonly #finish
  readonly #fail
  readonly #pending
  readonly #withoutAttention
  readonly #image
  readonly #imageDone
  readonly #imageError

  constructor(db: Db) {
    this.#get = db.prepare<[number], RawRow>(`SELECT ${COLUMNS} WHERE r.id = ?`)
    this.#list = db.prepare<{ d: number | null; m: number | null }, RawRow>(
      `SELECT ${COLUMNS} WHERE (@d IS NULL OR r.dataset_id = @d) AND (@m IS NULL OR r.model_id = @m)
       ORDER BY r.id DESC`,
    )
    this.#stats = db.prepare<[number], DoneStats>(
      `SELECT avg(inference_ms) AS inf, sum(preprocess_ms + inference_ms + postprocess_ms) AS total
       FROM run_images WHERE run_id = ? AND status = 'done'`,
    )
    this.#failures = db.prepare<[number], RunFailure>(
      `SELECT error AS message, count(*) AS images FROM run_images WHERE run_id = ? AND status = 'error'
       GROUP BY error ORDER BY images DESC, message LIMIT 5`,
    )
    this.#exists = db.prepare<[number], number>('SELECT 1 FROM runs WHERE id = ?').pluck()
    this.#insert = db.prepare<[number, number, string, number]>(
      `INSERT INTO runs (model_id, dataset_id, settings, status, images_total) VALUES (?, ?, ?, 'queued', ?)`,
    )
    this.#unfinished = db.prepare<[], { id: number; ownerPid: number | null }>(
      `SELECT id, owner_pid AS ownerPid FROM runs WHERE status IN ('running', 'queued')`,
    )
    this.#interrupted = db.prepare<[number]>(
      `UPDATE runs SET status = 'paused', notes = coalesce(notes || ' ', '') || 'Interrupted; resume continues where it stopped.' WHERE id = ?`,
    )
    this.#requeue = db.prepare<[number]>(
      `UPDATE runs SET status = 'queued', error = NULL, finished_at = NULL WHERE id = ?`,
    )
    this.#cancelQueued = db.prepare<[number]>(
      `UPDATE runs SET status = 'cancelled', finished_at = ${NOW} WHERE id = ?`,
    )
    this.#remove = db.prepare<[number]>('DELETE FROM runs WHERE id = ?')
    this.#start = db.prepare<[number, number]>(
      `UPDATE runs SET status = 'running', owner_pid = ?, started_at = coalesce(started_at, ${NOW}) WHERE id = ?`,
    )
    this.#provider = db.prepare<[string, number]>(
      'UPDATE runs SET execution_provider = ? WHERE id = ?',
    )
    this.#counts = db.prepare<[number], RunCounts>(
      'SELECT images_done AS done, images_failed AS failed, images_total AS total FROM runs WHERE id = ?',
    )
    this.#refreshCounts = db.prepare<{ r: number }>(
      `UPDATE runs SET images_done = (SELECT count(*) FROM run_images WHERE run_id = @r AND status = 'done'),
         images_failed = (SELECT count(*) FROM run_images WHERE run_id = @r AND status = 'error') WHERE id = @r`,
    )
    this.#finish = db.prepare<[string, string | null, number]>(
      `UPDATE runs SET status = ?, notes = ?, finished_at = ${NOW} WHERE id = ?`,
    )
    this.#fail = db.prepare<[string, string | null, number]>(
      `UPDATE runs SET status = 'failed', error = ?, notes = ?, finished_at = ${NOW} WHERE id = ?`,
    )
    this.#pending = db.prepare<{ d: number; r: number; limit: number }, RawImageFile>(
      `SELECT ${IMAGE_FILE} FROM images i
       WHERE i.dataset_id = @d
         AND i.id NOT IN (SELECT image_id FROM run_images WHERE run_id = @r AND status = 'done')
         AND i.id IN (SELECT id FROM images WHERE dataset_id = @d ORDER BY id LIMIT @limit)
       ORDER BY i.id`,
    )
    this.#withoutAttention = db.prepare<[number], RawImageFile>(
      `SELECT ${IMAGE_FILE} FROM run_images ri JOIN images i ON i.id = ri.image_id
       WHERE ri.run_id = ? AND ri.status = 'done'
         AND NOT EXISTS (SELECT 1 FROM attention_maps a WHERE a.run_id = ri.run_id AND a.image_id = ri.image_id)
       ORDER BY i.id`,
    )
    this.#image = db.prepare<[number, number], RawRunImage>(
      'SELECT status, error, preprocess_ms, inference_ms, postprocess_ms, meta FROM run_images WHERE run_id = ? AND image_id = ?',
    )
    const recordImage = `INSERT OR REPLACE INTO run_images (run_id, image_id, status, error, preprocess_ms, inference_ms, postprocess_ms, meta)`
    this.#imageDone = db.prepare<[number, number, string | null, number, number, number, string]>(
      `${recordImage} VALUES (?, ?, 'done', ?, ?, ?, ?, ?)`,
    )
    this.#imageError = db.prepare<[number, number, string]>(
      `${recordImage} VALUES (?, ?, 'error', ?, NULL, NULL, NULL, NULL)`,
    )
  }

  #toRun(row: RawRow): Run {
    return toRun(row, this.#stats.get(row.id)!, row.images_failed > 0 ? this.failures(row.id) : [])
  }

  get(id: number): Run | null {
    const row = this.#get.get(id)
    return row ? this.#toRun(row) : null
  }

  /** Newest first; only a dataset's or a model's when asked. */
  list(filter: { datasetId?: number; modelId?: number } = {}): Run[] {
    return this.#list
      .all({ d: filter.datasetId ?? null, m: filter.modelId ?? null })
      .map((row) => this.#toRun(row))
  }

  exists(id: number): boolean {
    return this.#exists.get(id) !== undefined
  }

  /** Why a run's images failed: each distinct message with its image count, commonest first. */
  failures(id: number): RunFailure[] {
    return this.#failures.all(id)
  }

  /** A new run, queued; returns its id. */
  create(r: NewRun): number {
    return Number(
      this.#insert.run(r.modelId, r.datasetId, JSON.stringify(r.settings), r.imagesTotal)
        .lastInsertRowid,
    )
  }

  /** Runs left running or queued, with the process that owned them. */
  unfinished(): { id: number; ownerPid: number | null }[] {
    return this.#unfinished.all()
  }

  /** A run whose process is gone: paused, with a note that resume continues it. */
  markInterrupted(id: number): void {
    this.#interrupted.run(id)
  }

  requeue(id: number): void {
    this.#requeue.run(id)
  }

  cancelQueued(id: number): void {
    this.#cancelQueued.run(id)
  }

  remove(id: number): boolean {
    return this.#remove.run(id).changes > 0
  }

  /** Running in process `pid`; the first start's time is kept across resumes. */
  markRunning(id: number, pid: number): void {
    this.#start.run(pid, id)
  }

  setExecutionProvider(id: number, ep: string): void {
    this.#provider.run(ep, id)
  }

  counts(id: number): RunCounts | null {
    return this.#counts.get(id) ?? null
  }

  /** Recounts the done and failed images from run_images (inside the results' transaction). */
  refreshCounts(id: number): void {
    this.#refreshCounts.run({ r: id })
  }

  finish(id: number, status: 'done' | 'cancelled', notes: string | null): void {
    this.#finish.run(status, notes, id)
  }

  fail(id: number, error: string, notes: string | null): void {
    this.#fail.run(error, notes, id)
  }

  /** The dataset's images (its first `limit`, when given) the run has not finished, by id. */
  pendingImages(runId: number, datasetId: number, limit: number | null): RunImageFile[] {
    return this.#pending.all({ d: datasetId, r: runId, limit: limit ?? -1 }).map(toImageFile)
  }

  /** The run's finished images that have no attention maps yet, by id. */
  imagesWithoutAttention(runId: number): RunImageFile[] {
    return this.#withoutAttention.all(runId).map(toImageFile)
  }

  /** One image's outcome, or null when the run has not reached it. */
  image(runId: number, imageId: number): RunImage | null {
    const row = this.#image.get(runId, imageId)
    return row ? toRunImage(row) : null
  }

  /** Records an image as done (replacing an earlier failure), with its timings and geometry. */
  imageDone(
    runId: number,
    imageId: number,
    r: { note: string | null; timings: Timings; geometry: Geometry },
  ): void {
    this.#imageDone.run(
      runId,
      imageId,
      r.note,
      r.timings.preprocessMs,
      r.timings.inferenceMs,
      r.timings.postprocessMs,
      JSON.stringify(r.geometry),
    )
  }

  imageError(runId: number, imageId: number, message: string): void {
    this.#imageError.run(runId, imageId, message)
  }
}

export const runStore = perDb((db: Db) => new RunStore(db))
