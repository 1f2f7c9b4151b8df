// Reports from the UI of the browser host: the Report button of a run's evaluation makes an HTML
// and a PDF report as jobs, each opens from its link (served by report id with the session
// token), and the Reports view lists both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { Model } from '../../src-main/common/api'
import { startServer, type RunningServer } from '../../src-main/hosts/server/serve'
import { tempDir } from '../helpers/fixtures'
import { haveChromium, launchChromium, studioPage } from '../helpers/browser'

let server: RunningServer
let browser: Browser
let page: Page
let runId: number

beforeAll(async () => {
  server = await startServer({ dataDir: tempDir(), importDemo: true })
  const studio = server.studio
  const call = async <T>(method: string, input: unknown) => {
    const r = await studio.dispatch(method, input)
    if (!r.ok) throw new Error(r.error.message)
    return r.value as T
  }
  const coco = (await call<{ id: number; kind: string }[]>('datasets:list', {})).find(
    (d) => d.kind === 'coco',
  )!
  const model = (await call<Model[]>('models:list', {})).find((m) =>
    m.name.startsWith('mask-rcnn-gc-r4 ('),
  )!
  runId = (
    await call<{ id: number }>('runs:start', {
      modelId: model.id,
      datasetId: coco.id,
      limit: 8,
      taps: false,
    })
  ).id
  await studio.runs.idle()
  await call('evaluations:run', { runId })
  browser = await launchChromium()
  page = await studioPage(browser)
}, 180_000)
afterAll(async () => {
  await browser?.close()
  await server?.close()
})

describe('reports in the browser host', () => {
  it.skipIf(!haveChromium())(
    'makes HTML and PDF reports from the evaluation panel and lists them',
    { timeout: 120_000 },
    async () => {
      await page.goto(`${server.url}#/runs`)
      await page.locator(`[data-testid="run-row"][data-run="${runId}"]`).click()
      const button = page.getByTestId('report-button')
      await button.getByTestId('report-create').click()
      const open = button.getByTestId('report-open')
      await open.waitFor({ timeout: 60_000 })
      const html = await page.request.get(
        new URL((await open.getAttribute('href'))!, server.url).href,
      )
      expect(html.headers()['content-type']).toMatch(/text\/html/)
      expect(await html.text()).toContain('<h2>Metrics</h2>')

      await button.getByLabel('report format').selectOption('pdf')
      await button.getByTestId('report-create').click()
      await expect.poll(() => open.textContent(), { timeout: 60_000 }).toBe('Open PDF')
      const pdfUrl = new URL((await open.getAttribute('href'))!, server.url).href
      const pdf = await page.request.get(pdfUrl)
      expect(pdf.headers()['content-type']).toBe('application/pdf')
      expect((await pdf.body()).subarray(0, 5).toString()).toBe('%PDF-')

      await page.getByRole('button', { name: 'Reports', exact: true }).click()
      await expect.poll(() => page.getByTestId('report-row').count()).toBe(2)
      // Without the session token nothing is served.
      expect((await page.request.get(pdfUrl.replace(/\?t=.*/, ''))).status()).toBe(401)
    },
  )
})
