// The pure parts of reports: the HTML is a function of its document (same input, same bytes;
// empty sections left out; text escaped; nothing that could reach the network), the paper tables
// bold the best value per column, charts are valid SVG of their stated size, and failed writes
// say why and leave no temporary file behind.
import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { type PaperTable, toCsv, toLatex, toMarkdown } from '../../../src-main/core/reports/exports'
import { renderReportHtml, type ReportDocument } from '../../../src-main/core/reports/html'
import { writeFailure, writeFileAtomically } from '../../../src-main/core/reports/output'
import { barChart, heatmap, lineChart } from '../../../src-main/core/reports/svg'
import { deltaPts, intervalPts, pts } from '../../../src-main/core/reports/format'
import { tempDir } from '../../helpers/fixtures'

const doc: ReportDocument = {
  title: 'A <script>alert(1)</script> & "report"',
  subtitle: 'run 1',
  createdAt: '2026-12-01T00:00:00.000Z',
  studioVersion: '0.1.0',
  sections: [
    {
      id: 'metrics',
      title: 'Metrics',
      blocks: [
        {
          type: 'table',
          testId: 'metrics',
          columns: ['run', 'AP'],
          rows: [['r4', '40.7']],
          referenceRows: [['R-50 GC r4 (published)', '40.7']],
        },
      ],
    },
    { id: 'tide', title: 'Error breakdown (TIDE)', blocks: [] },
    {
      id: 'pr',
      title: 'PR',
      blocks: [
        {
          type: 'figure',
          name: 'pr',
          caption: 'curves',
          svg: lineChart({
            title: 'PR',
            xLabel: 'recall',
            yLabel: 'precision',
            series: [{ name: 'a', x: [0, 0.5, 1], y: [1, 0.8, null] }],
          }),
        },
      ],
    },
  ],
}

describe('report HTML', () => {
  it('is a pure function of its document', () => {
    expect(renderReportHtml(doc)).toBe(renderReportHtml(structuredClone(doc)))
  })

  it('leaves out empty sections, escapes text and names nothing on the network', () => {
    const html = renderReportHtml(doc)
    expect(html).not.toContain('Error breakdown')
    expect(html).not.toContain('<script>')
    expect(html).toContain('A &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;report&quot;')
    expect(html).toContain(`default-src 'none'`)
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//)
    expect(html).toContain('<tr class="reference">')
    expect(html).toContain('@media print')
  })
})

describe('charts', () => {
  it.each([
    [
      'line',
      lineChart({
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        series: [{ name: 'a', x: [0, 1], y: [0, 1] }],
      }),
    ],
    [
      'bars',
      barChart({
        title: 't',
        categories: ['Cls', 'Loc'],
        series: [
          { name: 'a', values: [1.5, null] },
          { name: 'b', values: [0, 2] },
        ],
        valueLabel: 'dAP',
      }),
    ],
    [
      'heatmap',
      heatmap({
        title: 't',
        rowLabels: ['a', 'b'],
        columnLabels: ['a', 'b'],
        matrix: [
          [3, 1],
          [0, 5],
        ],
        rowTitle: 'gt',
        columnTitle: 'pred',
      }),
    ],
  ])('%s is valid SVG of its stated size', async (_, svg) => {
    const width = Number(/<svg[^>]*\swidth="([\d.]+)"/.exec(svg)![1])
    const height = Number(/<svg[^>]*\sheight="([\d.]+)"/.exec(svg)![1])
    const meta = await sharp(Buffer.from(svg)).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['svg', width, height])
  })
})

describe('paper tables', () => {
  const table: PaperTable = {
    caption: 'box AP; Δ against base_line & co, 95% interval',
    columns: [
      { name: 'AP', latex: 'AP', best: 'max' },
      { name: 'params', latex: 'Params', best: 'min' },
      { name: 'ΔAP', latex: '$\\Delta$AP', best: null },
    ],
    rows: [
      {
        name: 'base_line',
        cells: [
          { text: '38.4', value: 0.384 },
          { text: '1.72 M', value: 1.72e6 },
          { text: '--', value: null },
        ],
      },
      {
        name: 'GC r4',
        cells: [
          { text: '40.7', value: 0.407 },
          { text: '1.90 M', value: 1.9e6 },
          { text: '+2.3', value: null },
        ],
      },
    ],
  }

  it('bolds the best value of each column in LaTeX and markdown, and escapes names', () => {
    const tex = toLatex(table)
    expect(tex).toContain('base\\_line & 38.4 & \\textbf{1.72 M} & -- \\\\')
    expect(tex).toContain('GC r4 & \\textbf{40.7} & 1.90 M & +2.3 \\\\')
    expect(tex).toContain('\\caption{box AP; $\\Delta$ against base\\_line \\& co, 95\\% interval}')
    expect(tex.match(/\\(toprule|midrule|bottomrule)/g)).toEqual([
      '\\toprule',
      '\\midrule',
      '\\bottomrule',
    ])
    expect(toMarkdown(table)).toContain('| GC r4 | **40.7** | 1.90 M | +2.3 |')
    expect(toCsv(table).split('\n')[1]).toBe('base_line,38.4,1.72 M,--')
  })

  it('writes points, signed deltas and intervals', () => {
    expect([pts(0.40449), pts(-1), pts(null), deltaPts(-0.0004), deltaPts(0.0123)]).toEqual([
      '40.4',
      null,
      null,
      '+0.0',
      '+1.2',
    ])
    expect(intervalPts([-0.012, 0.034])).toBe('[-1.2, +3.4]')
  })
})

describe('writing files', () => {
  it('names a full disk and an unwritable folder in words', () => {
    const full = Object.assign(new Error('no space'), { code: 'ENOSPC' })
    expect(writeFailure('/data/r.pdf', full).message).toBe(
      'Cannot write /data/r.pdf: the disk holding /data is full; free some space or choose another folder. Nothing was written there.',
    )
    const ro = Object.assign(new Error('read-only'), { code: 'EROFS' })
    expect(writeFailure('/ro/r.html', ro).message).toMatch(/\/ro is not writable/)
  })

  it('leaves neither the target nor a temporary file when the write fails', async () => {
    const dir = tempDir()
    const target = path.join(dir, 'report.html')
    fs.mkdirSync(target) // a folder where the file should go: the rename fails
    await expect(writeFileAtomically(target, 'x')).rejects.toThrow(/Cannot write .*report\.html/)
    expect(fs.readdirSync(dir)).toEqual(['report.html'])
    expect(fs.statSync(target).isDirectory()).toBe(true)
  })
})
