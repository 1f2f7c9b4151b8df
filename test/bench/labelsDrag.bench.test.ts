/**
 * Dragging a vertex of a 500-point polygon on a 2048x1024 image in Chromium: the frame times
 * while the mouse moves (the editing layer redraws the polygon and its handles on every move),
 * and the time from release until the saved shape is back from the store.
 * Run: npm run bench -- labelsDrag
 */
import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { expect, it } from 'vitest'
import type { LabelImageState } from '../../src-main/common/api/labels'
import { startServer } from '../../src-main/hosts/server/serve'
import { launchChromium, studioPage } from '../helpers/browser'
import { tempDir } from '../helpers/fixtures'
import { percentile, writeReport } from './report'

it('drags a vertex of a 500-point polygon at display rate', async () => {
  const dir = tempDir()
  fs.mkdirSync(path.join(dir, 'images'))
  await sharp({ create: { width: 2048, height: 1024, channels: 3, background: '#777' } })
    .jpeg()
    .toFile(path.join(dir, 'images', 'big.jpg'))
  const p: number[] = []
  for (let i = 0; i < 500; i++) {
    const a = (i / 500) * 2 * Math.PI
    p.push(Math.round(1024 + 400 * Math.cos(a)), Math.round(512 + 400 * Math.sin(a)))
  }
  fs.writeFileSync(
    path.join(dir, 'gt.json'),
    JSON.stringify({
      images: [{ id: 1, file_name: 'big.jpg', width: 2048, height: 1024 }],
      annotations: [
        {
          id: 1,
          image_id: 1,
          category_id: 1,
          iscrowd: 0,
          area: 1,
          bbox: [624, 112, 800, 800],
          segmentation: [p],
        },
      ],
      categories: [{ id: 1, name: 'thing' }],
    }),
  )
  const server = await startServer({ dataDir: tempDir(), importDemo: false })
  const browser = await launchChromium()
  try {
    const job = server.studio.jobs.startImport({
      kind: 'coco',
      annotations: path.join(dir, 'gt.json'),
      images: path.join(dir, 'images'),
    })
    const datasetId = (await server.studio.jobs.settled(job.id)).datasetId!
    const imageId = (
      server.studio.db.prepare('SELECT id FROM images WHERE dataset_id = ?').get(datasetId) as {
        id: number
      }
    ).id
    const page = await studioPage(browser)
    await page.goto(`${server.url}#/datasets/${datasetId}/images/${imageId}`)
    await page.getByTestId('edit-toggle').click()
    await page.keyboard.press('Tab')
    await expect.poll(() => page.getByTestId('vertex').count(), { timeout: 10_000 }).toBe(500)
    const layer = page.getByTestId('edit-layer')
    const box = (await layer.boundingBox())!
    const s = Number(await layer.getAttribute('data-scale'))
    const ox = Number(await layer.getAttribute('data-offset-x'))
    const oy = Number(await layer.getAttribute('data-offset-y'))
    const at = (x: number, y: number) => [box.x + ox + x * s, box.y + oy + y * s] as const
    const [vx, vy] = at(p[0]!, p[1]!)
    await page.mouse.move(vx, vy)
    await page.mouse.down()
    const collecting = page.evaluate(
      () =>
        new Promise<number[]>((resolve) => {
          const raf = (
            globalThis as unknown as { requestAnimationFrame(cb: (t: number) => void): void }
          ).requestAnimationFrame.bind(globalThis)
          const out: number[] = []
          let last = performance.now()
          const end = last + 3000
          const tick = (t: number) => {
            out.push(t - last)
            last = t
            if (t < end) raf(tick)
            else resolve(out)
          }
          raf(tick)
        }),
    )
    const moves = 180
    const started = Date.now()
    for (let i = 1; i <= moves; i++) {
      const [x, y] = at(p[0]! + 150 * Math.sin(i / 20), p[1]! + 100 * Math.sin(i / 13))
      await page.mouse.move(x, y)
    }
    const moveSeconds = (Date.now() - started) / 1000
    const frames = await collecting
    const released = Date.now()
    await page.mouse.up()
    const moved = at(p[0]! + 150 * Math.sin(moves / 20), p[1]! + 100 * Math.sin(moves / 13))
    expect(moved[0]).toBeGreaterThan(0)
    await expect
      .poll(
        async () => {
          const r = await server.studio.dispatch('labels:image', { imageId })
          return (r as { value: LabelImageState }).value.annotations[0]!.revision
        },
        { timeout: 10_000, interval: 5 },
      )
      .toBeGreaterThan(0)
    const saveRoundTripMs = Date.now() - released
    writeReport('labelsDrag', {
      polygonPoints: 500,
      image: '2048x1024',
      mouseMoves: moves,
      mouseMovesPerSecond: Number((moves / moveSeconds).toFixed(1)),
      frames: frames.length,
      p50FrameMs: Number(percentile(frames, 50).toFixed(1)),
      p95FrameMs: Number(percentile(frames, 95).toFixed(1)),
      maxFrameMs: Number(Math.max(...frames).toFixed(1)),
      over50ms: frames.filter((f) => f > 50).length,
      releaseToSavedMs: saveRoundTripMs,
    })
  } finally {
    await browser.close()
    await server.close()
  }
})
