/**
 * Issue 14, items 22-26, in Chromium on a generated dataset with COCO's layout (20,000 images
 * here so the test stays short; the train2017 size is measured by `npm run bench -- cocoScale`
 * and `serverLoad`): the grid does not wait for the class counts, Esc from the viewer returns to
 * the image that was open, arrow keys move through the grid, a missing file still shows its
 * annotations, a direct link fills the position counter, "look for the files again" runs as a
 * job, file-name search says "1 image matches".
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { startServer, type RunningServer } from '../../src-main/hosts/server/serve'
import type { Job } from '../../src-main/common/api'
import { tempDir } from '../helpers/fixtures'
import { countColor, launchChromium, studioPage } from '../helpers/browser'
import { generatedFileName, writeGeneratedCoco } from '../helpers/generatedCoco'

const IMAGES = 20_000
let server: RunningServer
let browser: Browser
let page: Page
let datasetId: number

beforeAll(async () => {
  server = await startServer({ dataDir: tempDir(), importDemo: false })
  const dir = tempDir()
  fs.mkdirSync(path.join(dir, 'images'))
  const file = path.join(dir, 'instances_train2017.json')
  await writeGeneratedCoco(file, IMAGES, 2 * IMAGES)
  const job = server.studio.jobs.startImport({
    kind: 'coco',
    annotations: file,
    images: path.join(dir, 'images'),
  })
  const end = await server.studio.jobs.settled(job.id)
  expect(end.state).toBe('done')
  datasetId = end.datasetId!
  browser = await launchChromium()
  page = await studioPage(browser)
}, 120_000)
afterAll(async () => {
  await browser?.close()
  await server?.close()
})

const open = (hash: string) => page.goto(`${server.url}${hash}`)
const focusedIndex = () =>
  page.evaluate<string | null>(`document.activeElement?.getAttribute('data-index') ?? null`)

describe(`browsing ${IMAGES.toLocaleString('en-US')} images in Chromium`, () => {
  it('paints the grid without waiting for the class counts (item 22)', async () => {
    // Hold datasets:get back for 3 s: the grid's first page must not wait behind it.
    let released = false
    await page.route('**/api/datasets:get', async (route) => {
      await new Promise((r) => setTimeout(r, 3000))
      released = true
      await route.continue()
    })
    await open(`#/datasets/${datasetId}`)
    await expect
      .poll(() => page.getByTestId('thumb').count(), { timeout: 2500 })
      .toBeGreaterThan(20)
    expect(released).toBe(false)
    await expect
      .poll(() => page.getByTestId('image-total').textContent())
      .toBe(`${IMAGES.toLocaleString('en-US')} images`)
    await page.unroute('**/api/datasets:get')
    // The counts, once there, are the stored ones.
    await expect.poll(() => page.getByTestId('class-toggle').count()).toBe(80)
  })

  it('Esc from the viewer returns to the opened image, in view and focused; arrows move through the grid (item 23)', async () => {
    await open(`#/datasets/${datasetId}`)
    const grid = page.getByRole('grid', { name: 'Images' })
    await expect.poll(() => page.getByTestId('thumb').count()).toBeGreaterThan(20)
    // Far down the list, as a user scrolling through train2017 would be.
    await grid.evaluate((el) => (el.scrollTop = el.scrollHeight * 0.6))
    const target = page.locator('[data-testid="thumb"]:not([disabled])').nth(7)
    await target.waitFor()
    const opened = Number(await target.getAttribute('data-index'))
    expect(opened).toBeGreaterThan(IMAGES / 2)
    await target.click()
    await expect
      .poll(() => page.getByTestId('nav-position').textContent())
      .toBe(`${(opened + 1).toLocaleString('en-US')} / ${IMAGES.toLocaleString('en-US')}`)
    await page.keyboard.press('ArrowRight')
    await page.keyboard.press('ArrowRight')
    await expect
      .poll(() => page.getByTestId('nav-position').textContent())
      .toBe(`${(opened + 3).toLocaleString('en-US')} / ${IMAGES.toLocaleString('en-US')}`)
    await page.keyboard.press('Escape')
    await expect.poll(focusedIndex).toBe(String(opened + 2))
    const cell = page.locator(`[data-testid="thumb"][data-index="${opened + 2}"]`)
    const [box, view] = await Promise.all([cell.boundingBox(), grid.boundingBox()])
    expect(box!.y).toBeGreaterThanOrEqual(view!.y)
    expect(box!.y + box!.height).toBeLessThanOrEqual(view!.y + view!.height)
    // Arrow keys: right, then down one row.
    const cols = await grid.evaluate((el) => Math.max(1, Math.floor(el.clientWidth / 184)))
    await page.keyboard.press('ArrowRight')
    await expect.poll(focusedIndex).toBe(String(opened + 3))
    await page.keyboard.press('ArrowDown')
    await expect.poll(focusedIndex).toBe(String(opened + 3 + cols))
    await page.keyboard.press('Enter')
    await expect
      .poll(() => page.getByTestId('nav-position').textContent())
      .toBe(`${(opened + 4 + cols).toLocaleString('en-US')} / ${IMAGES.toLocaleString('en-US')}`)
  })

  it('draws a missing image’s annotations on a blank canvas, and a direct link fills the counter (item 24)', async () => {
    const { items } = (
      (await server.studio.dispatch('images:query', { datasetId, offset: 12_344, limit: 1 })) as {
        value: { items: { id: number; fileName: string }[] }
      }
    ).value
    const image = items[0]!
    expect(image.fileName).toBe(generatedFileName(12_345))
    const cat = server.studio.db
      .prepare(
        `SELECT c.color FROM annotations a JOIN categories c ON c.dataset_id = a.dataset_id AND c.id = a.category_id WHERE a.image_id = ? LIMIT 1`,
      )
      .pluck()
      .get(image.id) as string
    const rgb = JSON.parse(cat) as number[]
    // A fresh page opened on the link, as from a report or a chat message.
    await open(`#/datasets/${datasetId}/images/${image.id}`)
    await expect
      .poll(() => page.getByTestId('nav-position').textContent())
      .toBe(`12,345 / ${IMAGES.toLocaleString('en-US')}`)
    await page.getByText(`The file ${image.fileName} is missing on disk.`).waitFor()
    expect(await page.getByText('Loading…').count()).toBe(0)
    // Masks at 45% over the blank canvas (#2a2d36).
    const blank = [0x2a, 0x2d, 0x36]
    const mask = rgb.map((c, k) => Math.round(0.45 * c + 0.55 * blank[k]!))
    const canvas = page.getByTestId('viewer-canvas')
    await expect.poll(() => countColor(canvas, mask, 10)).toBeGreaterThan(1000)
    expect(await countColor(canvas, blank, 3)).toBeGreaterThan(10_000)
  })

  it('looks for the files again as a job while the grid keeps answering (item 25)', async () => {
    await open(`#/datasets/${datasetId}`)
    await expect.poll(() => page.getByTestId('thumb').count()).toBeGreaterThan(20)
    await page.getByTestId('recheck').click()
    const job = page.getByTestId('job').filter({ hasText: 'Look for the image files' })
    await job.waitFor()
    // The grid answers meanwhile: a search is typed and filtered while the job runs or after.
    await page.getByPlaceholder('Search file names').fill(generatedFileName(777))
    await expect.poll(() => page.getByTestId('image-total').textContent()).toBe('1 image matches')
    await expect.poll(() => job.getAttribute('data-state'), { timeout: 30_000 }).toBe('done')
    const jobs = (await server.studio.dispatch('jobs:list', {})) as { value: Job[] }
    const check = jobs.value.find((j) => j.title.startsWith('Look for the image files'))!
    expect(check).toMatchObject({ state: 'done', done: IMAGES, total: IMAGES })
  })

  it('file-name search counts in words: "1 image matches", "N images match" (item 26)', async () => {
    await open(`#/datasets/${datasetId}`)
    const search = page.getByPlaceholder('Search file names')
    await search.fill(generatedFileName(4242))
    await expect.poll(() => page.getByTestId('image-total').textContent()).toBe('1 image matches')
    await expect
      .poll(() => page.getByTestId('thumb').first().getAttribute('title'))
      .toBe(generatedFileName(4242))
    expect(await page.getByTestId('thumb').count()).toBe(1)
    await search.fill('00000001')
    const expected = server.studio.db
      .prepare(`SELECT count(*) FROM images WHERE dataset_id = ? AND file_name LIKE '%00000001%'`)
      .pluck()
      .get(datasetId) as number
    await expect
      .poll(() => page.getByTestId('image-total').textContent())
      .toBe(`${expected.toLocaleString('en-US')} images match`)
  })
})
