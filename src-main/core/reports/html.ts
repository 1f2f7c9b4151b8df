/**
 * A report as one self-contained HTML file, built by a pure function from a `ReportDocument`:
 * images are data URIs, charts inline SVG, fonts the system's, and nothing refers to the
 * network (the Content-Security-Policy forbids it too). Print CSS lays it out as the PDF is
 * printed from this same file, so the two always agree.
 */
import { esc } from './svg'

export type Cell = string | number | null

export interface TableBlock {
  type: 'table'
  caption?: string
  columns: string[]
  rows: Cell[][]
  /** Rows shown apart (published numbers): a labelled reference, not the user's results. */
  referenceRows?: Cell[][]
  /** For tests and readers: what the rows are (`metrics`, `categories`, ...). */
  testId?: string
}
export interface FigureBlock {
  type: 'figure'
  caption: string
  svg: string
  /** File name stem when exported (`pr-curves-bbox`). */
  name: string
}
export interface StripBlock {
  type: 'strip'
  caption: string
  images: { src: string; width: number; height: number; caption: string }[]
  /** A fixed number of columns (the attention grid: an image, then its blocks). */
  columns?: number
}
export interface FactsBlock {
  type: 'facts'
  title?: string
  facts: [string, string][]
}
export interface TextBlock {
  type: 'text'
  text: string
  tone?: 'note' | 'warning'
}
export type Block = TableBlock | FigureBlock | StripBlock | FactsBlock | TextBlock

export interface ReportSection {
  id: string
  title: string
  blocks: Block[]
}

export interface ReportDocument {
  title: string
  subtitle: string
  createdAt: string
  studioVersion: string
  sections: ReportSection[]
}

const cell = (c: Cell): string =>
  c === null ? '<span class="na">–</span>' : esc(typeof c === 'number' ? String(c) : c)

function table(b: TableBlock): string {
  const head = `<thead><tr>${b.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead>`
  const rows = (rows: Cell[][], cls = '') =>
    rows
      .map(
        (r) =>
          `<tr${cls ? ` class="${cls}"` : ''}>${r.map((c, i) => (i === 0 ? `<th scope="row">${cell(c)}</th>` : `<td>${cell(c)}</td>`)).join('')}</tr>`,
      )
      .join('')
  const ref = b.referenceRows?.length ? rows(b.referenceRows, 'reference') : ''
  return (
    `<table${b.testId ? ` data-testid="${esc(b.testId)}"` : ''}>` +
    (b.caption ? `<caption>${esc(b.caption)}</caption>` : '') +
    head +
    `<tbody>${rows(b.rows)}${ref}</tbody></table>`
  )
}

function block(b: Block): string {
  switch (b.type) {
    case 'table':
      return table(b)
    case 'figure':
      return `<figure class="chart" data-figure="${esc(b.name)}">${b.svg}<figcaption>${esc(b.caption)}</figcaption></figure>`
    case 'strip':
      return (
        `<div class="strip-block"><p class="strip-caption">${esc(b.caption)}</p>` +
        (b.columns
          ? `<div class="strip grid" style="grid-template-columns: repeat(${b.columns}, 1fr)">`
          : `<div class="strip">`) +
        b.images
          .map(
            (i) =>
              `<figure><img src="${i.src}" width="${i.width}" height="${i.height}" alt="${esc(i.caption)}"><figcaption>${esc(i.caption)}</figcaption></figure>`,
          )
          .join('') +
        `</div></div>`
      )
    case 'facts':
      return (
        `<dl class="facts">${b.title ? `<div class="facts-title">${esc(b.title)}</div>` : ''}` +
        b.facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('') +
        `</dl>`
      )
    case 'text':
      return `<p class="${b.tone ?? 'text'}">${esc(b.text)}</p>`
  }
}

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
  color: #1a1a1a; background: #fff; margin: 0 auto; max-width: 1000px; padding: 24px 28px; font-size: 13px; line-height: 1.4; }
header h1 { font-size: 22px; margin: 0 0 2px; }
header .sub { color: #555; margin: 0; }
header .meta { color: #777; font-size: 11px; margin-top: 4px; }
nav { font-size: 11px; color: #555; margin: 10px 0 4px; }
nav a { color: #0a58a8; margin-right: 10px; text-decoration: none; }
section { margin-top: 22px; }
h2 { font-size: 16px; border-bottom: 1px solid #ccc; padding-bottom: 3px; margin: 0 0 8px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; font-size: 12px; }
caption { text-align: left; color: #444; font-size: 11px; padding-bottom: 3px; caption-side: top; }
th, td { border-bottom: 1px solid #e2e2e2; padding: 2px 8px; text-align: right; white-space: nowrap; }
thead th { border-bottom: 1.5px solid #555; color: #333; font-weight: 600; }
tbody th { text-align: left; font-weight: 500; }
tr.reference th, tr.reference td { color: #6a6a6a; font-style: italic; }
tr.reference:first-of-type th, tr.reference:first-of-type td { border-top: 1.5px solid #999; }
.na { color: #aaa; }
figure { margin: 0; }
figure.chart { display: inline-block; vertical-align: top; margin: 4px 12px 12px 0; }
figure.chart svg { max-width: 100%; height: auto; }
figcaption { font-size: 11px; color: #555; max-width: 560px; }
.strip-caption { font-size: 12px; color: #333; margin: 6px 0 4px; }
.strip { display: flex; flex-wrap: wrap; gap: 8px; }
.strip figure { width: 232px; }
.strip img { width: 232px; height: auto; display: block; border: 1px solid #ddd; }
.strip.grid { display: grid; gap: 6px; }
.strip.grid figure, .strip.grid img { width: 100%; }
.strip figcaption { font-size: 10px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 1px 14px; margin: 6px 0 12px; font-size: 12px; }
dl.facts dt { color: #555; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.facts-title { grid-column: 1 / -1; font-weight: 600; margin-top: 4px; }
p.note { color: #555; font-size: 11px; }
p.warning { color: #8a4b00; font-size: 12px; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  nav { display: none; }
  section { break-inside: auto; }
  h2 { break-after: avoid; }
  table, figure, dl.facts, .strip figure { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
`

/** The whole file. Pure: the same document gives the same bytes. */
export function renderReportHtml(doc: ReportDocument): string {
  const sections = doc.sections.filter((s) => s.blocks.length > 0)
  return (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
    // No request of any kind may leave the file: images are data URIs, styles inline.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<meta name="generator" content="GC Studio ${esc(doc.studioVersion)}">` +
    `<title>${esc(doc.title)}</title><style>${CSS}</style></head><body>` +
    `<header><h1>${esc(doc.title)}</h1><p class="sub">${esc(doc.subtitle)}</p>` +
    `<p class="meta">Created ${esc(doc.createdAt)} by GC Studio ${esc(doc.studioVersion)}</p></header>` +
    `<nav>${sections.map((s) => `<a href="#${esc(s.id)}">${esc(s.title)}</a>`).join('')}</nav>` +
    sections
      .map(
        (s) =>
          `<section id="${esc(s.id)}"><h2>${esc(s.title)}</h2>${s.blocks.map(block).join('\n')}</section>`,
      )
      .join('\n') +
    '</body></html>\n'
  )
}
