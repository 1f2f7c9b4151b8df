import type { Job } from '../../common/api'
import { NOW } from './sql'
import type { Db } from './store'

interface JobRow {
  id: string
  kind: Job['kind']
  title: string
  state: Job['state']
  phase: string
  done: number
  total: number | null
  unit: string
  detail: string
  error: string | null
  warnings: string
  dataset_id: number | null
  run_id: number | null
  started_at: string
  finished_at: string | null
}

const toJob = (r: JobRow): Job => ({
  id: r.id,
  kind: r.kind,
  title: r.title,
  state: r.state,
  phase: r.phase,
  done: r.done,
  total: r.total,
  rate: null,
  etaSeconds: r.state === 'done' ? 0 : null,
  unit: r.unit,
  detail: r.detail,
  error: r.error ? (JSON.parse(r.error) as Job['error']) : null,
  warnings: JSON.parse(r.warnings) as string[],
  datasetId: r.dataset_id,
  runId: r.run_id,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
})

/** The `jobs` table: one row per job, written when it starts, changes phase and ends. */
export class JobStore {
  #upsert
  #get
  #recent
  #interrupted
  #close

  constructor(db: Db) {
    this.#upsert = db.prepare(
      `INSERT INTO jobs (id, kind, title, state, phase, done, total, unit, detail, error, warnings,
                         dataset_id, run_id, owner_pid, started_at, finished_at)
       VALUES (@id, @kind, @title, @state, @phase, @done, @total, @unit, @detail, @error, @warnings,
               @datasetId, @runId, @pid, @startedAt, @finishedAt)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, phase = excluded.phase,
         done = excluded.done, total = excluded.total, unit = excluded.unit,
         detail = excluded.detail, error = excluded.error, warnings = excluded.warnings,
         dataset_id = excluded.dataset_id, run_id = excluded.run_id,
         finished_at = excluded.finished_at`,
    )
    this.#get = db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE id = ?')
    this.#recent = db.prepare<[number], JobRow>(
      'SELECT * FROM jobs ORDER BY started_at DESC LIMIT ?',
    )
    // A job is owned by the process that started it; the CLI and the app share the store, so
    // only rows of processes that no longer exist are closed.
    this.#interrupted = db.prepare<[], { id: string; owner_pid: number | null }>(
      `SELECT id, owner_pid FROM jobs WHERE state IN ('queued', 'running')`,
    )
    this.#close = db.prepare(
      `UPDATE jobs SET state = 'failed', phase = 'Interrupted',
         error = '{"code":"INTERRUPTED","message":"The studio stopped while this job ran."}',
         finished_at = ${NOW} WHERE id = ?`,
    )
  }

  save(job: Job): void {
    this.#upsert.run({
      id: job.id,
      kind: job.kind,
      title: job.title,
      state: job.state,
      phase: job.phase,
      done: job.done,
      total: job.total,
      unit: job.unit,
      detail: job.detail,
      error: job.error ? JSON.stringify(job.error) : null,
      warnings: JSON.stringify(job.warnings),
      datasetId: job.datasetId,
      runId: job.runId,
      pid: process.pid,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
    })
  }

  get(id: string): Job | undefined {
    const row = this.#get.get(id)
    return row ? toJob(row) : undefined
  }

  recent(limit: number): Job[] {
    return this.#recent.all(limit).map(toJob)
  }

  /** Closes the rows of jobs whose process is gone (a crash, a kill). */
  closeInterrupted(): number {
    let n = 0
    for (const r of this.#interrupted.all()) {
      if (r.owner_pid !== null && r.owner_pid !== process.pid && processAlive(r.owner_pid)) continue
      this.#close.run(r.id)
      n++
    }
    return n
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
