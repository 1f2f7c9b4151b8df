/**
 * A trivial API call's latency while a large model is being added (issue 9 item 3, issue 14
 * item 2): the server runs as `gcstudio serve` in its own process; this process sends
 * `app:info` one after another while `models:add` imports a ~180 MB ONNX (a detector whose
 * weight was padded to that size). Before, the import hashed, decoded and built the card on the
 * event loop, so every request waited for all of it; the "before" number is how long that
 * synchronous import takes on this thread (each request arriving meanwhile waited that long).
 * Run: npm run bench -- modelAdd
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { addModel } from '../../src-main/core/models/registry'
import { openStore } from '../../src-main/core/store/store'
import { packageRoot } from '../../src-main/core/paths'
import { tempDir } from '../helpers/fixtures'
import { torchvisionDetector, writeModel } from '../helpers/onnxGraphs'
import { percentile, writeReport } from './report'

const MB = 180

it('app:info latency while a 180 MB model is added', { timeout: 600_000 }, async () => {
  const file = writeModel(
    tempDir(),
    'big.onnx',
    torchvisionDetector({ padFloats: (MB * 2 ** 20) / 4 }),
  )
  const size = fs.statSync(file).size

  const child = spawn(
    process.execPath,
    [
      path.join(packageRoot(), 'bin', 'gcstudio.js'),
      'serve',
      '--no-open',
      '--no-demo',
      '--data-dir',
      tempDir(),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  try {
    while (!/token=\w+/.test(out)) await new Promise((r) => setTimeout(r, 50))
    const url = new URL(/http:\/\/\S+/.exec(out)![0])
    const call = async (method: string, input: unknown) => {
      const res = await fetch(`${url.origin}/api/${method}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gcstudio-token': url.searchParams.get('token')!,
        },
        body: JSON.stringify(input),
      })
      return res.json() as Promise<{ ok: boolean; value?: unknown; error?: { message: string } }>
    }
    // Idle latency first.
    const idle: number[] = []
    for (let i = 0; i < 200; i++) {
      const t = performance.now()
      await call('app:info', {})
      idle.push(performance.now() - t)
    }
    const during: number[] = []
    let adding = true
    const t0 = performance.now()
    const added = call('models:add', { path: file }).finally(() => (adding = false))
    while (adding) {
      const t = performance.now()
      await call('app:info', {})
      during.push(performance.now() - t)
      await new Promise((r) => setTimeout(r, 5))
    }
    const addMs = performance.now() - t0
    const result = await added
    expect(result.ok, result.error?.message).toBe(true)

    // The old way: the same import on this thread.
    const db = openStore(tempDir())
    const s0 = performance.now()
    addModel(db, file)
    const syncMs = performance.now() - s0
    db.close()

    writeReport('modelAdd', {
      modelMB: Math.round(size / 2 ** 20),
      addMs: Math.round(addMs),
      requestsDuringAdd: during.length,
      idleP50Ms: +percentile(idle, 50).toFixed(1),
      idleP99Ms: +percentile(idle, 99).toFixed(1),
      duringAddP50Ms: +percentile(during, 50).toFixed(1),
      duringAddP99Ms: +percentile(during, 99).toFixed(1),
      duringAddMaxMs: +Math.max(...during).toFixed(1),
      beforeBlockedMs: Math.round(syncMs),
    })
  } finally {
    child.kill('SIGINT')
  }
})
