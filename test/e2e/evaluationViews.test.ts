// Evaluation you can see, in the browser host: the GC r4 demo model run over the demo COCO set
// and evaluated from the Runs view shows its PR curves and TIDE bars (the stored numbers), a
// confusion matrix whose cells list their images, and a complete image list that opens the
// viewer with the run's predictions and steps through the list in its order with →.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { startServer, type RunningServer } from '../../src-main/hosts/server/serve'
import { parseCocoMetrics } from '../../src-main/common/api/evaluationViews'
import type { EvaluationDetail } from '../../src-main/common/api'
import { tempDir } from '../helpers/fixtures'
import { launchChromium, studioPage } from '../helpers/browser'

let server: RunningServer
let browser: Browser
let page: Page

beforeAll(async () => {
  server = await startServer({ dataDir: tempDir() })
  browser = await launchChromium()
  page = await studioPage(browser)
}, 120_000)
afterAll(async () => {
  await browser?.close()
  await server?.close()
})

async function optionValue(select: string, text: string): Promise<string> {
  const option = page.locator(`${select} option`, { hasText: text }).first()
  await option.waitFor({ state: 'attached', timeout: 15_000 })
  return (await option.getAttribute('value'))!
}

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await server.studio.dispatch(method, input)
  if (!r.ok) throw new Error(r.error.message)
  return r.value as T
}

describe('evaluation views in the browser host', () => {
  it(
    'draws PR curves and TIDE bars, lists a confusion cell’s images, and steps through the list',
    { timeout: 240_000 },
    async () => {
      await page.goto(server.url + '#/runs')
      await page
        .locator('select[name="model"]')
        .selectOption(await optionValue('select[name="model"]', 'mask-rcnn-gc-r4 (GC r4)'))
      await page
        .locator('select[name="dataset"]')
        .selectOption(await optionValue('select[name="dataset"]', 'Demo coco val'))
      await page.getByRole('button', { name: 'Start run' }).click()
      const row = page.getByTestId('run-row').first()
      await expect.poll(() => row.getAttribute('data-status'), { timeout: 120_000 }).toBe('done')
      const runId = Number(await row.getAttribute('data-run'))
      await row.click()
      await page.getByTestId('evaluate').click()
      // Both evaluations (bbox, then segm) finished; then look at the bbox one.
      await expect
        .poll(() => page.getByTestId('evaluation-tab').allTextContents(), { timeout: 90_000 })
        .toEqual(
          expect.arrayContaining([
            expect.stringMatching('coco-bbox · AP'),
            expect.stringMatching('coco-segm · AP'),
          ]),
        )
      await page.getByTestId('evaluation-tab').filter({ hasText: 'coco-bbox · AP' }).click()
      await expect.poll(() => page.getByTestId('tide-bars').textContent()).toMatch(/bbox AP@50/)

      const evaluations = await call<{ id: number; kind: string }[]>('evaluations:list', { runId })
      const bbox = await call<EvaluationDetail>('evaluations:get', {
        id: evaluations.find((e) => e.kind === 'coco-bbox')!.id,
      })
      const metrics = parseCocoMetrics(bbox.metrics)

      // PR curves: one SVG line per IoU setting, and hovering tells the values.
      const chart = page.getByTestId('pr-chart')
      await expect.poll(() => chart.locator('svg g[aria-label="line"] path').count()).toBe(3)
      const svg = chart.locator('svg:has(g[aria-label="line"])')
      const box = (await svg.boundingBox())!
      await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.4)
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.3)
      await expect
        .poll(() => chart.locator('svg g[aria-label="tip"]').textContent())
        .toMatch(/recall 0\.\d\d.*precision \d\.\d{3}/)

      // TIDE: six main bars and two special ones, with the stored numbers.
      await expect
        .poll(() => page.locator('[data-testid="tide-main"] svg g[aria-label="bar"] rect').count())
        .toBe(6)
      expect(
        await page.locator('[data-testid="tide-special"] svg g[aria-label="bar"] rect').count(),
      ).toBe(2)
      expect(await page.getByTestId('tide-Miss').textContent()).toBe(
        metrics.errors!.main.Miss.toFixed(2),
      )
      expect(await page.getByTestId('tide-FalsePos').textContent()).toBe(
        metrics.errors!.special.FalsePos.toFixed(2),
      )

      // The confusion matrix: click the busiest cell and get exactly its images.
      const count = page.getByTestId('evaluation-images-count')
      await expect.poll(() => count.textContent()).toBe('240 images')
      const cells = page.getByTestId('confusion-cell')
      await expect.poll(() => cells.count()).toBeGreaterThan(0)
      let best = 0
      let bestCount = 0
      for (let i = 0; i < (await cells.count()); i++) {
        const n = Number(await cells.nth(i).getAttribute('data-count'))
        if (n > bestCount) [best, bestCount] = [i, n]
      }
      const cell = cells.nth(best)
      const rowIndex = Number(await cell.getAttribute('data-row'))
      const column = Number(await cell.getAttribute('data-column'))
      await cell.click()
      const expected = await call<{ total: number; rows: { imageId: number }[] }>(
        'evaluations:imageList',
        { id: bbox.id, cell: { row: rowIndex, column } },
      )
      expect(expected.total).toBeGreaterThan(0)
      await expect.poll(() => count.textContent()).toBe(`${expected.total} images`)
      await expect(page.getByTestId('evaluation-images-cell').isVisible()).resolves.toBe(true)
      const shownIds = await page
        .getByTestId('evaluation-image-row')
        .evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-image-id'))))
      expect(shownIds).toEqual(expected.rows.map((r) => r.imageId).slice(0, shownIds.length))

      // Another score threshold: the matrix is recomputed and says so.
      await page.getByTestId('confusion-threshold').fill('0.9')
      await page.getByRole('button', { name: 'Apply' }).click()
      await expect
        .poll(() => page.getByTestId('confusion-matrix').locator('figcaption').textContent())
        .toMatch(/detections scoring ≥ 0\.9 /)
      await page.getByTestId('confusion-threshold').fill('2')
      await page.getByRole('button', { name: 'Apply' }).click()
      await expect
        .poll(() => page.getByTestId('evaluation-panel').textContent())
        .toMatch(/must be a number from 0 to 1, not "2"/)

      // Back to every image, most false positives first; open the first and step with →.
      await expect.poll(() => count.textContent()).toBe('240 images')
      await page.getByTestId('sort-fp').click()
      const byFp = await call<{ rows: { imageId: number; fp: number }[] }>(
        'evaluations:imageList',
        { id: bbox.id, order: 'fp', direction: 'desc' },
      )
      const rows = page.getByTestId('evaluation-image-row')
      await expect
        .poll(() => rows.first().getAttribute('data-image-id'))
        .toBe(String(byFp.rows[0]!.imageId))
      await rows.first().click()
      await expect.poll(() => page.url()).toContain(`/images/${byFp.rows[0]!.imageId}`)
      expect(page.url()).toContain(`run=${runId}`)
      await expect
        .poll(() => page.getByTestId('nav-position').textContent())
        .toBe('1 / 240 in evaluation')
      await expect
        .poll(() => page.getByTestId('prediction-summary').innerText(), { timeout: 15_000 })
        .toMatch(/\d+ of \d+ detections/)
      await page.keyboard.press('ArrowRight')
      await expect.poll(() => page.url()).toContain(`/images/${byFp.rows[1]!.imageId}`)
      await expect
        .poll(() => page.getByTestId('nav-position').textContent())
        .toBe('2 / 240 in evaluation')
      await expect
        .poll(() => page.getByTestId('prediction-summary').innerText(), { timeout: 15_000 })
        .toMatch(/\d+ of \d+ detections/)
    },
  )
})
