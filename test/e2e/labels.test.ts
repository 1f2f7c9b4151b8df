/**
 * Fixing labels in Chromium with real mouse and keyboard input: draw a polygon, drag a vertex,
 * undo, redo, reload (the edit is in the store), accept a prediction, and work through the
 * review queue with the keyboard.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { Evaluation, Model } from '../../src-main/common/api'
import type { LabelImageState } from '../../src-main/common/api/labels'
import { startServer, type RunningServer } from '../../src-main/hosts/server/serve'
import { makeCityscapesFixture, tempDir } from '../helpers/fixtures'
import { launchChromium, studioPage } from '../helpers/browser'
import { call, imageIds, labelDataset } from '../unit/labels/helpers'

let server: RunningServer
let browser: Browser
let page: Page
let datasetId: number
let one: number
let two: number

beforeAll(async () => {
  server = await startServer({ dataDir: tempDir(), importDemo: false })
  ;({ datasetId } = await labelDataset(server.studio))
  ;[one, two] = imageIds(server.studio.db, datasetId) as [number, number]
  browser = await launchChromium()
  page = await studioPage(browser)
})
afterAll(async () => {
  await browser?.close()
  await server?.close()
})

const labels = (imageId: number) =>
  call<LabelImageState>(server.studio, 'labels:image', { imageId })

/** Screen position of an image point, from the editing layer's transform. */
async function at(x: number, y: number): Promise<[number, number]> {
  const layer = page.getByTestId('edit-layer')
  const box = (await layer.boundingBox())!
  const s = Number(await layer.getAttribute('data-scale'))
  const ox = Number(await layer.getAttribute('data-offset-x'))
  const oy = Number(await layer.getAttribute('data-offset-y'))
  return [box.x + ox + x * s, box.y + oy + y * s]
}

async function click(x: number, y: number) {
  const [px, py] = await at(x, y)
  await page.mouse.click(px, py)
}

const newPolygon = async () =>
  (await labels(one)).annotations.find(
    (a) => a.categoryId === 17 && a.segmentation.kind === 'polygon',
  )

describe('fixing labels in the viewer', () => {
  it('draws a polygon, drags a vertex, undoes, redoes, and the edit survives a reload', async () => {
    await page.goto(`${server.url}#/datasets/${datasetId}/images/${one}`)
    await expect.poll(() => page.getByTestId('annotation-count').textContent()).toBe('2')
    await page.getByTestId('edit-toggle').click()
    await expect.poll(() => page.getByTestId('edit-toolbar').isVisible()).toBe(true)
    // Class 2 of the dataset (cat), then N and four clicks; Enter closes the polygon.
    await page.keyboard.press('2')
    await page.keyboard.press('n')
    await click(40, 30)
    await click(56.3, 29.8) // snapped to pixel corners
    await click(56, 44)
    await click(40, 44)
    await page.keyboard.press('Enter')
    await expect.poll(() => page.getByTestId('annotation-count').textContent()).toBe('3')
    await expect
      .poll(async () => (await newPolygon())?.segmentation)
      .toEqual({ kind: 'polygon', polygons: [[40, 30, 56, 30, 56, 44, 40, 44]] })
    // The new polygon is selected: drag its third vertex with the mouse.
    await expect.poll(() => page.getByTestId('vertex').count()).toBe(4)
    const [vx, vy] = await at(56, 44)
    await page.mouse.move(vx, vy)
    await page.mouse.down()
    const [tx, ty] = await at(60, 46)
    await page.mouse.move(tx, ty, { steps: 8 })
    await page.mouse.up()
    const dragged = [[40, 30, 56, 30, 60, 46, 40, 44]]
    await expect
      .poll(async () => (await newPolygon())?.segmentation)
      .toEqual({
        kind: 'polygon',
        polygons: dragged,
      })
    expect((await newPolygon())!.bbox).toEqual([40, 30, 20, 16])
    await expect.poll(() => page.getByTestId('edited-mark').count()).toBe(1)

    await page.keyboard.press('Control+z')
    await expect
      .poll(async () => (await newPolygon())?.segmentation)
      .toEqual({ kind: 'polygon', polygons: [[40, 30, 56, 30, 56, 44, 40, 44]] })
    await page.keyboard.press('Control+Shift+z')
    await expect
      .poll(async () => (await newPolygon())?.segmentation)
      .toEqual({
        kind: 'polygon',
        polygons: dragged,
      })

    await page.reload()
    await expect.poll(() => page.getByTestId('annotation-count').textContent()).toBe('3')
    await page.getByTestId('edit-toggle').click()
    // Tab selects annotations in turn; the third is the polygon drawn above, at its dragged shape.
    await expect.poll(() => page.getByTestId('edited-mark').count()).toBe(1)
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab')
    await expect.poll(() => page.getByTestId('vertex').count()).toBe(4)
    const third = page.locator('[data-testid="vertex"][data-index="2"]')
    const [cx, cy] = await at(60, 46)
    const b = (await third.boundingBox())!
    expect(Math.abs(b.x + b.width / 2 - cx)).toBeLessThan(1.5)
    expect(Math.abs(b.y + b.height / 2 - cy)).toBeLessThan(1.5)
    // Delete removes it (one more undo step), Ctrl+Z brings it back.
    await page.keyboard.press('Delete')
    await expect.poll(() => page.getByTestId('annotation-count').textContent()).toBe('2')
    await page.keyboard.press('Control+z')
    await expect.poll(() => page.getByTestId('annotation-count').textContent()).toBe('3')

    // The dataset's ground truth: v1 -> v2 added the polygon; export v2 as COCO JSON.
    await page.goto(`${server.url}#/datasets/${datasetId}`)
    await page.getByLabel('Ground-truth version').selectOption('1')
    await expect
      .poll(() => page.getByTestId('gt-diff').textContent())
      .toMatch('v1 → v2: 1 added, 0 removed, 0 changed')
    await page.getByLabel('Ground-truth version').selectOption('2')
    const out = tempDir()
    await page.locator('input[name="gt-out"]').fill(out)
    await page.getByTestId('export-gt').click()
    await expect
      .poll(() => page.getByTestId('export-message').textContent())
      .toBe(`Wrote v2: 6 annotations to ${path.join(out, 'instances_gt_v2.json')}`)
    const doc = JSON.parse(fs.readFileSync(path.join(out, 'instances_gt_v2.json'), 'utf8')) as {
      annotations: { id: number; segmentation: unknown }[]
    }
    expect(doc.annotations.at(-1)).toMatchObject({
      id: 8,
      segmentation: [[40, 30, 56, 30, 60, 46, 40, 44]],
    })
  })

  it('accepts a prediction of a run as a label', async () => {
    const { model } = await call<{ model: Model }>(server.studio, 'models:add', {
      path: path.join(import.meta.dirname, '../fixtures/onnx/mmdeploy_det'),
    })
    const run = await call<{ id: number }>(server.studio, 'runs:start', {
      modelId: model.id,
      datasetId,
    })
    await server.studio.runs.idle()
    await page.goto(`${server.url}#/datasets/${datasetId}/images/${two}`)
    await page.reload() // a fresh viewer (edit mode off), not the previous image's
    await expect.poll(() => page.getByTestId('annotation-count').textContent()).toBe('3')
    await page.getByTestId('prediction-source').selectOption(`run:${run.id}`)
    await page.getByTestId('edit-toggle').click()
    await expect.poll(() => page.getByTestId('accept-one').count(), { timeout: 10_000 }).toBe(2)
    // The first row is the most confident: the car at [4, 4, 16, 16].
    await page.getByTestId('accept-one').first().click()
    await expect.poll(() => page.getByTestId('annotation-count').textContent()).toBe('4')
    const accepted = (await labels(two)).annotations.at(-1)!
    expect([accepted.categoryId, accepted.bbox, accepted.segmentation.kind]).toEqual([
      3,
      [4, 4, 16, 16],
      'rle',
    ])
    const history = await call<{ items: { source: string }[] }>(server.studio, 'labels:history', {
      imageId: two,
    })
    expect(history.items[0]!.source).toBe('prediction')

    // The accepted mask (the last annotation: Shift+Tab) grows under the brush.
    await page.keyboard.press('Shift+Tab')
    await page.getByTestId('mask-brush').click()
    const [bx, by] = await at(30, 30)
    const [ex, ey] = await at(40, 30)
    await page.mouse.move(bx, by)
    await page.mouse.down()
    await page.mouse.move(ex, ey, { steps: 5 })
    await page.mouse.up()
    await expect
      .poll(async () => (await labels(two)).annotations.at(-1)!.area, { timeout: 10_000 })
      .toBeGreaterThan(accepted.area + 100)
    await page.keyboard.press('Control+z')
    await expect
      .poll(async () => (await labels(two)).annotations.at(-1)!.area, { timeout: 10_000 })
      .toBe(accepted.area)

    // The review queue of an evaluation, worked with the keyboard: D dismisses, A accepts
    // (here: deletes a label no prediction matched), each moving to the next open item.
    const [e] = await call<Evaluation[]>(server.studio, 'evaluations:run', { runId: run.id })
    await page.goto(`${server.url}#/review/${e!.id}`)
    // Two labels no prediction matches: the cat drawn above and image two's other car.
    await expect.poll(() => page.getByTestId('review-item').count(), { timeout: 10_000 }).toBe(2)
    const open = async () => Number(await page.getByTestId('review-open').textContent())
    const n = await open()
    const first = await page.getByTestId('review-current').getAttribute('data-item')
    await page.keyboard.press('d')
    await expect.poll(open).toBe(n - 1)
    await expect
      .poll(() => page.getByTestId('review-current').getAttribute('data-item'))
      .not.toBe(first)
    // Back to the dismissed one and forward again, then accept.
    await page.keyboard.press('k')
    await page.keyboard.press('j')
    await page.keyboard.press('a')
    await expect.poll(open).toBe(n - 2)
    const totals = await call<{ totals: Record<string, number> }>(server.studio, 'review:queue', {
      evaluationId: e!.id,
    })
    expect(totals.totals).toMatchObject({ dismissed: 1, accepted: 1 })

    // The accepted suggestion was an edit after the evaluation: the evaluation says it scored an
    // older version and offers to re-evaluate, which scores the current one.
    const current = (await labels(two)).gtVersion
    expect(current).toBe(e!.gtVersion + 1)
    await page.goto(`${server.url}#/runs`)
    await page.getByTestId('run-row').first().click()
    await expect
      .poll(() => page.getByTestId('gt-outdated').textContent(), { timeout: 10_000 })
      .toBe(`Scored on ground truth v${e!.gtVersion}; the labels are now at v${current}.`)
    await page.getByRole('button', { name: `Re-evaluate on v${current}` }).click()
    await expect
      .poll(() => page.getByTestId('gt-version-note').textContent(), { timeout: 20_000 })
      .toMatch(`Ground truth v${current} (current).`)
  })

  it('pre-fills an image with a model, and paints a Cityscapes label map with the brush', async () => {
    const models = await call<Model[]>(server.studio, 'models:list', {})
    await page.goto(`${server.url}#/datasets/${datasetId}/images/${one}`)
    await page.reload()
    await page.getByTestId('edit-toggle').click()
    const before = (await labels(one)).annotations.length
    await page.getByLabel('Model to label with').selectOption(String(models[0]!.id))
    await page.getByTestId('label-with-model').click()
    // Both detections (0.9 and 0.6) clear the viewer's 0.30 score threshold.
    await expect
      .poll(async () => (await labels(one)).annotations.length, { timeout: 10_000 })
      .toBe(before + 2)
    await page.getByTestId('history-toggle').check()
    await expect.poll(() => page.getByTestId('label-history').textContent()).toMatch(/model/)

    const fx = await makeCityscapesFixture()
    const job = server.studio.jobs.startImport({ kind: 'cityscapes', root: fx.root, split: 'val' })
    const cityId = (await server.studio.jobs.settled(job.id)).datasetId!
    const [frame] = imageIds(server.studio.db, cityId)
    await page.goto(`${server.url}#/datasets/${cityId}/images/${frame}`)
    await page.reload()
    await page.getByTestId('edit-toggle').click()
    await page.getByLabel('Paint class').selectOption({ label: 'sky' })
    const sky = async () =>
      (
        await call<{ classes: { categoryId: number; pixelCount: number }[] }>(
          server.studio,
          'images:get',
          { id: frame },
        )
      ).classes.find((c) => c.categoryId === 23)!.pixelCount
    const skyBefore = await sky()
    // A brush stroke across the road (bottom half of the 64x32 frame), radius 6.
    const [x0, y0] = await at(24, 24)
    const [x1, y1] = await at(40, 24)
    await page.mouse.move(x0, y0)
    await page.mouse.down()
    await page.mouse.move(x1, y1, { steps: 6 })
    await page.mouse.up()
    await expect.poll(sky, { timeout: 10_000 }).toBeGreaterThan(skyBefore + 100)
    expect((await labels(frame!)).editedLabelMap).toBe(true)
    await page.keyboard.press('Control+z')
    await expect.poll(sky, { timeout: 10_000 }).toBe(skyBefore)
  })
})
