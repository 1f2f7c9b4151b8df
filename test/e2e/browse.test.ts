import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { startServer, type RunningServer } from '../../src-main/hosts/server/serve'
import { classColor } from '../../src-main/common/colors'
import { cityscapesLabelById } from '../../src-main/common/cityscapesLabels'
import { GREY, makeCityscapesFixture, makeCocoFixture, tempDir } from '../helpers/fixtures'
import { blend, countColor, launchChromium, studioPage } from '../helpers/browser'

let server: RunningServer
let browser: Browser
let page: Page

beforeAll(async () => {
  server = await startServer({ dataDir: tempDir(), importDemo: false })
  browser = await launchChromium()
  page = await studioPage(browser)
})
afterAll(async () => {
  await browser?.close()
  await server?.close()
})

async function importThroughUi(source: string, fill: () => Promise<void>): Promise<void> {
  await page.goto(server.url)
  await fill()
  await page.getByRole('button', { name: 'Import', exact: true }).click()
  // This import's own job: earlier ones stay in the tray.
  const job = page.getByTestId('job').filter({ hasText: source })
  await job.getByRole('button', { name: 'Open dataset' }).click({ timeout: 20_000 })
}

describe('browsing in the browser host', () => {
  it('imports a COCO folder through the UI, filters, opens an image and draws its ground truth', async () => {
    const fx = await makeCocoFixture()
    await importThroughUi(fx.annotations, async () => {
      await page.getByRole('tab', { name: 'COCO' }).click()
      await page.locator('input[name="annotations"]').fill(fx.annotations)
      await page.locator('input[name="images"]').fill(fx.images)
    })
    await expect.poll(() => page.getByTestId('thumb').count()).toBe(6)
    await expect.poll(() => page.getByTestId('missing').count()).toBe(1)

    // Class filter: only b.jpg holds a toothbrush (category 90).
    await page.locator('[data-testid="class-toggle"][data-category="90"]').click()
    await expect
      .poll(() => page.getByTestId('image-total').textContent())
      .toMatch(/^1 image matches/)
    await expect.poll(() => page.getByTestId('thumb').getAttribute('title')).toBe('b.jpg')
    await page.getByRole('button', { name: 'Clear' }).click()
    await page.getByPlaceholder('Search file names').fill('a.png')
    await expect
      .poll(() => page.getByTestId('image-total').textContent())
      .toMatch(/^1 image matches/)
    await page.getByTestId('thumb').first().click()

    await expect.poll(() => page.getByTestId('annotation-item').count()).toBe(2)
    const canvas = page.getByTestId('viewer-canvas')
    // Category 3 (car) is the first category, so it has the first palette colour; masks are
    // drawn at 45% over the flat grey image.
    const car = blend(classColor(0), 0.45, GREY)
    const cat = blend(classColor(1), 0.45, GREY)
    await expect.poll(() => countColor(canvas, car)).toBeGreaterThan(5000)
    expect(await countColor(canvas, cat)).toBeGreaterThan(5000)

    // Hiding the car class removes its mask and its row in the list.
    await page.locator('[data-testid="class-toggle"][data-category="3"]').click()
    await expect.poll(() => countColor(canvas, car)).toBe(0)
    expect(await countColor(canvas, cat)).toBeGreaterThan(5000)
    await expect.poll(() => page.getByTestId('annotation-count').textContent()).toBe('1')

    // Zoom with the keyboard, then 0 fits again.
    const fitScale = Number(await canvas.getAttribute('data-scale'))
    const before = await countColor(canvas, cat)
    await page.keyboard.press('+')
    await page.keyboard.press('+')
    await expect
      .poll(async () => Number(await canvas.getAttribute('data-scale')))
      .toBeCloseTo(fitScale * 1.5625, 3)
    await expect.poll(() => countColor(canvas, cat)).toBeGreaterThan(before * 1.3)
    await page.keyboard.press('0')
    await expect
      .poll(async () => Number(await canvas.getAttribute('data-scale')))
      .toBeCloseTo(fitScale, 3)
  })

  it('imports a Cityscapes folder through the UI and shows the official palette with opacity control', async () => {
    const fx = await makeCityscapesFixture()
    await importThroughUi(fx.root, async () => {
      await page.getByRole('tab', { name: 'Cityscapes' }).click()
      await page.locator('input[name="root"]').fill(fx.root)
    })
    await expect.poll(() => page.getByTestId('thumb').count()).toBe(2)
    await page.getByTestId('thumb').first().click()
    const canvas = page.getByTestId('viewer-canvas')
    const sky = blend(cityscapesLabelById.get(23)!.color, 0.5, GREY)
    await expect.poll(() => countColor(canvas, sky)).toBeGreaterThan(5000)
    // Three instances listed: the crowd of cars, the person and the car.
    expect(await page.getByTestId('annotation-item').count()).toBe(3)
    await page.getByLabel('Label map opacity').fill('0')
    await expect.poll(() => countColor(canvas, sky)).toBe(0)
    // Arrow key: the next frame (road + building).
    await page.keyboard.press('ArrowRight')
    await expect.poll(() => page.getByTestId('annotation-item').count()).toBe(0)
  })

  it('shows an import error in words and keeps the app running', async () => {
    await page.goto(server.url)
    await page.getByRole('tab', { name: 'Cityscapes' }).click()
    await page.locator('input[name="root"]').fill(tempDir())
    await page.getByRole('button', { name: 'Import', exact: true }).click()
    await expect
      .poll(() => page.getByTestId('job-error').first().textContent())
      .toMatch(/is not a Cityscapes root/)
    await expect.poll(() => page.getByTestId('dataset-card').count()).toBe(2)
  })
})
