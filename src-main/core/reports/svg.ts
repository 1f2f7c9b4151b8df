/**
 * Charts of a report as standalone SVG strings. Observable Plot (the renderer's chart library)
 * needs a DOM, and no DOM implementation is installed on the Node side; these few chart forms
 * (lines over [0,1]², grouped bars, a heatmap) are drawn here instead, only for reports and
 * figure exports. Every label is SVG <text>, so a PDF keeps it as text and the charts as vectors.
 */

export const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** Colour-blind-safe categorical colours (Okabe-Ito), in series order. */
export const SERIES_COLORS = [
  '#0072b2',
  '#d55e00',
  '#009e73',
  '#cc79a7',
  '#e69f00',
  '#56b4e9',
  '#f0e442',
  '#000000',
]

const FONT = `font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"`
const n = (v: number): string => String(Math.round(v * 100) / 100)

export interface Series {
  name: string
  /** y per x; null points break the line. */
  x: number[]
  y: (number | null)[]
  dash?: boolean
}

export interface LineChartSpec {
  title: string
  xLabel: string
  yLabel: string
  series: Series[]
  width?: number
  height?: number
}

function svgOpen(width: number, height: number, title: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="11" role="img">` +
    `<title>${esc(title)}</title><rect width="${width}" height="${height}" fill="#ffffff"/>`
  )
}

function legend(names: string[], x: number, y: number, dashes: boolean[] = []): string {
  return names
    .map((name, i) => {
      const c = SERIES_COLORS[i % SERIES_COLORS.length]!
      const yy = y + i * 15
      return (
        `<line x1="${x}" y1="${yy}" x2="${x + 18}" y2="${yy}" stroke="${c}" stroke-width="2.5"${dashes[i] ? ' stroke-dasharray="4 3"' : ''}/>` +
        `<text x="${x + 23}" y="${yy + 4}">${esc(name)}</text>`
      )
    })
    .join('')
}

/** Lines over [0,1] x [0,1] (precision-recall curves), with axes, grid and a legend. */
export function lineChart(spec: LineChartSpec): string {
  const legendWidth = Math.min(320, 40 + Math.max(...spec.series.map((s) => s.name.length)) * 6)
  const width = spec.width ?? 390 + legendWidth
  const height = spec.height ?? 340
  const m = { l: 46, r: legendWidth + 10, t: 28, b: 40 }
  const w = width - m.l - m.r
  const h = height - m.t - m.b
  const sx = (v: number) => m.l + v * w
  const sy = (v: number) => m.t + (1 - v) * h
  let out = svgOpen(width, height, spec.title)
  out += `<text x="${m.l}" y="16" font-size="13" font-weight="600">${esc(spec.title)}</text>`
  for (let t = 0; t <= 10; t += 2) {
    const v = t / 10
    out +=
      `<line x1="${n(sx(0))}" y1="${n(sy(v))}" x2="${n(sx(1))}" y2="${n(sy(v))}" stroke="#e5e5e5"/>` +
      `<line x1="${n(sx(v))}" y1="${n(sy(0))}" x2="${n(sx(v))}" y2="${n(sy(1))}" stroke="#e5e5e5"/>` +
      `<text x="${n(sx(0) - 6)}" y="${n(sy(v) + 4)}" text-anchor="end">${v.toFixed(1)}</text>` +
      `<text x="${n(sx(v))}" y="${n(sy(0) + 15)}" text-anchor="middle">${v.toFixed(1)}</text>`
  }
  out += `<rect x="${m.l}" y="${m.t}" width="${w}" height="${h}" fill="none" stroke="#999"/>`
  out += `<text x="${n(m.l + w / 2)}" y="${height - 6}" text-anchor="middle">${esc(spec.xLabel)}</text>`
  out += `<text transform="translate(12 ${n(m.t + h / 2)}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`
  spec.series.forEach((s, i) => {
    const c = SERIES_COLORS[i % SERIES_COLORS.length]!
    let d = ''
    let pen = false
    s.x.forEach((x, j) => {
      const y = s.y[j]
      if (y === null || y === undefined || y < 0) {
        pen = false
        return
      }
      d += `${pen ? 'L' : 'M'}${n(sx(x))} ${n(sy(Math.min(1, y)))}`
      pen = true
    })
    if (d)
      out += `<path d="${d}" fill="none" stroke="${c}" stroke-width="2"${s.dash ? ' stroke-dasharray="5 3"' : ''} data-series="${esc(s.name)}"/>`
  })
  out += legend(
    spec.series.map((s) => s.name),
    width - legendWidth,
    m.t + 8,
    spec.series.map((s) => !!s.dash),
  )
  return out + '</svg>'
}

export interface BarChartSpec {
  title: string
  /** Bar groups along the y axis (e.g. TIDE's error types). */
  categories: string[]
  /** One bar per series in every group. */
  series: { name: string; values: (number | null)[] }[]
  valueLabel: string
  width?: number
}

/** Horizontal grouped bars with their values written beside them. */
export function barChart(spec: BarChartSpec): string {
  const legendWidth =
    spec.series.length > 1
      ? Math.min(320, 50 + Math.max(...spec.series.map((s) => s.name.length)) * 6)
      : 40
  const width = spec.width ?? 390 + legendWidth
  const barH = 12
  const groupH = spec.series.length * barH + 8
  const m = { l: 80, r: legendWidth, t: 30, b: 34 }
  const height = m.t + m.b + spec.categories.length * groupH
  const w = width - m.l - m.r
  const max = Math.max(1e-9, ...spec.series.flatMap((s) => s.values.map((v) => v ?? 0)))
  const sx = (v: number) => m.l + (Math.max(0, v) / max) * w
  let out = svgOpen(width, height, spec.title)
  out += `<text x="${m.l}" y="16" font-size="13" font-weight="600">${esc(spec.title)}</text>`
  spec.categories.forEach((cat, g) => {
    const y0 = m.t + g * groupH
    out += `<text x="${m.l - 6}" y="${n(y0 + groupH / 2)}" text-anchor="end">${esc(cat)}</text>`
    spec.series.forEach((s, i) => {
      const v = s.values[g]
      const y = y0 + i * barH + 2
      if (v === null || v === undefined) return
      out +=
        `<rect x="${m.l}" y="${y}" width="${n(sx(v) - m.l)}" height="${barH - 2}" fill="${SERIES_COLORS[i % SERIES_COLORS.length]}"/>` +
        `<text x="${n(sx(v) + 4)}" y="${y + barH - 3}" font-size="10">${v.toFixed(2)}</text>`
    })
  })
  const yAxis = m.t + spec.categories.length * groupH
  out += `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${yAxis}" stroke="#999"/>`
  out += `<text x="${n(m.l + w / 2)}" y="${height - 8}" text-anchor="middle">${esc(spec.valueLabel)}</text>`
  if (spec.series.length > 1)
    out += legend(
      spec.series.map((s) => s.name),
      width - m.r + 46,
      m.t + 8,
    ).replace(/<line ([^>]*)stroke-width="2.5"/g, '<line $1stroke-width="8"')
  return out + '</svg>'
}

export interface HeatmapSpec {
  title: string
  rowLabels: string[]
  columnLabels: string[]
  matrix: number[][]
  rowTitle: string
  columnTitle: string
  /** Shade each row by its share of the row's total (a confusion matrix's recall view). */
  rowNormalise?: boolean
  cell?: number
}

/** A matrix as shaded cells; the counts are written in when the cells are large enough. */
export function heatmap(spec: HeatmapSpec): string {
  const k = spec.matrix.length
  const cell = spec.cell ?? Math.max(8, Math.min(34, Math.floor(520 / Math.max(1, k))))
  const labelW = 110
  const m = { l: labelW + 18, t: labelW + 30 }
  const width = m.l + cell * (spec.columnLabels.length || 1) + 10
  const height = m.t + cell * k + 10
  const max = Math.max(1, ...spec.matrix.flat())
  let out = svgOpen(width, height, spec.title)
  out += `<text x="4" y="16" font-size="13" font-weight="600">${esc(spec.title)}</text>`
  out += `<text x="${m.l}" y="32" font-size="10" fill="#555">columns: ${esc(spec.columnTitle)}; rows: ${esc(spec.rowTitle)}</text>`
  const fs = Math.min(10, Math.floor(cell / 3))
  spec.matrix.forEach((row, r) => {
    const total = row.reduce((a, b) => a + b, 0)
    out += `<text x="${m.l - 4}" y="${n(m.t + r * cell + cell / 2 + 3)}" text-anchor="end" font-size="${Math.min(10, cell)}">${esc(spec.rowLabels[r] ?? '')}</text>`
    row.forEach((v, c) => {
      const share = spec.rowNormalise ? (total > 0 ? v / total : 0) : v / max
      const shade = Math.round(255 - share * 200)
      const fill = v === 0 ? '#ffffff' : `rgb(${shade},${Math.round(shade * 0.97)},255)`
      const x = m.l + c * cell
      const y = m.t + r * cell
      out += `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ddd" stroke-width="0.5"/>`
      if (cell >= 18 && v !== 0)
        out += `<text x="${n(x + cell / 2)}" y="${n(y + cell / 2 + fs / 3)}" text-anchor="middle" font-size="${fs}" fill="${share > 0.6 ? '#fff' : '#222'}">${v}</text>`
    })
  })
  spec.columnLabels.forEach((label, c) => {
    const x = m.l + c * cell + cell / 2 + 3
    out += `<text transform="translate(${n(x)} ${m.t - 4}) rotate(-60)" font-size="${Math.min(10, cell)}">${esc(label)}</text>`
  })
  return out + '</svg>'
}
