/**
 * The browser host under load, as the hardening probe measured it (issue 14): a generated COCO
 * dataset of 60,000 images / 400,000 annotations imported by the CLI, `gcstudio serve` in its own
 * process, and over loopback
 *  - 20 concurrent clients x 200 grid requests (plain pages at random offsets, class filters,
 *    file-name searches),
 *  - 20 clients x 25 uncached thumbnails,
 *  - grid requests while "look for the files again" runs, and pings while the dataset is deleted.
 * Reports requests/s, p50/p95/p99/max per kind, and the server's RSS before, right after and
 * 15 s after the load. Run: npm run bench -- serverLoad
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import sharp from 'sharp'
import { expect, it } from 'vitest'
import { packageRoot } from '../../src-main/core/paths'
import { tempDir } from '../helpers/fixtures'
import {
  cocoCategoryIds,
  generatedFileName,
  rng,
  writeGeneratedCoco,
} from '../helpers/generatedCoco'
import { percentile, writeReport } from './report'

const IMAGES = Number(process.env.LOAD_IMAGES ?? 60_000)
const ANNOTATIONS = Number(process.env.LOAD_ANNOTATIONS ?? 400_000)
const CLIENTS = 20
const REQUESTS = 200
const THUMBS_PER_CLIENT = 25
const bin = path.join(packageRoot(), 'bin', 'gcstudio.js')

/** CPU time the process has used so far (user + system), in milliseconds. */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100
}

/** Resident memory in MB: all of it, and the anonymous part (heaps, caches; not mapped files). */
function rssMB(pid: number): { total: number; anon: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)![1])
  return { total: Math.round(kb('VmRSS') / 1024), anon: Math.round(kb('RssAnon') / 1024) }
}

const stats = (ms: number[]) => ({
  n: ms.length,
  p50: Number(percentile(ms, 50).toFixed(1)),
  p95: Number(percentile(ms, 95).toFixed(1)),
  p99: Number(percentile(ms, 99).toFixed(1)),
  max: Number(Math.max(...ms).toFixed(1)),
})

it('serves grid pages and thumbnails to 20 concurrent clients', async () => {
  const work = tempDir('gcstudio-load-')
  const file = path.join(work, 'instances_train2017.json')
  const images = path.join(work, 'train2017')
  fs.mkdirSync(images)
  await writeGeneratedCoco(file, IMAGES, ANNOTATIONS)
  // Real files for the first 2,000 images, so thumbnails are decoded and resized for real.
  const jpg = await sharp({
    create: { width: 640, height: 480, channels: 3, background: { r: 120, g: 110, b: 90 } },
  })
    .jpeg({ quality: 90 })
    .toBuffer()
  for (let i = 1; i <= 2000; i++) fs.writeFileSync(path.join(images, generatedFileName(i)), jpg)

  const dataDir = path.join(work, 'data')
  const t0 = Date.now()
  const imp = spawn(
    process.execPath,
    [bin, 'import', 'coco', '--annotations', file, '--images', images, '--data-dir', dataDir],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let impErr = ''
  imp.stderr.on('data', (d) => (impErr += d))
  const [impCode] = (await once(imp, 'exit')) as [number]
  expect(impCode, impErr).toBe(0)
  const importSeconds = (Date.now() - t0) / 1000

  const server = spawn(
    process.execPath,
    [bin, 'serve', '--no-open', '--no-demo', '--data-dir', dataDir],
    // As a user runs it: not under vitest (which turns on output validation of every call).
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VITEST: '', GCSTUDIO_STRICT: '' } },
  )
  let out = ''
  server.stdout.on('data', (d) => (out += d))
  server.stderr.on('data', (d) => (out += d))
  while (!/token=\S+/.test(out)) await new Promise((r) => setTimeout(r, 50))
  const url = new URL(/http:\/\/127\.0\.0\.1:\d+\/\?token=\S+/.exec(out)![0])
  const token = url.searchParams.get('token')!
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS + 5 })

  const request = (method: 'GET' | 'POST', p: string, body?: unknown) =>
    new Promise<{ status: number; body: Buffer; ms: number }>((resolve, reject) => {
      const started = performance.now()
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
      const req = http.request(
        {
          host: '127.0.0.1',
          port: url.port,
          path: p,
          method,
          agent,
          headers: {
            'x-gcstudio-token': token,
            ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks),
              ms: performance.now() - started,
            }),
          )
        },
      )
      req.on('error', reject)
      req.end(data)
    })
  const api = async <T>(method: string, input: unknown): Promise<T> => {
    const r = await request('POST', `/api/${method}`, input)
    const body = JSON.parse(r.body.toString()) as { ok: boolean; value: T; error?: unknown }
    if (!body.ok) throw new Error(`${method}: ${JSON.stringify(body.error)}`)
    return body.value
  }

  const [dataset] = await api<{ id: number; imageCount: number }[]>('datasets:list', {})
  const datasetId = dataset!.id
  const openMs = (await request('POST', '/api/datasets:get', { id: datasetId })).ms
  const first = await api<{ items: { id: number }[] }>('images:query', {
    datasetId,
    offset: 0,
    limit: 1000,
  })
  const rssBefore = rssMB(server.pid!)

  // Grid pages: a quarter class filters, a quarter searches, half plain pages.
  const latencies: Record<'page' | 'class' | 'search', number[]> = {
    page: [],
    class: [],
    search: [],
  }
  const failures: string[] = []
  const grid = async (client: number, count: number, into = latencies) => {
    const r = rng(1000 + client)
    for (let k = 0; k < count; k++) {
      const kind = k % 4 === 2 ? 'class' : k % 4 === 3 ? 'search' : 'page'
      const input =
        kind === 'page'
          ? { datasetId, offset: Math.floor(r() * (IMAGES - 200)), limit: 200 }
          : kind === 'class'
            ? {
                datasetId,
                offset: Math.floor(r() * 4000),
                limit: 200,
                categoryIds: [cocoCategoryIds[Math.floor(r() * 80)]!],
              }
            : {
                datasetId,
                offset: Math.floor(r() * 3) * 200,
                limit: 200,
                search: String(Math.floor(r() * 10_000)).padStart(3 + Math.floor(r() * 3), '0'),
              }
      const res = await request('POST', '/api/images:query', input)
      if (res.status !== 200) failures.push(`${res.status} ${res.body.toString().slice(0, 200)}`)
      into[kind].push(res.ms)
    }
  }
  const loadStart = performance.now()
  const cpuStart = cpuMs(server.pid!)
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => grid(c, REQUESTS)))
  const loadSeconds = (performance.now() - loadStart) / 1000
  const gridCpuMs = cpuMs(server.pid!) - cpuStart
  const rssAfterGrid = rssMB(server.pid!)
  const loadAverage = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]
  const all = [...latencies.page, ...latencies.class, ...latencies.search]

  // Uncached thumbnails: every client its own 25 images of the 2,000 with files.
  const thumbMs: number[] = []
  const thumbStart = performance.now()
  const withFiles = first.items.slice(0, CLIENTS * THUMBS_PER_CLIENT)
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let k = 0; k < THUMBS_PER_CLIENT; k++) {
        const id = withFiles[c * THUMBS_PER_CLIENT + k]!.id
        const res = await request('GET', `/media/thumb/${id}?t=${encodeURIComponent(token)}`)
        if (res.status !== 200) failures.push(`thumb ${res.status}`)
        thumbMs.push(res.ms)
      }
    }),
  )
  const thumbSeconds = (performance.now() - thumbStart) / 1000
  const rssAfter = rssMB(server.pid!)
  await new Promise((r) => setTimeout(r, 15_000))
  const rssIdle = rssMB(server.pid!)

  // Grid pages while "look for the files again" runs over the 60k images.
  const duringRecheck = { page: [] as number[], class: [] as number[], search: [] as number[] }
  const recheckStart = performance.now()
  const recheck = api<{ missing: number; jobId: string }>('datasets:recheckFiles', {
    id: datasetId,
  })
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => grid(100 + c, 50, duringRecheck)))
  const { missing } = await recheck
  const recheckSeconds = (performance.now() - recheckStart) / 1000

  // Deleting the dataset: hidden at once, removed by a job; pings meanwhile.
  const del = await request('POST', '/api/datasets:delete', { id: datasetId })
  const { jobId } = (JSON.parse(del.body.toString()) as { value: { jobId: string } }).value
  const pings: number[] = []
  const deleteStart = performance.now()
  let deleteState = 'running'
  while (deleteState === 'running') {
    const r = await request('POST', '/api/jobs:list', {})
    pings.push(r.ms)
    const jobs = (JSON.parse(r.body.toString()) as { value: { id: string; state: string }[] }).value
    deleteState = jobs.find((j) => j.id === jobId)!.state
    await new Promise((res) => setTimeout(res, 20))
  }
  const deleteSeconds = (performance.now() - deleteStart) / 1000

  agent.destroy()
  server.kill('SIGINT')
  await once(server, 'exit')
  expect(failures).toEqual([])
  expect(missing).toBe(IMAGES - 2000)
  expect(deleteState).toBe('done')
  writeReport('serverLoad', {
    images: IMAGES,
    annotations: ANNOTATIONS,
    importSeconds: Number(importSeconds.toFixed(1)),
    datasetsGetMs: Number(openMs.toFixed(1)),
    grid: {
      clients: CLIENTS,
      requests: all.length,
      requestsPerSecond: Math.round(all.length / loadSeconds),
      all: stats(all),
      page: stats(latencies.page),
      classFilter: stats(latencies.class),
      search: stats(latencies.search),
      over2s: all.filter((v) => v > 2000).length,
      // Server CPU per request: what the latencies come to on a machine not shared with others.
      serverCpuMsPerRequest: Number((gridCpuMs / all.length).toFixed(2)),
      machineLoadAverage: Number(loadAverage),
    },
    thumbnails: {
      requests: thumbMs.length,
      perSecond: Math.round(thumbMs.length / thumbSeconds),
      ...stats(thumbMs),
    },
    rssMB: {
      before: rssBefore,
      afterGrid: rssAfterGrid,
      afterThumbnails: rssAfter,
      after15sIdle: rssIdle,
    },
    duringRecheck: {
      // Until both the re-check and the 1,000 grid requests beside it were done.
      seconds: Number(recheckSeconds.toFixed(1)),
      grid: stats([...duringRecheck.page, ...duringRecheck.class, ...duringRecheck.search]),
    },
    duringDelete: {
      seconds: Number(deleteSeconds.toFixed(1)),
      deleteCallMs: Number(del.ms.toFixed(1)),
      pings: stats(pings),
    },
  })
  fs.rmSync(work, { recursive: true, force: true })
})
