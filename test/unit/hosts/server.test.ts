import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type RunningServer } from '../../../src-main/hosts/server/serve'
import { makeCocoFixture, tempDir } from '../../helpers/fixtures'
import type { Job } from '../../../src-main/common/api'

let server: RunningServer
let base: string
let dataDir: string

beforeAll(async () => {
  dataDir = tempDir()
  const renderer = tempDir()
  fs.writeFileSync(path.join(renderer, 'index.html'), '<!doctype html><title>t</title>')
  server = await startServer({ dataDir, rendererDir: renderer, importDemo: false })
  base = `http://127.0.0.1:${server.port}`
})
afterAll(async () => server.close())

const call = (method: string, input: unknown, token: string | null = server.token) =>
  fetch(`${base}/api/${method}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token !== null ? { 'x-gcstudio-token': token } : {}),
    },
    body: JSON.stringify(input),
  })

describe('browser host', () => {
  it('prints a URL on 127.0.0.1 carrying the session token', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`)
    expect(server.token.length).toBeGreaterThanOrEqual(32)
  })

  it('serves the renderer with a Content-Security-Policy', async () => {
    const res = await fetch(`${base}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/)
  })

  it('rejects API calls without the token or with a wrong one', async () => {
    for (const token of [null, '', 'x'.repeat(server.token.length), server.token.slice(1)]) {
      const res = await call('datasets:list', {}, token)
      expect(res.status).toBe(401)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED')
    }
    const ok = await call('datasets:list', {})
    expect(await ok.json()).toEqual({ ok: true, value: [] })
  })

  it('rejects media without the token, and media are addressed by id only', async () => {
    expect((await fetch(`${base}/media/image/1`)).status).toBe(401)
    expect((await fetch(`${base}/media/image/1?t=wrong`)).status).toBe(401)
    expect((await fetch(`${base}/media/file/etc%2Fpasswd?t=${server.token}`)).status).toBe(400)
    expect(
      (await fetch(`${base}/media/image/..%2F..%2Fetc%2Fpasswd?t=${server.token}`)).status,
    ).toBe(400)
    expect((await fetch(`${base}/media/image/999?t=${server.token}`)).status).toBe(404)
  })

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    const http = await import('node:http')
    const status = await new Promise<number>((resolve) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: server.port,
          path: '/api/datasets:list',
          method: 'POST',
          headers: { host: 'evil.example:80', 'x-gcstudio-token': server.token },
        },
        (res) => resolve(res.statusCode ?? 0),
      )
      req.end('{}')
    })
    expect(status).toBe(403)
  })

  it('rejects bad input with a message naming the field', async () => {
    const res = await call('images:query', { datasetId: 'x' })
    const body = (await res.json()) as { ok: boolean; error: { code: string; message: string } }
    expect(body.ok).toBe(false)
    expect(body.error.code).toBe('INVALID_INPUT')
    expect(body.error.message).toMatch(/datasetId/)
  })

  it('refuses a second studio on the same data folder', async () => {
    await expect(startServer({ dataDir, importDemo: false })).rejects.toThrow(
      /Another GC Studio \(browser, pid \d+ at http:\/\/127\.0\.0\.1:\d+\/.*\) is already using the data folder/,
    )
  })

  it('imports through the API with progress events over the WebSocket, then serves thumbnails', async () => {
    const fx = await makeCocoFixture()
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/events?t=${server.token}`)
    await new Promise((r) => ws.once('open', r))
    const events: Job[] = []
    const finished = new Promise<Job>((resolve) =>
      ws.on('message', (m) => {
        const e = JSON.parse(String(m)) as { name: string; payload: Job }
        if (e.name !== 'job:progress') return
        events.push(e.payload)
        if (e.payload.state !== 'running') resolve(e.payload)
      }),
    )
    const res = (await (
      await call('datasets:import', {
        kind: 'coco',
        annotations: fx.annotations,
        images: fx.images,
      })
    ).json()) as { ok: true; value: { jobId: string } }
    expect(res.ok).toBe(true)
    const job = await finished
    ws.close()
    expect(job).toMatchObject({ id: res.value.jobId, state: 'done', kind: 'import' })
    expect(events.some((e) => e.state === 'running')).toBe(true)
    const list = (await (await call('datasets:list', {})).json()) as {
      value: { id: number; imageCount: number }[]
    }
    expect(list.value[0]!.imageCount).toBe(6)
    const imgs = (await (await call('images:query', { datasetId: job.datasetId })).json()) as {
      value: { items: { id: number; fileName: string }[] }
    }
    const cmyk = imgs.value.items.find((i) => i.fileName === 'cmyk.jpg')!
    const thumb = await fetch(`${base}/media/thumb/${cmyk.id}?t=${server.token}`)
    expect(thumb.status).toBe(200)
    expect(thumb.headers.get('content-type')).toBe('image/jpeg')
    const sharp = (await import('sharp')).default
    const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()
    expect(meta.space).toBe('srgb') // CMYK converted for the browser
    // The EXIF-rotated image is served upright at its annotated size (64x48).
    const rotated = imgs.value.items.find((i) => i.fileName === 'rotated.jpg')!
    const full = await fetch(`${base}/media/image/${rotated.id}?t=${server.token}`)
    const m2 = await sharp(Buffer.from(await full.arrayBuffer())).metadata()
    expect([m2.width, m2.height, m2.orientation ?? 1]).toEqual([64, 48, 1])
    // A missing file is a clear 404, not a crash.
    const missing = imgs.value.items.find((i) => i.fileName === 'not-copied-yet.jpg')!
    const r404 = await fetch(`${base}/media/image/${missing.id}?t=${server.token}`)
    expect(r404.status).toBe(404)
    expect(((await r404.json()) as { error: { message: string } }).error.message).toMatch(
      /not-copied-yet\.jpg is missing/,
    )
  })
})

describe('import jobs', () => {
  it('cancels a running import from the API and keeps nothing of it', async () => {
    const dir = tempDir()
    fs.mkdirSync(path.join(dir, 'images'))
    // Large enough to still be running when the cancel arrives (about 25 MB).
    const images = Array.from({ length: 20_000 }, (_, i) => ({
      id: i + 1,
      file_name: `${i}.jpg`,
      width: 640,
      height: 480,
    }))
    const annotations = Array.from({ length: 150_000 }, (_, i) => ({
      id: i + 1,
      image_id: (i % 20_000) + 1,
      category_id: 1,
      iscrowd: 0,
      area: 100,
      bbox: [1, 2, 10, 10],
      segmentation: [[1, 2, 11, 2, 11, 12, 1, 12]],
    }))
    const file = path.join(dir, 'instances_big.json')
    fs.writeFileSync(
      file,
      JSON.stringify({ images, annotations, categories: [{ id: 1, name: 'thing' }] }),
    )
    const before = ((await (await call('datasets:list', {})).json()) as { value: unknown[] }).value
      .length
    const started = (await (
      await call('datasets:import', {
        kind: 'coco',
        annotations: file,
        images: path.join(dir, 'images'),
      })
    ).json()) as { value: { jobId: string } }
    const jobId = started.value.jobId
    // Wait until it is really working, then cancel.
    await expect
      .poll(async () => server.studio.jobs.get(jobId)?.done ?? 0, { timeout: 20_000 })
      .toBeGreaterThan(0)
    const cancelled = (await (await call('jobs:cancel', { jobId })).json()) as {
      value: { cancelled: boolean }
    }
    expect(cancelled.value.cancelled).toBe(true)
    const end = await server.studio.jobs.settled(jobId)
    expect(end.state).toBe('cancelled')
    const after = ((await (await call('datasets:list', {})).json()) as { value: unknown[] }).value
      .length
    expect(after).toBe(before)
    const rows = server.studio.db
      .prepare(`SELECT count(*) AS n FROM datasets WHERE status = 'importing'`)
      .get() as { n: number }
    expect(rows.n).toBe(0)
  })
})

describe('gcstudio serve as a command', () => {
  it(
    'imports the demo on first start, then Ctrl-C stops it and releases the data folder',
    { timeout: 60_000 },
    async () => {
      const dataDir = tempDir()
      const bin = path.join(import.meta.dirname, '../../../bin/gcstudio.js')
      const child = spawn(process.execPath, [bin, 'serve', '--no-open', '--data-dir', dataDir], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      child.stderr.on('data', (d: Buffer) => (out += d.toString()))
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
      await expect.poll(() => out, { timeout: 30_000 }).toMatch(/GC Studio is running/)
      child.kill('SIGINT')
      // Nothing may keep the process alive once the studio has closed (idle import workers,
      // pending timers): it ends by itself, with success.
      const code = await Promise.race([
        exited,
        new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000)),
      ])
      if (code === 'hung') child.kill('SIGKILL')
      expect(code).toBe(0)
      expect(out).toMatch(/Stopping/)
      // The data folder is free again: a second studio opens it.
      const again = await startServer({ dataDir, importDemo: false })
      expect(
        (again.studio.db.prepare('SELECT count(*) AS n FROM datasets').get() as { n: number }).n,
      ).toBe(2)
      await again.close()
    },
  )
})
