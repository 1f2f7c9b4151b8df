// Pan smoothness of the side-by-side viewer: four demo detector runs at score 0 (up to 100
// boxes, masks and labels per pane) on one shared viewport, dragged with the mouse in headless
// Chromium (software rendering). Reports the frame interval while dragging, the main thread's
// long tasks, and how many draws the pointer events coalesced into.
import os from 'node:os'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { startServer, type RunningServer } from '../../src-main/hosts/server/serve'
import type { Model, Run } from '../../src-main/common/api'
import { tempDir } from '../helpers/fixtures'
import { launchChromium } from '../helpers/browser'
import { percentile, writeReport } from './report'

/**
 * In-page probes, as a script (the page's DOM types are not the tests' Node types): the time of
 * every animation-frame callback (the viewer's draws are those callbacks), frame timestamps,
 * long tasks, canvas draws (one clearRect per canvas per draw), and a drag of pointer moves
 * every 2 ms: far more than the display's frames, as a fast mouse or a trackpad sends them.
 */
const probe = `
  const b = { on: false, frames: [], long: [], draws: 0, drawMs: [] }
  const raf = window.requestAnimationFrame.bind(window)
  window.requestAnimationFrame = (cb) => raf((t) => {
    const s = performance.now()
    cb(t)
    if (b.on) b.drawMs.push(performance.now() - s)
  })
  const clear = CanvasRenderingContext2D.prototype.clearRect
  CanvasRenderingContext2D.prototype.clearRect = function (...a) {
    if (b.on) b.draws++
    return clear.apply(this, a)
  }
  window.__bench = {
    start() {
      b.on = true
      new PerformanceObserver((l) => { for (const e of l.getEntries()) b.long.push(e.duration) })
        .observe({ type: 'longtask' })
      const tick = (t) => { b.frames.push(t); raf(tick) }
      raf(tick)
    },
    drag(ms) {
      const target = document.querySelector('[data-testid="pane-canvas"]')
      const r = target.getBoundingClientRect()
      let n = 0
      const t0 = performance.now()
      return new Promise((done) => {
        const id = setInterval(() => {
          const t = performance.now() - t0
          if (t > ms) {
            clearInterval(id)
            done({ moves: n, seconds: t / 1000 })
            return
          }
          n++
          target.dispatchEvent(new PointerEvent('pointermove', {
            bubbles: true,
            clientX: r.x + r.width / 2 + 150 * Math.sin(t / 300),
            clientY: r.y + r.height / 2 + 80 * Math.sin(t / 470),
          }))
        }, 2)
      })
    },
    result: () => b,
  }
`

let server: RunningServer
let browser: Browser
let page: Page

async function call<T>(method: string, input: unknown): Promise<T> {
  const res = await server.studio.dispatch(method as never, input as never)
  if (!res.ok) throw new Error(res.error.message)
  return res.value as T
}

async function run(model: string): Promise<Run> {
  let m: Model | undefined
  for (let i = 0; !m && i < 600; i++) {
    m = (await call<Model[]>('models:list', {})).find((x) => x.name.startsWith(model))
    if (!m) await new Promise((r) => setTimeout(r, 250))
  }
  const d = (await call<{ id: number; name: string }[]>('datasets:list', {})).find((x) =>
    /coco/i.test(x.name),
  )!
  const r = await call<Run>('runs:start', {
    modelId: m!.id,
    datasetId: d.id,
    limit: 1,
    ep: 'cpu',
    scoreThreshold: 0,
  })
  for (;;) {
    const { status } = await call<Run>('runs:get', { id: r.id })
    if (status === 'done') return r
    if (status === 'failed') throw new Error(`run ${r.id} failed`)
    await new Promise((res) => setTimeout(res, 250))
  }
}

beforeAll(async () => {
  server = await startServer({ dataDir: tempDir() })
  browser = await launchChromium()
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } })
})
afterAll(async () => {
  await browser?.close()
  await server?.close()
})

it('pans four panes together: draw cost per pane, draws per pointer move, frame intervals', async () => {
  const runs = []
  for (const m of [
    'mask-rcnn-baseline',
    'mask-rcnn-gc-r16',
    'mask-rcnn-gc-r4 ',
    'mask-rcnn-gc-r4-torchvision',
  ])
    runs.push(await run(m))
  const imageId = (
    server.studio.db
      .prepare('SELECT min(image_id) AS id FROM run_images WHERE run_id = ?')
      .get(runs[0]!.id) as { id: number }
  ).id
  const detections = runs.map(
    (r) =>
      (
        server.studio.db
          .prepare('SELECT count(*) AS n FROM predictions WHERE run_id = ? AND image_id = ?')
          .get(r.id, imageId) as { n: number }
      ).n,
  )
  await page.addInitScript({ content: probe })
  await page.goto(
    `${server.url}#/side-by-side?image=${imageId}&runs=${runs.map((r) => r.id).join(',')}`,
  )
  await expect.poll(() => page.getByTestId('pane-summary').count(), { timeout: 60_000 }).toBe(4)
  await page.getByLabel('Score threshold').fill('0')
  const canvas = page.getByTestId('pane-canvas').first()
  const box = (await canvas.boundingBox())!
  const cx = box.x + box.width / 2
  const cy = box.y + box.height / 2
  await page.mouse.move(cx, cy)
  await page.mouse.wheel(0, -300)
  await page.waitForTimeout(500)
  const labels = await page.getByTestId('canvas-label').count()

  await page.evaluate('window.__bench.start()')
  await page.mouse.down()
  const { moves, seconds } = (await page.evaluate('window.__bench.drag(3000)')) as {
    moves: number
    seconds: number
  }
  await page.mouse.up()
  await page.waitForTimeout(200)
  const b = (await page.evaluate('window.__bench.result()')) as {
    frames: number[]
    long: number[]
    draws: number
    drawMs: number[]
  }
  const drawMs = b.drawMs
  const intervals = b.frames.slice(1).map((t, i) => t - b.frames[i]!)
  writeReport('viewer', {
    panes: 4,
    detectionsPerPane: detections,
    labelsShown: labels,
    pointerMoves: moves,
    dragSeconds: Number(seconds.toFixed(2)),
    pointerMovesPerSecond: Math.round(moves / seconds),
    drawsPerPane: Math.round(b.draws / 4),
    frameIntervalMs: {
      p50: Number(percentile(intervals, 50).toFixed(1)),
      p95: Number(percentile(intervals, 95).toFixed(1)),
      p99: Number(percentile(intervals, 99).toFixed(1)),
      max: Number(Math.max(...intervals).toFixed(1)),
    },
    drawMsPerPane: {
      p50: Number(percentile(drawMs, 50).toFixed(2)),
      p95: Number(percentile(drawMs, 95).toFixed(2)),
      p99: Number(percentile(drawMs, 99).toFixed(2)),
    },
    loadAverage: os.loadavg()[0],
    longTasks: b.long.length,
    longestTaskMs: b.long.length ? Math.round(Math.max(...b.long)) : 0,
  })
})
