// What a newcomer sees after `npm start`: the bundled demo datasets and models are there; a
// GC r4 detector run over the demo COCO val split from the Runs view, its evaluation equal to
// the zoo recipe's numbers, and in the viewer the run's detections and the attention of every
// GC block, with the c3 block looking at the scene's signal strip (the cue that decides day vs
// night, at the image's left or right edge) as the paper's Fig. 4 would lead one to expect.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { startServer, type RunningServer } from '../../src-main/hosts/server/serve'
import { packageRoot } from '../../src-main/core/paths'
import { tempDir } from '../helpers/fixtures'
import { differing, launchChromium, studioPage } from '../helpers/browser'

const zoo = JSON.parse(
  fs.readFileSync(path.join(packageRoot(), 'models/manifest.json'), 'utf8'),
) as {
  models: { id: string; metrics: { bbox?: { AP: number }; segm?: { AP: number } } }[]
}
const r4 = zoo.models.find((m) => m.id === 'mask-rcnn-gc-r4')!

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

/** The value of the option whose text contains `text`, once the list has loaded it. */
async function optionValue(select: string, text: string): Promise<string> {
  const option = page.locator(`${select} option`, { hasText: text }).first()
  await option.waitFor({ state: 'attached', timeout: 15_000 })
  return (await option.getAttribute('value'))!
}

describe('the demo, in the browser host', () => {
  it(
    'runs the GC r4 demo model over the demo COCO set, scores it, and shows where its GC blocks look',
    { timeout: 180_000 },
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
      await expect.poll(() => row.getAttribute('data-status'), { timeout: 90_000 }).toBe('done')
      expect(await row.getByTestId('run-count').textContent()).toBe('240 / 240')

      // Evaluate from the Runs view: the numbers the recipe measured on the PyTorch model.
      await row.click()
      await page.getByTestId('evaluate').click()
      await expect
        .poll(() => page.getByTestId('evaluation-tab').allTextContents(), { timeout: 60_000 })
        .toEqual(
          expect.arrayContaining([
            expect.stringMatching(`coco-bbox · AP ${(r4.metrics.bbox!.AP * 100).toFixed(1)}`),
            expect.stringMatching(`coco-segm · AP ${(r4.metrics.segm!.AP * 100).toFixed(1)}`),
          ]),
        )

      // The viewer on a demo image: the run's detections and the three GC blocks' attention.
      const runId = Number(await row.getAttribute('data-run'))
      const { dataset_id: dsId, id: imgId } = server.studio.db
        .prepare(
          `SELECT i.dataset_id, i.id FROM images i JOIN run_images r ON r.image_id = i.id
           WHERE r.run_id = ? ORDER BY i.id LIMIT 1`,
        )
        .get(runId) as { dataset_id: number; id: number }
      await page.goto(`${server.url}#/datasets/${dsId}/images/${imgId}?i=0`)
      await page
        .getByTestId('prediction-source')
        .selectOption(await optionValue('[data-testid="prediction-source"]', `run ${runId}`))
      await expect
        .poll(() => page.getByTestId('prediction-summary').innerText())
        .toMatch(/\d+ of \d+ detections/)
      const blocks = page.getByTestId('block-select').locator('option')
      await expect.poll(() => blocks.allTextContents()).toHaveLength(3)
      expect((await blocks.allTextContents()).map((t) => t.split(' ')[0])).toEqual([
        'c3.0',
        'c4.0',
        'c5.0',
      ])
      // The heatmap is drawn over the image: switching the overlay on changes the picture.
      const canvas = page.getByTestId('viewer-canvas')
      await page.getByLabel('Attention opacity').fill('0')
      const plain = await canvas.screenshot()
      await page.getByLabel('Attention opacity').fill('1')
      await expect
        .poll(async () => differing(plain, await canvas.screenshot()))
        .toBeGreaterThan(5_000)

      // And the c3 block looks at the strip: most of its attention sits in the outer columns.
      const res = await server.studio.dispatch('runs:imageResult', { runId, imageId: imgId })
      if (!res.ok) throw new Error(res.error.message)
      const c3 = (
        res.value as {
          attention: { height: number; width: number; min: number; max: number; data: string }[]
        }
      ).attention[0]!
      const bytes = Buffer.from(c3.data, 'base64')
      let edge = 0
      let total = 0
      for (let y = 0; y < c3.height; y++)
        for (let x = 0; x < c3.width; x++) {
          const v = c3.min + (bytes[y * c3.width + x]! / 255) * (c3.max - c3.min)
          total += v
          if (x < 2 || x >= c3.width - 2) edge += v
        }
      // 4 of 24 columns hold 1/6 of a uniform map; the trained block puts nearly all of it there.
      expect(edge / total).toBeGreaterThan(0.9)
    },
  )
})
