import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Studio } from '../../../src-main/core/studio'
import type { AppEvent, Job, Model, Run } from '../../../src-main/common/api'
import { AppError } from '../../../src-main/common/errors'
import { makeBulkCoco, tempDir } from '../../helpers/fixtures'

const onnxDir = path.join(import.meta.dirname, '../../fixtures/onnx')
const open: Studio[] = []
const studioAt = (dataDir: string) => {
  const s = Studio.open({ dataDir, host: 'browser' })
  open.push(s)
  return s
}
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => {})
})

async function call<T>(studio: Studio, method: string, input: unknown): Promise<T> {
  const r = await studio.dispatch(method, input)
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r.value as T
}

/** `makeBulkCoco`'s dataset of `n` grey 64x48 images, each with one car, imported as a user would. */
async function dataset(studio: Studio, n: number): Promise<number> {
  const fx = await makeBulkCoco(n)
  const job = studio.jobs.startImport({
    kind: 'coco',
    annotations: fx.annotations,
    images: fx.images,
  })
  return (await studio.jobs.settled(job.id)).datasetId!
}

async function finishedRun(studio: Studio, images = 2): Promise<Run> {
  const datasetId = await dataset(studio, images)
  const { model } = await call<{ model: Model }>(studio, 'models:add', {
    path: path.join(onnxDir, 'mmdeploy_det'),
  })
  const run = await call<Run>(studio, 'runs:start', { modelId: model.id, datasetId })
  await studio.runs.idle()
  return run
}

const jobEvents = (studio: Studio, kind: Job['kind']) => {
  const seen: Job[] = []
  studio.bus.subscribe((e: AppEvent) => {
    if (e.name === 'job:progress' && (e.payload as Job).kind === kind) seen.push(e.payload as Job)
  })
  return seen
}

describe('one job system', () => {
  it('runs an evaluation as a job: progress events arrive, it ends done, and the result is stored', async () => {
    const studio = studioAt(tempDir())
    const run = await finishedRun(studio)
    const events = jobEvents(studio, 'evaluation')
    const { jobId } = await call<{ jobId: string }>(studio, 'evaluations:start', {
      runId: run.id,
    })
    const end = await studio.jobs.settled(jobId)
    expect(end.state).toBe('done')
    expect(end.runId).toBe(run.id)
    expect(end.detail).toMatch(/coco-bbox \d+\.\d, coco-segm \d+\.\d/)
    // The evaluation library reports per-category steps: categories x (evaluate, accumulate).
    const progress = events.filter((e) => e.state === 'running' && e.total !== null)
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.at(-1)!.done).toBeLessThanOrEqual(progress.at(-1)!.total!)
    expect(events.at(-1)).toMatchObject({ id: jobId, state: 'done' })
    const stored = await call<{ status: string }[]>(studio, 'evaluations:list', { runId: run.id })
    expect(stored.map((e) => e.status)).toEqual(['done', 'done'])
  })

  it('an evaluation cancelled mid-way leaves no evaluation row and ends cancelled', async () => {
    const studio = studioAt(tempDir())
    const run = await finishedRun(studio)
    const { jobId } = await call<{ jobId: string }>(studio, 'evaluations:start', {
      runId: run.id,
    })
    // The worker is starting: cancel now, before it can answer.
    await new Promise((r) => setImmediate(r))
    expect((await call<{ cancelled: boolean }>(studio, 'jobs:cancel', { jobId })).cancelled).toBe(
      true,
    )
    const end = await studio.jobs.settled(jobId)
    expect(end.state).toBe('cancelled')
    expect(end.error).toBeNull()
    expect(await call<unknown[]>(studio, 'evaluations:list', { runId: run.id })).toEqual([])
    const rows = studio.db.prepare('SELECT count(*) AS n FROM evaluations').get() as { n: number }
    expect(rows.n).toBe(0)
  })

  it('evaluations:run answers with the stored evaluations, and refuses a run with nothing to evaluate', async () => {
    const studio = studioAt(tempDir())
    const run = await finishedRun(studio)
    const evals = await call<{ kind: string }[]>(studio, 'evaluations:run', { runId: run.id })
    expect(evals.map((e) => e.kind)).toEqual(['coco-bbox', 'coco-segm'])
    studio.db.prepare('DELETE FROM run_images WHERE run_id = ?').run(run.id)
    const r = await studio.dispatch('evaluations:run', { runId: run.id })
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error).toMatchObject({ code: 'CONFLICT', message: /no finished images/ })
  })

  it('an inference run is a job too: progress as images, cancel through jobs:cancel', async () => {
    const studio = studioAt(tempDir())
    const datasetId = await dataset(studio, 200)
    const { model } = await call<{ model: Model }>(studio, 'models:add', {
      path: path.join(onnxDir, 'mmdeploy_det'),
    })
    const events = jobEvents(studio, 'run')
    // Cancelled through the job system at its first finished image.
    let cancelled = false
    studio.bus.subscribe((e: AppEvent) => {
      const job = e.payload as Job
      if (e.name !== 'job:progress' || job.kind !== 'run' || job.done === 0 || cancelled) return
      cancelled = true
      void call(studio, 'jobs:cancel', { jobId: job.id })
    })
    const run = await call<Run>(studio, 'runs:start', { modelId: model.id, datasetId })
    await expect.poll(() => cancelled, { timeout: 20_000 }).toBe(true)
    const job = events.at(-1)!
    expect(job).toMatchObject({ runId: run.id, datasetId, unit: 'images', total: 200 })
    const end = await studio.jobs.settled(job.id)
    expect(end.state).toBe('cancelled')
    await studio.runs.idle()
    expect((await call<Run>(studio, 'runs:get', { id: run.id })).status).toBe('cancelled')
  })

  it('jobs are persisted: a restart lists what happened, and a job a crash left running is closed as interrupted', async () => {
    const dir = tempDir()
    const first = studioAt(dir)
    const ok = first.jobs.start({
      kind: 'maintenance',
      title: 'Count to three',
      run: async (ctx) => {
        for (let i = 1; i <= 3; i++) ctx.progress({ done: i, total: 3, phase: 'Counting' })
        return { detail: 'counted' }
      },
    })
    const bad = first.jobs.start({
      kind: 'maintenance',
      title: 'Fails',
      run: async () => {
        throw new AppError('IO_ERROR', 'The disk went away at /x.')
      },
    })
    expect((await first.jobs.settled(ok.id)).state).toBe('done')
    expect((await first.jobs.settled(bad.id)).error).toEqual({
      code: 'IO_ERROR',
      message: 'The disk went away at /x.',
    })
    // A job row of a process that no longer exists, as a crash leaves it.
    first.db
      .prepare(
        `INSERT INTO jobs (id, kind, title, state, owner_pid, started_at) VALUES ('x-1', 'report', 'Crashed', 'running', 2147483646, '2026-01-01T00:00:00Z')`,
      )
      .run()
    await first.close()

    const second = studioAt(dir)
    const listed = await call<Job[]>(second, 'jobs:list', {})
    const byTitle = Object.fromEntries(listed.map((j) => [j.title, j]))
    expect(byTitle['Count to three']).toMatchObject({
      state: 'done',
      done: 3,
      total: 3,
      detail: 'counted',
    })
    expect(byTitle['Fails']).toMatchObject({ state: 'failed', error: { code: 'IO_ERROR' } })
    expect(byTitle['Crashed']).toMatchObject({ state: 'failed', phase: 'Interrupted' })
    expect(byTitle['Crashed']!.error!.message).toMatch(/stopped while this job ran/)
  })
})
