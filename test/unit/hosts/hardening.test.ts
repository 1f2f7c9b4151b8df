/**
 * Issue 14 against the real browser host over HTTP and WebSocket: deleting and re-checking
 * large datasets as background jobs (items 3, 13, 25), requests a hostile or careless client
 * sends (item 17), symbolic links out of an image folder (item 14).
 */
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import sharp from 'sharp'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type RunningServer } from '../../../src-main/hosts/server/serve'
import { tempDir } from '../../helpers/fixtures'
import type { Job } from '../../../src-main/common/api'

let server: RunningServer
let base: string

beforeAll(async () => {
  const renderer = tempDir()
  fs.writeFileSync(path.join(renderer, 'index.html'), '<!doctype html><title>t</title>')
  server = await startServer({ dataDir: tempDir(), rendererDir: renderer, importDemo: false })
  base = `http://127.0.0.1:${server.port}`
})
afterAll(async () => server.close())

async function call<T = unknown>(method: string, input: unknown): Promise<T> {
  const res = await fetch(`${base}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gcstudio-token': server.token },
    body: JSON.stringify(input),
  })
  const body = (await res.json()) as { ok: boolean; value: T; error: { message: string } }
  if (!body.ok) throw new Error(body.error.message)
  return body.value
}

/** A generated COCO file: `images` entries (files not on disk) with `perImage` boxes each. */
function writeCoco(dir: string, images: number, perImage: number): string {
  const file = path.join(dir, `instances_gen${images}.json`)
  const parts: string[] = []
  parts.push('{"images":[')
  for (let i = 1; i <= images; i++)
    parts.push(`${i > 1 ? ',' : ''}{"id":${i},"file_name":"${i}.jpg","width":64,"height":48}`)
  parts.push('],"annotations":[')
  let id = 0
  for (let i = 1; i <= images; i++)
    for (let k = 0; k < perImage; k++)
      parts.push(
        `${id ? ',' : ''}{"id":${++id},"image_id":${i},"category_id":${1 + (k % 3)},"bbox":[1,1,8,8],"area":64,"iscrowd":0}`,
      )
  parts.push('],"categories":[{"id":1,"name":"a"},{"id":2,"name":"b"},{"id":3,"name":"c"}]}')
  fs.writeFileSync(file, parts.join(''))
  return file
}

function events() {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/events?t=${server.token}`)
  const jobs: Job[] = []
  ws.on('message', (m) => {
    const e = JSON.parse(String(m)) as { name: string; payload: Job }
    if (e.name === 'job:progress') jobs.push(e.payload)
  })
  return { ws, jobs, open: new Promise((r) => ws.once('open', r)) }
}

async function settled(jobId: string): Promise<Job> {
  for (;;) {
    const job = (await call<Job[]>('jobs:list', {})).find((j) => j.id === jobId)
    if (job && job.state !== 'running') return job
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function importCoco(annotations: string, images: string): Promise<Job> {
  const { jobId } = await call<{ jobId: string }>('datasets:import', {
    kind: 'coco',
    annotations,
    images,
  })
  return settled(jobId)
}

const rows = (table: string, datasetId: number) =>
  server.studio.db
    .prepare(`SELECT count(*) FROM ${table} WHERE dataset_id = ?`)
    .pluck()
    .get(datasetId) as number

describe('deleting and re-checking datasets run as jobs off the event loop (items 3, 13, 25)', () => {
  it('hides a dataset at once and removes every row in the background, with progress', async () => {
    const dir = tempDir()
    fs.mkdirSync(path.join(dir, 'img'))
    const job = await importCoco(writeCoco(dir, 3000, 4), path.join(dir, 'img'))
    expect(job.state).toBe('done')
    const id = job.datasetId!
    expect(rows('annotations', id)).toBe(12_000)
    const ev = events()
    await ev.open
    const out = await call<{ deleted: boolean; jobId: string; message: string }>(
      'datasets:delete',
      { id },
    )
    // Hidden before the removal is done: the list, the dataset and its images are gone.
    expect(out).toMatchObject({ deleted: true, jobId: expect.stringMatching(/^maintenance-/) })
    expect((await call<{ id: number }[]>('datasets:list', {})).map((d) => d.id)).not.toContain(id)
    await expect(call('datasets:get', { id })).rejects.toThrow(/does not exist/)
    const end = await settled(out.jobId)
    ev.ws.close()
    expect(end).toMatchObject({ state: 'done', kind: 'maintenance', datasetId: id, total: 3000 })
    expect(ev.jobs.some((j) => j.id === out.jobId && j.phase === 'Removing images')).toBe(true)
    for (const t of ['images', 'annotations', 'image_categories', 'categories'])
      expect(rows(t, id)).toBe(0)
    expect(
      server.studio.db.prepare('SELECT count(*) FROM datasets WHERE id = ?').pluck().get(id),
    ).toBe(0)
  })

  it('cancels an import still running when its dataset is deleted, and says so', async () => {
    const dir = tempDir()
    fs.mkdirSync(path.join(dir, 'img'))
    const file = writeCoco(dir, 40_000, 2)
    const { jobId } = await call<{ jobId: string }>('datasets:import', {
      kind: 'coco',
      annotations: file,
      images: path.join(dir, 'img'),
    })
    let importing: number | undefined
    while (importing === undefined) {
      importing = server.studio.db
        .prepare(`SELECT id FROM datasets WHERE status = 'importing'`)
        .pluck()
        .get() as number | undefined
      await new Promise((r) => setTimeout(r, 10))
    }
    const out = await call<{ deleted: boolean; jobId: string; message: string }>(
      'datasets:delete',
      { id: importing },
    )
    expect(out.deleted).toBe(true)
    expect(out.jobId).toBe(jobId)
    expect(out.message).toMatch(/was still importing: the import was cancelled/)
    const end = await settled(jobId)
    expect(end.state).toBe('cancelled')
    expect(end.error).toBeNull()
    expect(end.phase).toMatch(/deleted while importing/)
    expect(server.studio.db.prepare('SELECT count(*) FROM datasets').pluck().get()).toBe(0)
  })

  it('looks for the files again as a job that finds files copied in, and links out of the folder as missing', async () => {
    const dir = tempDir()
    const img = path.join(dir, 'img')
    fs.mkdirSync(img)
    const job = await importCoco(writeCoco(dir, 50, 1), img)
    const id = job.datasetId!
    expect(
      (await call<{ dataset: { missingImageCount: number } }>('datasets:get', { id })).dataset
        .missingImageCount,
    ).toBe(50)
    const jpg = await sharp({
      create: { width: 64, height: 48, channels: 3, background: { r: 1, g: 2, b: 3 } },
    })
      .jpeg()
      .toBuffer()
    for (let i = 1; i <= 40; i++) fs.writeFileSync(path.join(img, `${i}.jpg`), jpg)
    // A link to a file outside the images folder does not count as found.
    const outside = path.join(dir, 'secret.jpg')
    fs.writeFileSync(outside, jpg)
    fs.symlinkSync(outside, path.join(img, '41.jpg'))
    const out = await call<{ missing: number; examples: string[]; jobId: string }>(
      'datasets:recheckFiles',
      { id },
    )
    expect(out.missing).toBe(10)
    expect(out.examples).toContain('41.jpg')
    const end = await settled(out.jobId)
    expect(end).toMatchObject({ kind: 'maintenance', state: 'done', done: 50, total: 50 })
    expect(
      (await call<{ dataset: { missingImageCount: number } }>('datasets:get', { id })).dataset
        .missingImageCount,
    ).toBe(10)
  })
})

describe('symbolic links out of an image folder are never served (item 14)', () => {
  it('refuses a link that resolves outside the folder, serves one inside', async () => {
    const dir = tempDir()
    const img = path.join(dir, 'img')
    fs.mkdirSync(img)
    const jpg = await sharp({
      create: { width: 64, height: 48, channels: 3, background: { r: 9, g: 9, b: 9 } },
    })
      .jpeg()
      .toBuffer()
    fs.writeFileSync(path.join(img, '1.jpg'), jpg)
    fs.symlinkSync(path.join(img, '1.jpg'), path.join(img, '2.jpg'))
    fs.writeFileSync(path.join(img, '3.jpg'), jpg)
    const job = await importCoco(writeCoco(dir, 3, 1), img)
    const outside = path.join(dir, 'outside.jpg')
    fs.writeFileSync(outside, jpg)
    // Swapped for a link after the import, as someone with write access to the folder could.
    fs.rmSync(path.join(img, '3.jpg'))
    fs.symlinkSync(outside, path.join(img, '3.jpg'))
    const { items } = await call<{ items: { id: number; fileName: string }[] }>('images:query', {
      datasetId: job.datasetId,
    })
    const byName = (n: string) => items.find((i) => i.fileName === n)!.id
    const get = (kind: string, id: number) => fetch(`${base}/media/${kind}/${id}?t=${server.token}`)
    expect((await get('image', byName('2.jpg'))).status).toBe(200)
    for (const kind of ['image', 'thumb']) {
      const res = await get(kind, byName('3.jpg'))
      expect(res.status).toBe(422)
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
        /resolves outside its dataset folder/,
      )
    }
  })
})

describe('thumbnails under load (item 5)', () => {
  it('drops the thumbnails whose client went away before their turn came', async () => {
    const dir = tempDir()
    const img = path.join(dir, 'img')
    fs.mkdirSync(img)
    // Large enough that each thumbnail takes a while, so a queue forms behind three at work.
    const png = await sharp({
      create: { width: 1600, height: 1200, channels: 3, background: { r: 90, g: 80, b: 70 } },
    })
      .png()
      .toBuffer()
    const n = 40
    for (let i = 1; i <= n; i++) fs.writeFileSync(path.join(img, `${i}.jpg`), png)
    const job = await importCoco(writeCoco(dir, n, 1), img)
    const { items } = await call<{ items: { id: number }[] }>('images:query', {
      datasetId: job.datasetId,
    })
    const agent = new http.Agent({ maxSockets: 100 })
    const requests = items.map((it) => {
      const req = http.get({
        host: '127.0.0.1',
        port: server.port,
        path: `/media/thumb/${it.id}?t=${server.token}`,
        agent,
      })
      const done = new Promise<number>((resolve) => {
        req.on('response', (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        })
        req.on('error', () => resolve(-1))
      })
      return { req, done }
    })
    // The first five stay on screen; the user scrolled past the rest.
    await new Promise((r) => setTimeout(r, 30))
    for (const r of requests.slice(5)) r.req.destroy()
    expect(await Promise.all(requests.slice(0, 5).map((r) => r.done))).toEqual([
      200, 200, 200, 200, 200,
    ])
    await Promise.all(requests.slice(5).map((r) => r.done))
    await new Promise((r) => setTimeout(r, 300))
    const made = fs.readdirSync(path.join(server.studio.media.cacheDir(job.datasetId!), 'thumbs'))
    // Only what was already being made when the clients left (three at a time) was finished.
    expect(made.length).toBeLessThan(n / 2)
    expect(server.studio.media.thumbnailsWaiting).toBe(0)
    agent.destroy()
  })
})

describe('requests a careless or hostile client sends (item 17)', () => {
  const raw = (
    method: string,
    pathName: string,
    body: Buffer | string = '',
    headers: Record<string, string> = {},
  ) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: server.port,
          path: pathName,
          method,
          headers: { 'x-gcstudio-token': server.token, ...headers },
        },
        (res) => {
          let text = ''
          res.on('data', (c: Buffer) => (text += c.toString()))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
        },
      )
      req.on('error', reject)
      req.end(body.length ? body : undefined)
    })

  it('answers malformed percent-encoding with 400, in the API, media and static paths', async () => {
    for (const p of ['/api/datasets%ZZlist', '/%E0%A4%A', `/media/thumb/%FF%?t=${server.token}`]) {
      const res = await raw(
        p.startsWith('/api') ? 'POST' : 'GET',
        p,
        p.startsWith('/api') ? '{}' : '',
      )
      expect(res.status).toBe(400)
      expect(JSON.parse(res.body)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    }
  })

  it('answers a body over 1 MiB with the 413 JSON, not a reset connection', async () => {
    const res = await raw('POST', '/api/datasets:list', Buffer.alloc(2 << 20, 0x20))
    expect(res.status).toBe(413)
    expect(JSON.parse(res.body)).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/limit is 1 MiB/) },
    })
  })

  it('refuses unknown keys in images:query like every other method', async () => {
    await expect(call('images:query', { datasetId: 1, offest: 5 })).rejects.toThrow(/offest/)
  })

  it('reads media ids as plain decimals only', async () => {
    for (const id of ['0x10', '1e3', '1.0', '01', '0', '-1', '1/']) {
      expect((await fetch(`${base}/media/image/${id}?t=${server.token}`)).status).toBe(400)
    }
  })

  it('checks the WebSocket Origin like the Host', async () => {
    const open = (origin?: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(
          `ws://127.0.0.1:${server.port}/events?t=${server.token}`,
          origin ? { origin } : {},
        )
        ws.once('open', () => {
          ws.close()
          resolve('open')
        })
        ws.once('error', () => resolve('refused'))
      })
    expect(await open('http://evil.example')).toBe('refused')
    expect(await open(`http://127.0.0.1:${server.port + 1}`)).toBe('refused')
    expect(await open(`http://127.0.0.1:${server.port}`)).toBe('open')
    expect(await open(`http://localhost:${server.port}`)).toBe('open')
  })
})
