// Reports end to end on the demo zoo: the three detectors run over the first images of the demo
// COCO set (r4 with its attention taps), are evaluated in the studio, and reported through the
// CLI. Every number the report prints is read back (the HTML's tables, pdftotext on the PDF)
// and must equal the stored evaluation or comparison it came from; the HTML loads in Chromium
// with the network blocked without a single request and draws its charts; the LaTeX table
// compiles; figures have the requested size; bad output paths fail with a message and no file.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EvaluationDetail, Model } from '../../../src-main/common/api'
import type { ComparisonDetail } from '../../../src-main/common/api/compare'
import { parseCocoMetrics } from '../../../src-main/common/api/evaluationViews'
import type { ReportListItem } from '../../../src-main/common/api/reports'
import { main } from '../../../src-main/cli/index'
import { deltaPts, intervalPts, pts } from '../../../src-main/core/reports/format'
import { latestEvaluations } from '../../../src-main/core/reports/gather'
import { Studio } from '../../../src-main/core/studio'
import { haveChromium, launchChromium } from '../../helpers/browser'
import { tempDir } from '../../helpers/fixtures'

const LIMIT = 24
let studio: Studio
let dataDir: string
let out: string
const runs: Record<string, number> = {}

async function call<T>(method: string, input: unknown): Promise<T> {
  const r = await studio.dispatch(method, input)
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r.value as T
}

async function cli(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] }
  stdout.on('data', (c: Buffer) => chunks.out.push(c))
  stderr.on('data', (c: Buffer) => chunks.err.push(c))
  const code = await main([...argv, '--data-dir', dataDir], {
    stdout,
    stderr,
    env,
    cwd: out,
    signal: new AbortController().signal,
  })
  return {
    code,
    stdout: Buffer.concat(chunks.out).toString(),
    stderr: Buffer.concat(chunks.err).toString(),
  }
}

/** The text of each row of a table in the HTML (by its data-testid), cells trimmed. */
function tableRows(html: string, testId: string): string[][] {
  const m = new RegExp(`<table data-testid="${testId}">(.*?)</table>`, 's').exec(html)
  if (!m) throw new Error(`no table ${testId}`)
  const body = m[1]!.split('<tbody>')[1]!
  return [...body.matchAll(/<tr[^>]*>(.*?)<\/tr>/gs)].map((r) =>
    [...r[1]!.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/gs)].map((c) =>
      c[1]!.replace(/<[^>]+>/g, '').trim(),
    ),
  )
}

const dash = (s: string | null) => s ?? '–'

beforeAll(async () => {
  dataDir = tempDir()
  out = tempDir()
  studio = Studio.open({ dataDir, host: 'browser' })
  await studio.ensureDemoDatasets()
  studio.ensureDemoModels()
  const coco = (await call<{ id: number; kind: string }[]>('datasets:list', {})).find(
    (d) => d.kind === 'coco',
  )!
  const models = await call<Model[]>('models:list', {})
  for (const name of ['mask-rcnn-baseline', 'mask-rcnn-gc-r16', 'mask-rcnn-gc-r4']) {
    const model = models.find((m) => m.name === name || m.name.startsWith(`${name} (`))!
    const run = await call<{ id: number }>('runs:start', {
      modelId: model.id,
      datasetId: coco.id,
      taps: name === 'mask-rcnn-gc-r4',
      limit: LIMIT,
    })
    runs[name] = run.id
  }
  await studio.runs.idle()
  for (const id of Object.values(runs)) await call('evaluations:run', { runId: id })
}, 300_000)
afterAll(async () => studio?.close())

describe('run report', () => {
  let html: string
  let evals: EvaluationDetail[]

  beforeAll(async () => {
    const r = await cli(['report', '--run', String(runs['mask-rcnn-gc-r4']), '--out', 'run.html'])
    expect(r.stderr + r.stdout).toMatch(/Wrote .*run\.html/)
    expect(r.code).toBe(0)
    html = fs.readFileSync(path.join(out, 'run.html'), 'utf8')
    evals = latestEvaluations(studio, runs['mask-rcnn-gc-r4']!)
  }, 120_000)

  it('prints the twelve COCO numbers of each stored evaluation, and the published row apart', () => {
    const rows = tableRows(html, 'metrics')
    for (const e of evals) {
      const stats = parseCocoMetrics(e.metrics).stats!
      const row = rows.find((r) => r[0]!.includes(`evaluation ${e.id}`))!
      expect(row.slice(1)).toEqual(stats.map((v) => dash(pts(v))))
    }
    expect(rows.some((r) => r[0]!.includes('R-50 GC r4 (published)') && r[1] === '40.7')).toBe(true)
  })

  it('prints every per-category number as stored', () => {
    for (const e of evals) {
      const rows = tableRows(html, `categories-${e.kind}`)
      expect(rows).toHaveLength(e.categories.length)
      e.categories.forEach((c, i) => {
        expect(rows[i]).toEqual([
          String(c.name),
          ...(['ap', 'ap50', 'ap75', 'apSmall', 'apMedium', 'apLarge'] as const).map((k) =>
            dash(pts(c[k] as number | null)),
          ),
          String(c.groundTruth),
          String(c.detections),
        ])
      })
    }
  })

  it('holds the model card, settings, TIDE, PR curves, confusion and worst images', () => {
    const model = studio.runs.get(runs['mask-rcnn-gc-r4']!)
    expect(html).toContain(`Run ${model.id}: ${model.modelName}`)
    expect(html).toMatch(/c3: \d+ blocks? r4/)
    expect(html).toContain('onnxruntime-node')
    expect(html).toContain('data-figure="pr-curves-box"')
    expect(html).toContain('data-figure="confusion-box"')
    const tide = parseCocoMetrics(evals[0]!.metrics).errors
    if (tide) expect(tableRows(html, 'tide')[0]![1]).toBe(tide.ap50.toFixed(2))
    const worst = /<section id="worst">(.*?)<\/section>/s.exec(html)![1]!
    expect([...worst.matchAll(/<img src="data:image\/jpeg;base64,/g)]).toHaveLength(8)
    // r4 ran with its taps: the attention grid (an image, then its c3, c4, c5 maps) is there.
    expect(html).toContain('grid-template-columns: repeat(4, 1fr)')
  })

  it('makes no network request and draws its charts in Chromium', async (t) => {
    if (!haveChromium()) return t.skip('Chromium (/usr/bin/chromium) is not installed')
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//)
    const browser = await launchChromium()
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } })
      const requests: string[] = []
      await page.route('**/*', (route) => {
        if (route.request().url().startsWith('file:')) return route.continue()
        requests.push(route.request().url())
        return route.abort()
      })
      await page.goto(`file://${path.join(out, 'run.html')}`)
      expect(requests).toEqual([])
      const chart = page.locator('[data-figure="pr-curves-box"] svg')
      const png = await chart.screenshot()
      const { data, info } = await sharp(png)
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true })
      // The first series' colour (#0072b2) is drawn: the curves are there, not an empty box.
      let blue = 0
      for (let i = 0; i < info.width * info.height * 3; i += 3)
        if (
          Math.abs(data[i]! - 0) < 40 &&
          Math.abs(data[i + 1]! - 114) < 40 &&
          Math.abs(data[i + 2]! - 178) < 40
        )
          blue++
      expect(blue).toBeGreaterThan(200)
      const loaded = await page.$$eval('img', (imgs) =>
        imgs.every((i) => (i as unknown as { naturalWidth: number }).naturalWidth > 0),
      )
      expect(loaded).toBe(true)
    } finally {
      await browser.close()
    }
  }, 60_000)

  it('prints to a PDF whose text holds the same numbers', async (t) => {
    if (!haveChromium()) return t.skip('Chromium (/usr/bin/chromium) is not installed')
    if (!fs.existsSync('/usr/bin/pdftotext'))
      return t.skip('pdftotext is not installed (apt-get install poppler-utils)')
    const r = await cli(['report', '--run', String(runs['mask-rcnn-gc-r4']), '--out', 'run.pdf'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/printed by (Chromium|Electron) at \//)
    const text = execFileSync('pdftotext', ['-layout', path.join(out, 'run.pdf'), '-']).toString()
    for (const e of evals) {
      const stats = parseCocoMetrics(e.metrics).stats!.map((v) => dash(pts(v)))
      const line = text.split('\n').find((l) => l.includes(`evaluation ${e.id})`) && /\d/.test(l))!
      expect(
        line
          .trim()
          .split(/\s{2,}/)
          .slice(1),
      ).toEqual(stats)
    }
    // Charts stay vector: their labels are text in the PDF.
    expect(text).toContain('Precision-recall, box')
  }, 120_000)
})

describe('Cityscapes run report', () => {
  it('prints mIoU, iIoU and the per-class IoU as stored', async () => {
    const city = (await call<{ id: number; kind: string }[]>('datasets:list', {})).find(
      (d) => d.kind === 'cityscapes',
    )!
    const model = (await call<Model[]>('models:list', {})).find((m) =>
      m.name.startsWith('gc-head'),
    )!
    const run = await call<{ id: number }>('runs:start', {
      modelId: model.id,
      datasetId: city.id,
      taps: false,
      limit: 4,
    })
    await studio.runs.idle()
    await call('evaluations:run', { runId: run.id })
    const r = await cli(['report', '--run', String(run.id), '--out', 'city.html', '--images', '2'])
    expect(r.code, r.stderr).toBe(0)
    const html = fs.readFileSync(path.join(out, 'city.html'), 'utf8')
    const e = latestEvaluations(studio, run.id)[0]!
    const m = e.metrics as Record<string, number | null>
    expect(tableRows(html, 'metrics')[0]).toEqual([
      `Cityscapes (evaluation ${e.id})`,
      ...[m.mIoU, m.iIoU, m.categoryMIoU, m.categoryIIoU].map((v) => dash(pts(v))),
    ])
    expect(tableRows(html, 'categories-cityscapes')).toEqual(
      e.categories.map((c) => [
        String(c.name),
        dash(pts(c.iou as number | null)),
        dash(pts(c.iiou as number | null)),
      ]),
    )
    expect(html).toContain('data-figure="confusion-cityscapes"')
    expect(html).toContain('GC head (published, R-101)')
  }, 120_000)
})

describe('comparison report and exports', () => {
  let html: string
  let detail: ComparisonDetail
  const ids = () =>
    [runs['mask-rcnn-baseline'], runs['mask-rcnn-gc-r16'], runs['mask-rcnn-gc-r4']].join(',')

  beforeAll(async () => {
    const r = await cli([
      'report',
      '--compare',
      ids(),
      '--out',
      'compare.html',
      '--title',
      'r4 vs r16 vs baseline',
    ])
    expect(r.code, r.stderr).toBe(0)
    html = fs.readFileSync(path.join(out, 'compare.html'), 'utf8')
    const c = studio.comparisons.list()[0]!
    detail = studio.comparisons.get(c.id)
  }, 180_000)

  it('prints each run, its deltas and bootstrap interval as the comparison stored them', () => {
    expect(html).toContain('<h1>r4 vs r16 vs baseline</h1>')
    const rows = tableRows(html, 'metrics')
    const s = detail.summary!
    s.runs.forEach((r, i) => {
      const row = rows[i]!
      expect(row.slice(1, 7)).toEqual(r.stats!.slice(0, 6).map((v) => dash(pts(v))))
      if (i > 0) {
        const v = s.vsReference.find((d) => d.runId === r.runId)!
        expect(row.slice(7, 11)).toEqual([
          dash(deltaPts(v.delta)),
          dash(intervalPts(v.ci95)),
          String(v.fixed),
          String(v.broken),
        ])
      }
    })
    const cats = tableRows(html, 'categories')
    expect(cats).toHaveLength(s.categories.length)
    expect(cats[0]!.slice(1, 1 + s.runs.length)).toEqual(
      s.categories[0]!.values.map((v) => dash(pts(v))),
    )
    expect(html).toContain('data-figure="pr-curves-compare"')
    expect(html).toContain('Fixed and broken')
  })

  it('exports a booktabs LaTeX table that compiles, with the best value per column in bold', async (t) => {
    const r = await cli([
      'export-table',
      '--compare',
      ids(),
      '--format',
      'latex',
      '--deltas',
      '--out',
      'table.tex',
    ])
    expect(r.code, r.stderr).toBe(0)
    const tex = fs.readFileSync(path.join(out, 'table.tex'), 'utf8')
    // Structure: booktabs rules, one row per run with as many cells as the header.
    const lines = tex.split('\n')
    const header = lines.find((l) => l.startsWith('Model &'))!
    const body = lines.slice(lines.indexOf('\\midrule') + 1, lines.indexOf('\\bottomrule'))
    expect(['\\toprule', '\\midrule', '\\bottomrule'].every((x) => lines.includes(x))).toBe(true)
    expect(body).toHaveLength(3)
    for (const row of body) expect(row.split(' & ').length).toBe(header.split(' & ').length)
    const s = detail.summary!
    const bestAp = Math.max(...s.runs.map((r) => r.stats![0]!))
    const bestRow = body[s.runs.findIndex((r) => r.stats![0] === bestAp)]!
    expect(bestRow.split(' & ')[1]).toBe(`\\textbf{${pts(bestAp)}}`)
    if (!fs.existsSync('/usr/bin/pdflatex'))
      return t.skip(
        'pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended): structure checked only',
      )
    const docDir = tempDir()
    fs.writeFileSync(
      path.join(docDir, 'doc.tex'),
      `\\documentclass{article}\\usepackage{booktabs}\\begin{document}\\input{${path.join(out, 'table.tex')}}\\end{document}\n`,
    )
    execFileSync('pdflatex', ['-interaction=nonstopmode', '-halt-on-error', 'doc.tex'], {
      cwd: docDir,
    })
    expect(fs.statSync(path.join(docDir, 'doc.pdf')).size).toBeGreaterThan(1000)
    if (fs.existsSync('/usr/bin/pdftotext'))
      expect(execFileSync('pdftotext', [path.join(docDir, 'doc.pdf'), '-']).toString()).toContain(
        pts(bestAp)!,
      )
  }, 120_000)

  it('exports CSV and markdown tables and per-category / per-image CSVs', async () => {
    const csv = await cli(['export-table', '--compare', ids(), '--format', 'csv'])
    expect(csv.stdout.split('\n')[0]).toBe('model,AP,AP50,AP75,APs,APm,APl,params,FLOPs')
    const md = await cli(['export-table', '--compare', ids(), '--format', 'markdown'])
    expect(md.stdout).toMatch(/\| \*\*\d+\.\d\*\* \|/)
    const cats = await cli(['export-table', '--compare', ids(), '--per', 'category'])
    expect(cats.stdout.trim().split('\n')).toHaveLength(1 + detail.summary!.categories.length)
    const imgs = await cli(['export-table', '--compare', ids(), '--per', 'image'])
    expect(imgs.stdout.trim().split('\n')).toHaveLength(1 + 3 * LIMIT)
  }, 60_000)

  it('exports figures as SVG and PNG of the requested size, with telling names', async () => {
    const r = await cli(['export-figures', '--compare', ids(), '--out', 'figures', '--dpi', '150'])
    expect(r.code, r.stderr).toBe(0)
    const files = fs.readdirSync(path.join(out, 'figures')).sort()
    expect(files).toContain('pr-curves-compare.svg')
    expect(files).toContain('pr-curves-compare@150dpi.png')
    expect(files).toContain('attention-grid.svg')
    for (const f of files.filter((x) => x.endsWith('.svg'))) {
      const svg = fs.readFileSync(path.join(out, 'figures', f), 'utf8')
      const width = Number(/<svg[^>]*\swidth="([\d.]+)"/.exec(svg)![1])
      const height = Number(/<svg[^>]*\sheight="([\d.]+)"/.exec(svg)![1])
      const meta = await sharp(
        path.join(out, 'figures', f.replace('.svg', '@150dpi.png')),
      ).metadata()
      expect([meta.format, meta.width, meta.height]).toEqual([
        'png',
        Math.round((width * 150) / 96),
        Math.round((height * 150) / 96),
      ])
      expect((await sharp(Buffer.from(svg)).metadata()).format).toBe('svg')
    }
  }, 120_000)
})

describe('attention report', () => {
  it('holds the per-stage statistics and the attention grid', async () => {
    const r = await cli([
      'report',
      '--attention',
      String(runs['mask-rcnn-gc-r4']),
      '--out',
      'attention.html',
    ])
    expect(r.code, r.stderr).toBe(0)
    const html = fs.readFileSync(path.join(out, 'attention.html'), 'utf8')
    const stats = studio.attention.stats(runs['mask-rcnn-gc-r4']!)!
    const rows = tableRows(html, 'attention-stages')
    const stages = Object.values(stats.stages)
    expect(rows.map((r) => [r[0], r[3]])).toEqual(
      stages.map((s) => [s.stage, s.entropy.mean.toFixed(3)]),
    )
    expect([...html.matchAll(/<img src="data:image\/jpeg;base64,/g)].length).toBeGreaterThan(4)
  }, 120_000)
})

describe('jobs, the list and bad output', () => {
  it('runs as a job, lists the report and serves it by id', async () => {
    const { jobId } = await call<{ jobId: string }>('reports:create', {
      target: { kind: 'run', runId: runs['mask-rcnn-baseline'] },
      format: 'html',
    })
    await expect
      .poll(() => studio.jobs.list().find((j) => j.id === jobId)?.state, { timeout: 60_000 })
      .toBe('done')
    const list = await call<ReportListItem[]>('reports:list', {})
    const made = list.find(
      (r) => r.target.kind === 'run' && r.target.runId === runs['mask-rcnn-baseline'],
    )!
    expect(made.exists).toBe(true)
    expect(made.path.startsWith(path.join(dataDir, 'reports'))).toBe(true)
    const media = await studio.media.get('report', made.id)
    expect(media.contentType).toMatch(/text\/html/)
    expect(media.body.toString()).toContain('<h2>Metrics</h2>')
  }, 90_000)

  it('says when a folder is not writable and leaves no file', async () => {
    const r = await cli([
      'report',
      '--run',
      String(runs['mask-rcnn-gc-r4']),
      '--out',
      '/sys/kernel/report.html',
    ])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /Cannot write \/sys\/kernel\/report\.html: \/sys\/kernel is not writable/,
    )
    expect(fs.existsSync('/sys/kernel/report.html')).toBe(false)
  }, 60_000)

  it('says how to get a Chromium when there is none, and that HTML works', async () => {
    // Set and empty: use no Chromium at all (the lookup reads the process environment).
    const before = process.env.GCSTUDIO_CHROMIUM
    process.env.GCSTUDIO_CHROMIUM = ''
    let r
    try {
      r = await cli(['report', '--run', String(runs['mask-rcnn-gc-r4']), '--out', 'none.pdf'])
    } finally {
      if (before === undefined) delete process.env.GCSTUDIO_CHROMIUM
      else process.env.GCSTUDIO_CHROMIUM = before
    }
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/No Chromium was found.*apt-get install chromium.*HTML report works/)
    expect(fs.readdirSync(out).filter((f) => f.includes('none'))).toEqual([])
  }, 60_000)

  it('refuses a comparison whose run was deleted, saying so', async () => {
    const ids = [runs['mask-rcnn-baseline']!, runs['mask-rcnn-gc-r16']!]
    const c = await studio.comparisons.create({ runIds: ids })
    await call('runs:delete', { id: runs['mask-rcnn-gc-r16'] })
    const r = await cli(['report', '--compare', ids.join(','), '--out', 'gone.html'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      new RegExp(`gcstudio report: .*(Comparison ${c.id}|run ${ids[1]})`, 'i'),
    )
    expect(fs.existsSync(path.join(out, 'gone.html'))).toBe(false)
  }, 120_000)
})
