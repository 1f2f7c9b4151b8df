import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Dataset, Job, Model, Run } from '../../../src-main/common/api'
import { makeBulkCoco, tempDir } from '../../helpers/fixtures'

/**
 * Deleting what a run is using while it runs, against the real `gcstudio serve` process: the
 * run is cancelled, then deleted, and the server keeps answering (it used to die of an
 * unhandled "Run N does not exist" from the run's last progress event).
 */
const bin = path.join(import.meta.dirname, '../../../bin/gcstudio.js')
const onnxDir = path.join(import.meta.dirname, '../../fixtures/onnx')
let child: ChildProcess
let output = ''
let exit: number | string | null = null
let base = ''
let token = ''

async function call<T>(method: string, input: unknown): Promise<T> {
  const res = await fetch(`${base}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gcstudio-token': token },
    body: JSON.stringify(input),
  })
  const body = (await res.json()) as
    { ok: true; value: T } | { ok: false; error: { code: string; message: string } }
  if (!body.ok) throw new Error(`${method}: ${body.error.code} ${body.error.message}`)
  return body.value
}

beforeAll(async () => {
  child = spawn(
    process.execPath,
    [bin, 'serve', '--no-open', '--no-demo', '--data-dir', tempDir()],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()))
  child.on('exit', (code, signal) => (exit = code ?? signal))
  for (let waited = 0; !/token=\w+/.test(output); waited += 50) {
    if (waited > 30_000 || exit !== null)
      throw new Error(`gcstudio serve did not start:\n${output}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const url = new URL(/http:\/\/\S+/.exec(output)![0])
  base = url.origin
  token = url.searchParams.get('token')!
}, 60_000)

afterAll(() => {
  if (exit === null) child.kill('SIGKILL')
})

async function importBulk(n: number): Promise<number> {
  const fx = await makeBulkCoco(n)
  const { jobId } = await call<{ jobId: string }>('datasets:import', {
    kind: 'coco',
    annotations: fx.annotations,
    images: fx.images,
  })
  await expect
    .poll(async () => (await call<Job[]>('jobs:list', {})).find((j) => j.id === jobId)?.state, {
      timeout: 30_000,
    })
    .toBe('done')
  return (await call<Dataset[]>('datasets:list', {}))[0]!.id
}

/** Starts a run and returns once it has stored its first images (so it is really in progress). */
async function runInProgress(modelId: number, datasetId: number): Promise<Run> {
  const run = await call<Run>('runs:start', { modelId, datasetId })
  await expect
    .poll(async () => (await call<Run>('runs:get', { id: run.id })).imagesDone, {
      timeout: 20_000,
      interval: 20,
    })
    .toBeGreaterThan(0)
  const now = await call<Run>('runs:get', { id: run.id })
  expect(now.status).toBe('running')
  return now
}

async function stillServing(): Promise<void> {
  // Give a crash its chance to happen: the run's last events come after the delete answered.
  await new Promise((r) => setTimeout(r, 1500))
  expect(exit).toBeNull()
  expect(output).not.toMatch(/does not exist|Unhandled|AppError/)
  expect(Array.isArray(await call<Run[]>('runs:list', {}))).toBe(true)
}

describe('deleting while a run is in progress', { timeout: 90_000 }, () => {
  it('deletes the run, its model, then its dataset: each run is cancelled first and the server keeps serving', async () => {
    const datasetId = await importBulk(1500)
    const add = () =>
      call<{ model: Model }>('models:add', { path: path.join(onnxDir, 'mmdeploy_det') })
    let { model } = await add()

    const a = await runInProgress(model.id, datasetId)
    expect(await call<{ deleted: boolean }>('runs:delete', { id: a.id })).toEqual({ deleted: true })
    await stillServing()
    expect((await call<Run[]>('runs:list', {})).map((r) => r.id)).not.toContain(a.id)

    const b = await runInProgress(model.id, datasetId)
    expect(await call<{ removed: boolean }>('models:remove', { id: model.id })).toEqual({
      removed: true,
    })
    await stillServing()
    expect((await call<Run[]>('runs:list', {})).map((r) => r.id)).not.toContain(b.id)

    ;({ model } = await add())
    const c = await runInProgress(model.id, datasetId)
    expect(await call<{ deleted: boolean }>('datasets:delete', { id: datasetId })).toMatchObject({
      deleted: true,
    })
    await stillServing()
    // Hidden at once; its runs go with its rows, in the background removal job.
    expect(await call<Dataset[]>('datasets:list', {})).toEqual([])
    await expect
      .poll(async () => (await call<Run[]>('runs:list', {})).map((r) => r.id), { timeout: 20_000 })
      .not.toContain(c.id)
  })
})
