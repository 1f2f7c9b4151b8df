// A comparison report of three demo runs (baseline, GC r16, GC r4) over 24 images, with every
// chart it can hold (metrics, per category, PR curves, TIDE, confusion, fixed/broken strips of
// up to 24 images per run, attention statistics of the GC runs): time to HTML, time to PDF
// (Chromium headless), and the HTML's size. Targets: HTML < 10 s, PDF < 20 s, HTML < 10 MB.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Model } from '../../src-main/common/api'
import { comparisonFor } from '../../src-main/core/reports/gather'
import { findPrinters } from '../../src-main/core/reports/pdf'
import { Studio } from '../../src-main/core/studio'
import { tempDir } from '../helpers/fixtures'
import { writeReport } from './report'

const IMAGES = 24
let studio: Studio
const runIds: number[] = []

beforeAll(async () => {
  studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
  await studio.ensureDemoDatasets()
  studio.ensureDemoModels()
  const coco = (await studio.dispatch('datasets:list', {})) as {
    ok: true
    value: { id: number; kind: string }[]
  }
  const models = (await studio.dispatch('models:list', {})) as { ok: true; value: Model[] }
  for (const name of ['mask-rcnn-baseline', 'mask-rcnn-gc-r16', 'mask-rcnn-gc-r4']) {
    const model = models.value.find((m) => m.name === name || m.name.startsWith(`${name} (`))!
    const run = (await studio.dispatch('runs:start', {
      modelId: model.id,
      datasetId: coco.value.find((d) => d.kind === 'coco')!.id,
      limit: IMAGES,
      taps: true,
    })) as { ok: true; value: { id: number } }
    runIds.push(run.value.id)
  }
  await studio.runs.idle()
  for (const id of runIds) await studio.evaluations.evaluate(id)
  for (const id of runIds.slice(1)) await studio.attention.compute(id)
}, 600_000)
afterAll(async () => studio?.close())

it('comparison report of three runs, 24 images, every chart', async () => {
  const out = tempDir()
  let t = performance.now()
  const comparisonId = await comparisonFor(studio, runIds, {})
  const compareSeconds = (performance.now() - t) / 1000
  const target = { kind: 'comparison' as const, comparisonId }
  const ctx = { stripSize: IMAGES }
  t = performance.now()
  const html = await studio.reports.write(target, path.join(out, 'report.html'), { ctx })
  const htmlSeconds = (performance.now() - t) / 1000
  const printer = findPrinters()[0]
  let pdfSeconds: number | null = null
  let pdfBytes: number | null = null
  if (printer) {
    t = performance.now()
    const pdf = await studio.reports.write(target, path.join(out, 'report.pdf'), { ctx })
    pdfSeconds = (performance.now() - t) / 1000
    pdfBytes = pdf.bytes
  }
  const text = fs.readFileSync(html.path, 'utf8')
  const results = {
    runs: runIds.length,
    images: IMAGES,
    embeddedImages: [...text.matchAll(/<img /g)].length,
    charts: [...text.matchAll(/<figure class="chart"/g)].length,
    comparisonSeconds: Number(compareSeconds.toFixed(2)),
    htmlSeconds: Number(htmlSeconds.toFixed(2)),
    htmlMB: Number((html.bytes / 1e6).toFixed(2)),
    pdfSeconds: pdfSeconds === null ? null : Number(pdfSeconds.toFixed(2)),
    pdfMB: pdfBytes === null ? null : Number((pdfBytes / 1e6).toFixed(2)),
    printer: printer ? printer.path : 'none found',
  }
  writeReport('reports', results)
  expect(html.bytes).toBeLessThan(10e6)
})
