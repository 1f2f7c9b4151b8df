/**
 * Attention statistics at scale: 5,000 images x 13 GC blocks (a GC-ResNet-50's c3 x4, c4 x6,
 * c5 x3 with 512/1024/2048 channels) in a temporary store, synthetic maps (a peak at a random
 * place over a noisy floor, stored as the runner stores them: uint8 codes, half-float weights,
 * half-float transform outputs), images of 640 x 480 resized to 512 x 384 (maps of 48 x 64,
 * 24 x 32 and 12 x 16), seven polygon objects per image.
 *
 * Timed: the whole statistics job (reading every map, rasterising the ground truth, per-map
 * statistics, aggregation, writing 65,000 per-image rows), the attention grid of 16 images x 3
 * stages (server side), and the PCA of the 5,000 2048-channel context vectors of a c5 block.
 * Run: npm run bench -- attention.bench   (ATTENTION_BENCH_IMAGES=N, default 5000)
 */
import os from 'node:os'
import { expect, it } from 'vitest'
import { AttentionAnalytics } from '../../src-main/core/attentionAnalytics'
import { computeAttentionStats } from '../../src-main/core/attentionJob'
import { contextSpace } from '../../src-main/core/attentionSpace'
import { seededRandom } from '../../src-main/core/attention/aggregate'
import { toFloat16 } from '../../src-main/core/inference/float16'
import { openStore } from '../../src-main/core/store/store'
import { tempDir } from '../helpers/fixtures'
import { writeReport } from './report'

const IMAGES = Number(process.env.ATTENTION_BENCH_IMAGES ?? 5000)
const blocks = [
  ...[0, 1, 2, 3].map((i) => ({ stage: 'c3', indexInStage: i, channels: 512, stride: 8 })),
  ...[0, 1, 2, 3, 4, 5].map((i) => ({ stage: 'c4', indexInStage: i, channels: 1024, stride: 16 })),
  ...[0, 1, 2].map((i) => ({ stage: 'c5', indexInStage: i, channels: 2048, stride: 32 })),
].map((b, index) => ({
  index,
  stage: b.stage,
  indexInStage: b.indexInStage,
  channels: b.channels,
  hidden: b.channels / 16,
  ratio: 16,
  fusion: ['channel_add'],
  layerNorm: 'LayerNormalization',
  attentionSize: null,
  stride: b.stride,
}))

it('statistics of 5,000 images x 13 blocks', async () => {
  const dir = process.env.ATTENTION_BENCH_DIR ?? tempDir('gcstudio-attbench-')
  const db = openStore(dir)
  const random = seededRandom(11)
  const t0 = performance.now()
  // ATTENTION_BENCH_DIR keeps the generated store: a second run times the same data again.
  const reuse =
    (db.prepare('SELECT count(*) AS n FROM run_images WHERE run_id = 1').get() as { n: number })
      .n === IMAGES
  if (reuse) db.exec('DELETE FROM attention_stats')
  else generate()
  const generateS = (performance.now() - t0) / 1000
  function generate() {
    db.exec(`
    INSERT INTO datasets (id, name, kind, images_root, source, status) VALUES (1, 'bench', 'coco', '/i', '/s', 'ready');
    INSERT INTO categories (dataset_id, id, name, color) VALUES (1, 1, 'a', '[1,2,3]'), (1, 2, 'b', '[4,5,6]'), (1, 3, 'c', '[7,8,9]');
  `)
    db.prepare(
      `INSERT INTO models (id, sha256, name, task, format, path, source, file_size, file_mtime, config, card)
     VALUES (1, 'x', 'GC-R50 r16', 'detection', 'onnx', '/m', '/m', 1, 1, '{}', ?)`,
    ).run(JSON.stringify({ gcBlocks: blocks }))
    db.prepare(
      `INSERT INTO runs (id, model_id, dataset_id, settings, status, images_total, images_done) VALUES (1, 1, 1, '{"taps":true}', 'done', ?, ?)`,
    ).run(IMAGES, IMAGES)
    const geometry = JSON.stringify({
      width: 640,
      height: 480,
      resizedWidth: 512,
      resizedHeight: 384,
      inputWidth: 512,
      inputHeight: 384,
      scaleX: 0.8,
      scaleY: 0.8,
    })
    const image = db.prepare(
      'INSERT INTO images (id, dataset_id, source_id, file_name, width, height) VALUES (?, 1, ?, ?, 640, 480)',
    )
    const ann = db.prepare(
      `INSERT INTO annotations (dataset_id, image_id, source_id, category_id, area, bbox_x, bbox_y, bbox_w, bbox_h, segm_kind, segmentation)
     VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, 'polygon', ?)`,
    )
    const runImage = db.prepare(
      `INSERT INTO run_images (run_id, image_id, status, meta) VALUES (1, ?, 'done', ?)`,
    )
    const map = db.prepare(
      `INSERT INTO attention_maps (run_id, image_id, block_index, height, width, min_value, max_value, data, transform_f16, weights_f16)
     VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    let annId = 0
    const fill = db.transaction((from: number, to: number) => {
      for (let id = from; id < to; id++) {
        image.run(id, id, `${String(id).padStart(12, '0')}.jpg`)
        for (let k = 0; k < 7; k++) {
          const w = 20 + random() * 200
          const h = 20 + random() * 150
          const x = random() * (640 - w)
          const y = random() * (480 - h)
          const poly = [[x, y, x + w, y, x + w * 0.8, y + h, x, y + h * 0.7]]
          ann.run(
            id,
            ++annId,
            1 + Math.floor(random() * 3),
            w * h * 0.8,
            x,
            y,
            w,
            h,
            JSON.stringify(poly),
          )
        }
        runImage.run(id, geometry)
        for (const b of blocks) {
          const mh = 384 / b.stride
          const mw = 512 / b.stride
          const n = mh * mw
          const peak = Math.floor(random() * n)
          const p = new Float64Array(n)
          let sum = 0
          for (let i = 0; i < n; i++) {
            p[i] = (i === peak ? 50 : 0) + random()
            sum += p[i]!
          }
          let min = Infinity
          let max = -Infinity
          for (let i = 0; i < n; i++) {
            p[i] = p[i]! / sum
            min = Math.min(min, p[i]!)
            max = Math.max(max, p[i]!)
          }
          const data = Buffer.from(
            Uint8Array.from(p, (v) => Math.round(((v - min) / (max - min)) * 255)),
          )
          const weights = Uint16Array.from(p, (v) => toFloat16(v * n))
          const transform = Uint16Array.from({ length: b.channels }, () =>
            toFloat16(random() - 0.5),
          )
          map.run(
            id,
            b.index,
            mh,
            mw,
            min,
            max,
            data,
            Buffer.from(transform.buffer),
            Buffer.from(weights.buffer),
          )
        }
      }
    })
    for (let from = 1; from <= IMAGES; from += 500) fill(from, Math.min(IMAGES + 1, from + 500))
  }

  const t1 = performance.now()
  const cpu1 = process.cpuUsage()
  const stats = await computeAttentionStats(
    db,
    1,
    { contextDistance: 32 },
    { signal: new AbortController().signal, progress: () => {} },
  )
  const statsS = (performance.now() - t1) / 1000
  // CPU time as well: on a shared machine the wall time mostly measures the neighbours.
  const c = process.cpuUsage(cpu1)
  const statsCpuS = (c.user + c.system) / 1e6
  expect(stats.blocks).toHaveLength(13)
  expect(stats.blocks[0]!.images).toBe(IMAGES)

  const analytics = new AttentionAnalytics({ db, dataDir: dir })
  const gridMs: number[] = []
  const cpuGrid = process.cpuUsage()
  for (let seed = 1; seed <= 5; seed++) {
    const t = performance.now()
    const grid = analytics.grid([1], { mode: 'random', seed }, 16, 'stages')
    gridMs.push(performance.now() - t)
    expect(grid.rows[0]!.cells.every((c) => c!.maps.length === 3)).toBe(true)
  }
  const g = process.cpuUsage(cpuGrid)
  const gridCpuMs = (g.user + g.system) / 1000 / 5
  const t2 = performance.now()
  const cpuPca = process.cpuUsage()
  const space = contextSpace(db, 1, 12)
  const pcaS = (performance.now() - t2) / 1000
  const pc = process.cpuUsage(cpuPca)
  const pcaCpuS = (pc.user + pc.system) / 1e6
  expect(space.points).toHaveLength(IMAGES)
  db.close()
  writeReport('attention', {
    images: IMAGES,
    blocks: 13,
    mapSizes: ['48x64 (c3)', '24x32 (c4)', '12x16 (c5)'],
    generateSeconds: Math.round(generateS * 10) / 10,
    statisticsSeconds: Math.round(statsS * 100) / 100,
    statisticsCpuSeconds: Math.round(statsCpuS * 100) / 100,
    loadAverage: os.loadavg()[0],
    mapsPerSecond: Math.round((IMAGES * 13) / statsS),
    grid16x3MedianMs: Math.round([...gridMs].sort((a, b) => a - b)[2]! * 10) / 10,
    grid16x3CpuMs: Math.round(gridCpuMs * 10) / 10,
    pcaC5Seconds: Math.round(pcaS * 100) / 100,
    pcaC5CpuSeconds: Math.round(pcaCpuS * 100) / 100,
  })
})
