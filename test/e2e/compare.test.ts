// Comparing the demo zoo in the browser: three demo detector runs ticked in Runs (a click and a
// shift-click), compared, and the comparison's table shows each run's deltas against the
// baseline with their bootstrap intervals; its URL reopens it, and an image from the difference
// list shows the instances GC r4 fixed, outlined.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { Model } from '../../src-main/common/api'
import { startServer, type RunningServer } from '../../src-main/hosts/server/serve'
import { tempDir } from '../helpers/fixtures'
import { launchChromium, studioPage } from '../helpers/browser'

let server: RunningServer
let browser: Browser
let page: Page
const runIds: Record<string, number> = {}

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await server.studio.dispatch(method, input)
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r.value as T
}

beforeAll(async () => {
  server = await startServer({ dataDir: tempDir() })
  const models = await call<Model[]>('models:list', {})
  const coco = (await call<{ id: number; kind: string }[]>('datasets:list', {})).find(
    (d) => d.kind === 'coco',
  )!
  for (const name of ['mask-rcnn-baseline', 'mask-rcnn-gc-r16', 'mask-rcnn-gc-r4']) {
    const model = models.find((m) => m.name === name || m.name.startsWith(`${name} (`))!
    const run = await call<{ id: number }>('runs:start', {
      modelId: model.id,
      datasetId: coco.id,
      taps: false,
      limit: 80,
    })
    runIds[name] = run.id
  }
  await server.studio.runs.idle()
  browser = await launchChromium()
  page = await studioPage(browser)
}, 240_000)
afterAll(async () => {
  await browser?.close()
  await server?.close()
})

describe('comparing runs in the browser host', () => {
  it(
    'selects three demo runs, compares them, and shows the deltas with intervals',
    { timeout: 180_000 },
    async () => {
      await page.goto(server.url + '#/runs')
      const check = (run: number) =>
        page.locator(`[data-run="${run}"] [data-testid="compare-check"]`)
      await check(runIds['mask-rcnn-baseline']!).click()
      // Runs are listed newest first: a shift-click on r4 takes r16 between them too.
      await check(runIds['mask-rcnn-gc-r4']!).click({ modifiers: ['Shift'] })
      expect(
        await page
          .getByTestId('compare-check')
          .evaluateAll(
            (els) => els.filter((e) => (e as unknown as { checked: boolean }).checked).length,
          ),
      ).toBe(3)
      await page.getByTestId('compare-runs').click()
      // Frame times while the comparison computes (reported, not asserted: the machine is shared).
      await page.evaluate(`(() => {
        window.frames_ = []
        let last = performance.now()
        const tick = (now) => {
          window.frames_.push(now - last)
          last = now
          if (window.frames_.length < 100000) requestAnimationFrame(tick)
        }
        requestAnimationFrame(tick)
      })()`)
      await page.getByTestId('compare-create').click()
      await expect.poll(() => page.url(), { timeout: 120_000 }).toMatch(/#\/compare\/\d+$/)
      const frames = (await page.evaluate('window.frames_')) as number[]
      const sorted = [...frames].sort((a, b) => a - b)
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
      console.log(
        `frames while comparing: ${frames.length}, p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms`,
      )

      const table = page.getByTestId('compare-summary')
      await table.waitFor({ timeout: 30_000 })
      const rows = table.getByTestId('compare-run-row')
      expect(await rows.count()).toBe(3)
      expect(await rows.nth(0).textContent()).toContain('reference')
      const r4 = table.locator(
        `[data-testid="compare-run-row"][data-run="${runIds['mask-rcnn-gc-r4']}"]`,
      )
      const delta = (await r4.getByTestId('compare-delta').textContent())!.trim()
      // "+35.2 [+29.8, +40.9]": a signed delta in points and its interval.
      expect(delta).toMatch(/^\+\d+\.\d \[[+−]\d+\.\d, [+−]\d+\.\d\]$/)
      const [d, lo, hi] = delta.match(/[+−]\d+\.\d/g)!.map((v) => Number(v.replace('−', '-')))
      expect(lo).toBeGreaterThan(0) // r4's lead over the baseline is larger than chance
      expect(lo!).toBeLessThanOrEqual(d!)
      expect(hi!).toBeGreaterThanOrEqual(d!)
      // The numbers are the stored comparison's.
      const id = Number(page.url().split('/').pop())
      const detail = await call<{ summary: { vsReference: { runId: number; delta: number }[] } }>(
        'compare:get',
        { id },
      )
      const stored = detail.summary.vsReference.find((v) => v.runId === runIds['mask-rcnn-gc-r4'])!
      expect(d).toBeCloseTo(stored.delta * 100, 1)
      expect(await page.getByTestId('published-row').count()).toBe(3)
      expect(await page.getByTestId('category-row').count()).toBeGreaterThan(0)
      // One precision/recall line per run, drawn by Observable Plot.
      expect(
        await page
          .locator('[aria-label^="precision-recall curves"] [aria-label="line"] path')
          .count(),
      ).toBe(3)

      // Reopening the URL shows the same comparison.
      await page.reload()
      await page.getByTestId('compare-summary').waitFor({ timeout: 30_000 })
      expect(
        (await page
          .locator(`[data-run="${runIds['mask-rcnn-gc-r4']}"] [data-testid="compare-delta"]`)
          .textContent())!.trim(),
      ).toBe(delta)

      // An image GC r4 fixed: its fixed instances are outlined.
      await page.getByTestId('diff-run').selectOption(String(runIds['mask-rcnn-gc-r4']))
      const first = page.getByTestId('diff-row').first()
      await first.waitFor()
      const fixed = Number(await first.locator('td').nth(1).textContent())
      expect(fixed).toBeGreaterThan(0)
      await first.click()
      await expect.poll(() => page.url()).toMatch(/#\/compare\/\d+\/images\/\d+$/)
      const pane = page.locator(
        `[data-testid="image-diff"][data-run="${runIds['mask-rcnn-gc-r4']}"]`,
      )
      await pane.waitFor({ timeout: 15_000 })
      expect(await pane.getByTestId('fixed-outline').count()).toBe(fixed)
      // The synced side-by-side viewer opens on the same image, one pane per run.
      await page.getByTestId('compare-panes').waitFor({ timeout: 15_000 })
    },
  )
})
