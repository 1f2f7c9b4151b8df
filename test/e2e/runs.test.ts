import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { startServer, type RunningServer } from '../../src-main/hosts/server/serve'
import { classColor } from '../../src-main/common/colors'
import { makeBulkCoco, tempDir } from '../helpers/fixtures'
import { countColor, differing, launchChromium, studioPage } from '../helpers/browser'

const onnxDir = path.join(import.meta.dirname, '../fixtures/onnx')
let server: RunningServer
let browser: Browser
let page: Page

beforeAll(async () => {
  server = await startServer({ dataDir: tempDir(), importDemo: false })
  const fx = await makeBulkCoco(1500)
  const job = server.studio.jobs.startImport({
    kind: 'coco',
    annotations: fx.annotations,
    images: fx.images,
    name: 'bulk',
  })
  await server.studio.jobs.settled(job.id)
  browser = await launchChromium()
  page = await studioPage(browser)
})
afterAll(async () => {
  await browser?.close()
  await server?.close()
})

const runRow = () => page.getByTestId('run-row').first()
const runCount = async () =>
  Number(
    ((await runRow().getByTestId('run-count').textContent()) ?? '0')
      .split(' ')[0]!
      .replace(/,/g, ''),
  )

describe('runs in the browser host', () => {
  it(
    'imports a model, runs it with live progress, cancels, resumes, and shows predictions and attention',
    { timeout: 180_000 },
    async () => {
      await page.goto(server.url)
      await page.getByRole('button', { name: 'Models', exact: true }).click()
      await page.locator('input[name="model-path"]').fill(path.join(onnxDir, 'mmdeploy_det'))
      await page.getByRole('button', { name: 'Import model' }).click()
      await expect.poll(() => page.getByTestId('gc-label').textContent()).toBe('GC r4 · 2 blocks')
      expect(await page.getByTestId('gc-table').locator('tbody tr').count()).toBe(2)

      await page.getByRole('button', { name: 'Runs', exact: true }).click()
      await page.getByRole('button', { name: 'Start run' }).click()
      await expect
        .poll(() => runRow().getAttribute('data-status'), { timeout: 20_000 })
        .toBe('running')
      // Progress streams in while it runs.
      await expect.poll(runCount, { timeout: 20_000 }).toBeGreaterThan(0)
      await runRow().getByRole('button', { name: 'Cancel' }).click()
      await expect
        .poll(() => runRow().getAttribute('data-status'), { timeout: 20_000 })
        .toBe('cancelled')
      const atCancel = await runCount()
      expect(atCancel).toBeLessThan(1500)
      expect(await runRow().locator('td').nth(5).textContent()).toBe('cpu')

      await runRow().getByRole('button', { name: 'Resume' }).click()
      await expect
        .poll(() => runRow().getAttribute('data-status'), { timeout: 60_000 })
        .toBe('done')
      expect(await runCount()).toBe(1500)
      const rows = server.studio.db
        .prepare('SELECT count(*) AS n, count(DISTINCT image_id) AS d FROM run_images')
        .get() as { n: number; d: number }
      expect(rows).toEqual({ n: 1500, d: 1500 })

      // The viewer: the run's boxes in class colours, then the attention heatmap over the image.
      const dsId = (
        server.studio.db.prepare(`SELECT id FROM datasets WHERE name = 'bulk'`).get() as {
          id: number
        }
      ).id
      const imgId = (
        server.studio.db
          .prepare('SELECT min(id) AS id FROM images WHERE dataset_id = ?')
          .get(dsId) as { id: number }
      ).id
      await page.goto(`${server.url}#/datasets/${dsId}/images/${imgId}?i=0`)
      const canvas = page.getByTestId('viewer-canvas')
      await page.getByLabel('Masks').uncheck()
      await page.getByLabel('Boxes').uncheck()
      const before = await countColor(canvas, classColor(2), 10)
      await page.getByTestId('prediction-source').selectOption({ index: 1 })
      await expect
        .poll(() => page.getByTestId('prediction-summary').innerText())
        .toMatch(/2 of 2 detections/)
      await page.getByLabel('Attention opacity').fill('0')
      // The toothbrush prediction (label 2 -> category 90, third colour) is drawn as a box.
      await expect.poll(() => countColor(canvas, classColor(2), 10)).toBeGreaterThan(before + 100)
      expect(await page.getByTestId('block-select').locator('option').count()).toBe(2)
      const plain = await canvas.screenshot()
      await page.getByLabel('Attention opacity').fill('1')
      await expect
        .poll(async () => differing(plain, await canvas.screenshot()))
        .toBeGreaterThan(20_000)

      // Running the current image on demand answers with the same detections.
      await page.getByTestId('live-model').selectOption({ index: 1 })
      await page.getByTestId('run-now').click()
      await expect
        .poll(() => page.getByTestId('prediction-source').inputValue())
        .toMatch(/^model:\d+$/)
      await expect
        .poll(() => page.getByTestId('prediction-summary').innerText())
        .toMatch(/2 of 2 detections/)
    },
  )
})
