/**
 * Paper-ready exports: the comparison as a LaTeX (booktabs), CSV or markdown table, per-category
 * and per-image CSVs, and the report's figures as SVG and PNG at a chosen DPI. The tables are
 * pure functions of a `PaperTable`, the figures come from the same document the report renders.
 */
import path from 'node:path'
import sharp from 'sharp'
import type { ComparisonDetail } from '../../common/api/compare'
import type { EvaluationDetail } from '../../common/api'
import { AppError } from '../../common/errors'
import type { Studio } from '../studio'
import { deltaPts, intervalPts, magnitude, pts, slug } from './format'
import { attentionGridBlock, gatherReport, latestEvaluations, type ReportTarget } from './gather'
import type { FigureBlock } from './html'
import { ensureFolder, writeFileAtomically } from './output'
import { esc } from './svg'

export interface PaperColumn {
  name: string
  /** LaTeX header (math subscripts). */
  latex: string
  /** Which value is best, for bold; none for deltas and intervals. */
  best: 'max' | 'min' | null
}

export interface PaperTable {
  caption: string
  columns: PaperColumn[]
  /** First cell: the row's name; then the raw numbers (for "best") beside their text. */
  rows: { name: string; cells: { text: string | null; value: number | null }[] }[]
}

const AP = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'] as const
const AP_LATEX: Record<(typeof AP)[number], string> = {
  AP: 'AP',
  AP50: 'AP$_{50}$',
  AP75: 'AP$_{75}$',
  APs: 'AP$_S$',
  APm: 'AP$_M$',
  APl: 'AP$_L$',
}

/** The comparison's headline table: AP, AP50, AP75, APs/m/l, params, FLOPs (+ deltas). */
export function comparisonTable(detail: ComparisonDetail, deltas: boolean): PaperTable {
  const s = detail.summary
  if (!s) throw new AppError('CONFLICT', `Comparison ${detail.id} has no results.`)
  if (s.kind !== 'coco')
    return {
      caption: `Cityscapes mIoU and iIoU on ${detail.datasetName} (points)`,
      columns: [
        { name: 'mIoU', latex: 'mIoU', best: 'max' },
        { name: 'iIoU', latex: 'iIoU', best: 'max' },
        { name: 'params', latex: 'Params', best: 'min' },
        { name: 'FLOPs', latex: 'FLOPs', best: 'min' },
        ...(deltas
          ? [
              { name: 'ΔmIoU', latex: '$\\Delta$mIoU', best: null },
              { name: '95% CI', latex: '95\\% CI', best: null },
            ]
          : []),
      ],
      rows: s.runs.map((r, i) => {
        const v = s.vsReference.find((d) => d.runId === r.runId)
        return {
          name: r.modelName,
          cells: [
            { text: pts(r.mIoU), value: r.mIoU },
            { text: pts(r.iIoU), value: r.iIoU },
            { text: magnitude(r.params), value: r.params },
            { text: magnitude(r.flops), value: r.flops },
            ...(deltas
              ? [
                  { text: i === 0 ? '--' : deltaPts(v?.delta), value: null },
                  { text: i === 0 ? '--' : intervalPts(v?.ci95), value: null },
                ]
              : []),
          ],
        }
      }),
    }
  const kind = s.iouType === 'segm' ? 'mask' : 'box'
  return {
    caption: `${kind} AP on ${detail.datasetName} (${s.imageCount} images, points)${deltas ? `; Δ against ${s.runs[0]!.modelName} with a paired bootstrap 95% interval` : ''}`,
    columns: [
      ...AP.map((a) => ({ name: a, latex: AP_LATEX[a], best: 'max' as const })),
      { name: 'params', latex: 'Params', best: 'min' },
      { name: 'FLOPs', latex: 'FLOPs', best: 'min' },
      ...(deltas
        ? [
            { name: 'ΔAP', latex: '$\\Delta$AP', best: null },
            { name: '95% CI', latex: '95\\% CI', best: null },
          ]
        : []),
    ],
    rows: s.runs.map((r, i) => {
      const v = s.vsReference.find((d) => d.runId === r.runId)
      const stat = (k: number) => {
        const x = r.stats?.[k]
        return x === undefined || x < 0 ? null : x
      }
      return {
        name: r.modelName,
        cells: [
          ...AP.map((_, k) => ({ text: pts(stat(k)), value: stat(k) })),
          { text: magnitude(r.params), value: r.params },
          { text: magnitude(r.flops), value: r.flops },
          ...(deltas
            ? [
                { text: i === 0 ? '--' : deltaPts(v?.delta), value: null },
                { text: i === 0 ? '--' : intervalPts(v?.ci95), value: null },
              ]
            : []),
        ],
      }
    }),
  }
}

/** Per column, the rows holding the best value (ties all bold). */
function bestRows(t: PaperTable): Set<string> {
  const out = new Set<string>()
  t.columns.forEach((c, j) => {
    if (!c.best) return
    const values = t.rows.map((r) => r.cells[j]!.value).filter((v): v is number => v !== null)
    if (values.length < 2) return
    const best = c.best === 'max' ? Math.max(...values) : Math.min(...values)
    // Compare as printed: 40.43 and 40.44 both print 40.4 and are equally best on paper.
    const bestText = t.rows.find((r) => r.cells[j]!.value === best)!.cells[j]!.text
    t.rows.forEach((r, i) => {
      if (r.cells[j]!.text === bestText) out.add(`${i}:${j}`)
    })
  })
  return out
}

const latexEscape = (s: string): string =>
  s
    .replace(/[\\&%$#_{}~^]/g, (c) =>
      c === '\\'
        ? '\\textbackslash{}'
        : c === '~'
          ? '\\textasciitilde{}'
          : c === '^'
            ? '\\textasciicircum{}'
            : `\\${c}`,
    )
    .replace(/Δ/g, '$\\Delta$')
    .replace(/×/g, '$\\times$')

/** A booktabs table, best per column in bold; needs `\usepackage{booktabs}`. */
export function toLatex(t: PaperTable, label = 'tab:gcstudio'): string {
  const bold = bestRows(t)
  const lines = [
    '% Made by GC Studio. Needs \\usepackage{booktabs}.',
    '\\begin{table}[t]',
    '\\centering',
    `\\caption{${latexEscape(t.caption)}}`,
    `\\label{${label}}`,
    `\\begin{tabular}{l${'r'.repeat(t.columns.length)}}`,
    '\\toprule',
    `Model & ${t.columns.map((c) => c.latex).join(' & ')} \\\\`,
    '\\midrule',
    ...t.rows.map(
      (r, i) =>
        `${latexEscape(r.name)} & ${r.cells
          .map((c, j) => {
            const text = c.text === null ? '--' : latexEscape(c.text).replace(/\\--/g, '--')
            return bold.has(`${i}:${j}`) ? `\\textbf{${text}}` : text
          })
          .join(' & ')} \\\\`,
    ),
    '\\bottomrule',
    '\\end{tabular}',
    '\\end{table}',
    '',
  ]
  return lines.join('\n')
}

const csvCell = (s: string | number | null): string => {
  if (s === null) return ''
  const t = String(s)
  return /[",\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t
}
export const toCsvLines = (rows: (string | number | null)[][]): string =>
  rows.map((r) => r.map(csvCell).join(',')).join('\n') + '\n'

export function toCsv(t: PaperTable): string {
  return toCsvLines([
    ['model', ...t.columns.map((c) => c.name)],
    ...t.rows.map((r) => [r.name, ...r.cells.map((c) => c.text)]),
  ])
}

export function toMarkdown(t: PaperTable): string {
  const bold = bestRows(t)
  const mdEscape = (s: string) => s.replace(/\|/g, '\\|')
  return (
    [
      `| model | ${t.columns.map((c) => c.name).join(' | ')} |`,
      `| --- | ${t.columns.map(() => '---:').join(' | ')} |`,
      ...t.rows.map(
        (r, i) =>
          `| ${mdEscape(r.name)} | ${r.cells
            .map((c, j) => {
              const text = mdEscape(c.text ?? '–')
              return bold.has(`${i}:${j}`) ? `**${text}**` : text
            })
            .join(' | ')} |`,
      ),
    ].join('\n') + `\n\n${t.caption}\n`
  )
}

/** Per-category CSV of a comparison: each run's AP (or IoU) and AP50, and its delta. */
export function categoriesCsv(detail: ComparisonDetail): string {
  const s = detail.summary!
  const names = s.runs.map((r) => `${r.modelName} (run ${r.runId})`)
  const value = s.kind === 'coco' ? 'AP' : 'IoU'
  return toCsvLines([
    [
      'category_id',
      'category',
      'ground_truth',
      ...names.map((n) => `${value} ${n}`),
      ...(s.kind === 'coco' ? names.map((n) => `AP50 ${n}`) : []),
      ...names.slice(1).map((n) => `delta ${value} ${n}`),
      ...names.slice(1).flatMap((n) => [`fixed ${n}`, `broken ${n}`]),
    ],
    ...s.categories.map((c) => [
      c.id,
      c.name,
      c.groundTruth,
      ...c.values.map(pts),
      ...(s.kind === 'coco' ? (c.ap50 ?? []).map(pts) : []),
      ...c.values
        .slice(1)
        .map((v) => (v === null || c.values[0] === null ? null : deltaPts(v - c.values[0]!))),
      ...c.fixed.flatMap((f, j) => [f, c.broken[j] ?? null]),
    ]),
  ])
}

/** Per-image CSV of runs' evaluations: one row per image and run. */
export function imagesCsv(
  studio: Studio,
  runIds: number[],
  kind: EvaluationDetail['kind'],
): string {
  const rows: (string | number | null)[][] = [
    ['run', 'model', 'evaluation', 'image_id', 'file_name', 'AP', 'AP50', 'TP', 'FP', 'FN', 'mIoU'],
  ]
  for (const runId of runIds) {
    const run = studio.runs.get(runId)
    const e = latestEvaluations(studio, runId).find((x) => x.kind === kind)
    if (!e) continue
    for (const im of studio.evaluations.images(
      e.id,
      kind === 'cityscapes' ? 'miou' : 'ap',
      'asc',
      0,
      1e9,
    ))
      rows.push([
        runId,
        run.modelName,
        e.id,
        im.imageId,
        im.fileName,
        pts(im.ap),
        pts(im.ap50),
        im.tp,
        im.fp,
        im.fn,
        pts(im.miou),
      ])
  }
  return toCsvLines(rows)
}

/** Pixels of an SVG figure at `dpi` (SVG px are CSS px, 96 per inch). */
export function pngSize(svg: string, dpi: number): { width: number; height: number } {
  const w = Number(/<svg[^>]*\swidth="([\d.]+)"/.exec(svg)?.[1] ?? 0)
  const h = Number(/<svg[^>]*\sheight="([\d.]+)"/.exec(svg)?.[1] ?? 0)
  return { width: Math.round((w * dpi) / 96), height: Math.round((h * dpi) / 96) }
}

export async function svgToPng(svg: string, dpi: number): Promise<Buffer> {
  const size = pngSize(svg, dpi)
  // sharp reads SVG at 72 dpi by default: 72 * dpi / 96 gives CSS pixels at `dpi`.
  return sharp(Buffer.from(svg), { density: (72 * dpi) / 96 })
    .resize(size.width, size.height, { fit: 'fill' })
    .png()
    .withMetadata({ density: dpi })
    .toBuffer()
}

/** The attention grid as one SVG (images embedded): rows are images, columns image then blocks. */
function gridSvg(
  cells: { src: string; width: number; height: number; caption: string }[],
  perRow: number,
): string {
  const cw = 200
  const rows: (typeof cells)[] = []
  for (let i = 0; i < cells.length; i += perRow) rows.push(cells.slice(i, i + perRow))
  const rowH = rows.map((r) => Math.max(...r.map((c) => (c.height / c.width) * cw)) + 16)
  const width = perRow * (cw + 6) + 6
  const height = rowH.reduce((a, b) => a + b, 0) + 6
  let y = 6
  let out = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${Math.round(height)}" viewBox="0 0 ${width} ${Math.round(height)}" font-family="sans-serif" font-size="9"><rect width="100%" height="100%" fill="#fff"/>`
  rows.forEach((r, i) => {
    r.forEach((c, j) => {
      const x = 6 + j * (cw + 6)
      const h = (c.height / c.width) * cw
      out += `<image x="${x}" y="${y.toFixed(1)}" width="${cw}" height="${h.toFixed(1)}" xlink:href="${c.src}" href="${c.src}"/><text x="${x}" y="${(y + h + 11).toFixed(1)}">${esc(c.caption.slice(0, 40))}</text>`
    })
    y += rowH[i]!
  })
  return out + '</svg>'
}

export interface ExportedFigure {
  name: string
  svg: string
  png: string
  width: number
  height: number
}

/**
 * Every figure of a report target as `<name>.svg` and `<name>@<dpi>dpi.png` in `dir`, plus the
 * attention grid (the paper's Fig. 5 layout) when `attentionRunIds` is given and they have maps.
 */
export async function exportFigures(
  studio: Studio,
  target: ReportTarget,
  dir: string,
  dpi: number,
  options: { signal?: AbortSignal; attention?: boolean } = {},
): Promise<ExportedFigure[]> {
  if (!(dpi >= 36 && dpi <= 1200))
    throw new AppError('INVALID_INPUT', `--dpi must be 36..1200, not ${dpi}.`)
  await ensureFolder(dir)
  const ctx = { stripSize: 0, ...(options.signal ? { signal: options.signal } : {}) }
  const doc = await gatherReport(studio, target, ctx)
  const figures: { name: string; svg: string }[] = doc.sections
    .flatMap((s) => s.blocks)
    .filter((b): b is FigureBlock => b.type === 'figure')
    .map((f) => ({ name: f.name, svg: f.svg }))
  const runIds =
    target.kind === 'run' || target.kind === 'attention'
      ? [target.runId]
      : target.kind === 'compare'
        ? target.runIds
        : studio.comparisons.get(target.comparisonId).runIds
  if (options.attention !== false) {
    const withMaps = runIds.filter(
      (id) => studio.runs.get(id).gcBlocks > 0 && studio.runs.get(id).settings.taps,
    )
    if (withMaps.length) {
      try {
        const grid = studio.attention.grid(withMaps, { mode: 'random', seed: 1 }, 4, 'stages')
        const drawn = await attentionGridBlock(studio, grid, ctx, 320)
        if (drawn && drawn.block.type === 'strip') {
          const perRow = drawn.block.images.length / Math.max(1, grid.images.length)
          figures.push({ name: 'attention-grid', svg: gridSvg(drawn.block.images, perRow) })
        }
      } catch (err) {
        // A run without stored maps has no grid; the other figures still export.
        if (!(err instanceof AppError)) throw err
      }
    }
  }
  const out: ExportedFigure[] = []
  for (const f of figures) {
    options.signal?.throwIfAborted()
    const base = slug(f.name)
    const svgFile = path.join(dir, `${base}.svg`)
    const pngFile = path.join(dir, `${base}@${dpi}dpi.png`)
    const svg = `<?xml version="1.0" encoding="UTF-8"?>\n${f.svg}\n`
    await writeFileAtomically(svgFile, svg)
    const png = await svgToPng(f.svg, dpi)
    await writeFileAtomically(pngFile, png)
    out.push({ name: base, svg: svgFile, png: pngFile, ...pngSize(f.svg, dpi) })
  }
  return out
}
