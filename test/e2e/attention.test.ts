// The Attention view of a GC r4 run on the demo data, in Chromium: statistics computed from the
// UI, the attention grid (the paper's Fig. 5) drawn on one colour scale with a legend in
// values, and the 3-D context-vector space drawing its points, naming one on hover and opening
// its image on click.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import sharp from 'sharp'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startServer, type RunningServer } from '../../src-main/hosts/server/serve'
import type { Model, Run } from '../../src-main/common/api'
import { tempDir } from '../helpers/fixtures'
import { chromiumPath, studioPage } from '../helpers/browser'

let server: RunningServer
let browser: Browser
let page: Page
let run: Run
let r16: Run
let untapped: Run

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await server.studio.dispatch(method, input)
  if (!r.ok) throw new Error(r.error.message)
  return r.value as T
}

beforeAll(async () => {
  server = await startServer({ dataDir: tempDir() })
  const models = await call<Model[]>('models:list', {})
  const coco = (await call<{ id: number; kind: string }[]>('datasets:list', {})).find(
    (d) => d.kind === 'coco',
  )!
  run = await call<Run>('runs:start', {
    modelId: models.find(
      (m) => m.name.startsWith('mask-rcnn-gc-r4') && m.format.startsWith('mmdeploy'),
    )!.id,
    datasetId: coco.id,
    limit: 40,
  })
  await server.studio.runs.idle()
  r16 = await call<Run>('runs:start', {
    modelId: models.find((m) => m.name.startsWith('mask-rcnn-gc-r16'))!.id,
    datasetId: coco.id,
    limit: 40,
  })
  await server.studio.runs.idle()
  untapped = await call<Run>('runs:start', {
    modelId: models.find((m) => m.name.startsWith('gc-head'))!.id,
    datasetId: (await call<{ id: number; kind: string }[]>('datasets:list', {})).find(
      (d) => d.kind === 'cityscapes',
    )!.id,
    taps: false,
    limit: 6,
  })
  await server.studio.runs.idle()
  // WebGL without a GPU: Chromium's software rasteriser (SwiftShader) draws the 3-D view.
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--headless', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
  })
  page = await studioPage(browser)
}, 180_000)
afterAll(async () => {
  await browser?.close()
  await server?.close()
})

describe('attention analytics in the browser', () => {
  it(
    'computes the statistics from the Runs view and shows the per-stage table',
    { timeout: 120_000 },
    async () => {
      await page.goto(server.url)
      await page.getByRole('button', { name: 'Runs', exact: true }).click()
      await page.locator(`[data-run="${run.id}"]`).getByTestId('run-attention').click()
      await page.getByTestId('attention-compute').click()
      const table = page.getByTestId('attention-stage-table')
      await table.waitFor({ timeout: 60_000 })
      const stats = (await server.studio.attention.stats(run.id))!
      expect(await table.locator('tbody tr').count()).toBe(3)
      expect(
        await table.locator('tr[data-stage="c3"] [data-testid="stage-entropy"]').textContent(),
      ).toContain(stats.stages.c3!.entropy.mean.toFixed(3))
    },
  )

  it('shows r4 and r16 per stage side by side', { timeout: 120_000 }, async () => {
    await page.getByTestId('compare-run').first().check()
    const table = page.getByTestId('attention-stage-compare')
    await expect.poll(() => table.locator('tbody tr').count(), { timeout: 60_000 }).toBe(12)
    const c3 = (await table.locator('tbody tr').first().allTextContents())[0]!
    const [s4, s16] = [run.id, r16.id].map((id) => server.studio.attention.stats(id)!)
    // "c3 entropy 0.45 (r4) vs 0.96 (r16)"
    expect(c3).toContain(s4!.stages.c3!.entropy.mean.toFixed(3))
    expect(c3).toContain(s16!.stages.c3!.entropy.mean.toFixed(3))
    expect(s16!.stages.c3!.entropy.mean).toBeGreaterThan(s4!.stages.c3!.entropy.mean + 0.3)
  })

  it('draws the attention grid with a legend in values', { timeout: 60_000 }, async () => {
    await page.getByTestId('tab-grid').click()
    const legend = page.getByTestId('grid-legend')
    await legend.waitFor({ timeout: 20_000 })
    const ticks = (await legend.locator('.ticks span').allTextContents()).map(Number)
    expect(ticks).toHaveLength(5)
    expect(ticks[4]!).toBeGreaterThan(ticks[0]!)
    // 8 images x 3 stages, each a drawn canvas (not blank).
    const maps = page.getByTestId('grid-map')
    await expect.poll(() => maps.count()).toBe(24)
    const png = await maps.first().screenshot()
    const { data } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true })
    const colours = new Set<number>()
    for (let i = 0; i < data.length; i += 3)
      colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!)
    expect(colours.size).toBeGreaterThan(20)
  })

  it(
    'draws the context-vector space; hover names an image and a click opens it',
    { timeout: 90_000 },
    async () => {
      await page.getByTestId('tab-space').click()
      await expect
        .poll(() => page.getByTestId('space-count').textContent(), { timeout: 30_000 })
        .toContain('40 images')
      const canvas = page.getByTestId('space-canvas')
      await canvas.waitFor()
      const box = (await canvas.boundingBox())!
      const png = await canvas.screenshot()
      const { data, info } = await sharp(png)
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true })
      // Points are drawn in the classes' colours over the dark background: find bright pixels.
      const bright: [number, number][] = []
      for (let y = 0; y < info.height; y++)
        for (let x = 0; x < info.width; x++) {
          const i = (y * info.width + x) * 3
          const r = data[i]!
          const g = data[i + 1]!
          const b = data[i + 2]!
          // Saturated, bright, and not the axes' pure red/green/blue lines.
          if (Math.max(r, g, b) > 120 && Math.min(r, g, b) > 40) bright.push([x, y])
        }
      expect(bright.length).toBeGreaterThan(40)
      // Hover over drawn points until one names its image, then click it.
      const scale = box.width / info.width
      let named: string | null = null
      for (const [x, y] of bright.filter((_, i) => i % 7 === 0).slice(0, 80)) {
        await page.mouse.move(box.x + x * scale, box.y + y * scale)
        const tip = page.getByTestId('space-hover')
        if (await tip.count()) {
          named = await tip.textContent()
          await page.mouse.down()
          await page.mouse.up()
          break
        }
      }
      expect(named).toMatch(/\.jpg/)
      await expect.poll(() => page.url()).toMatch(/#\/datasets\/\d+\/images\/\d+/)
    },
  )

  it(
    'computes attention for a run made without taps, from its Attention view',
    { timeout: 120_000 },
    async () => {
      await page.goto(`${server.url.split('#')[0]}#/runs/${untapped.id}/attention`)
      await page.getByTestId('attention-tap').click()
      const table = page.getByTestId('attention-stage-table')
      await table.waitFor({ timeout: 90_000 })
      const stats = server.studio.attention.stats(untapped.id)!
      expect(stats.images).toBe(6)
      expect(stats.semanticClasses).toBe(true)
      expect(await table.locator('tbody tr').count()).toBe(Object.keys(stats.stages).length)
    },
  )
})
