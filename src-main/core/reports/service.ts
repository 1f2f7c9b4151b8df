/**
 * Reports as jobs: gather the stored results, render the one HTML file, print it to PDF when
 * asked, write atomically, and keep a row per report so the list can show and serve it again.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Job } from '../../common/api'
import type { Report, ReportListItem, ReportTarget } from '../../common/api/reports'
import { AppError } from '../../common/errors'
import type { Handlers } from '../dispatcher'
import type { JobContext } from '../jobs'
import { type ReportStore, reportStore } from '../store/reports'
import type { Studio } from '../studio'
import { slug } from './format'
import { gatherReport, type GatherContext } from './gather'
import { renderReportHtml } from './html'
import { checkWritable, writeFileAtomically } from './output'
import { findPrinters, NO_CHROMIUM_MESSAGE, printPdf, type Printer } from './pdf'

/** How PDFs are printed: Chromium found on the machine, or the desktop app's own webContents. */
export type PdfPrinter = (html: string, target: string, signal?: AbortSignal) => Promise<string>

export const chromiumPrinter: PdfPrinter = async (html, target, signal) => {
  const p: Printer = await printPdf(html, target, signal)
  return `${p.kind === 'electron' ? 'Electron' : 'Chromium'} at ${p.path}`
}

export interface WriteReportOptions {
  title?: string
  ctx?: GatherContext
}

const reportKind = (t: ReportTarget): Report['kind'] =>
  t.kind === 'run' ? 'run' : t.kind === 'attention' ? 'attention' : 'comparison'

export class ReportService {
  readonly #store: ReportStore

  constructor(
    private readonly studio: Studio,
    private readonly printer: PdfPrinter = chromiumPrinter,
  ) {
    this.#store = reportStore(studio.db)
  }

  /** Where a report goes when no file was named: `reports/` in the data folder. */
  defaultPath(title: string, format: 'html' | 'pdf'): string {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)
    return path.join(this.studio.options.dataDir, 'reports', `${slug(title)}-${stamp}.${format}`)
  }

  /** Makes the report file; the format follows the file's extension (.pdf or .html). */
  async write(
    target: ReportTarget,
    out: string,
    options: WriteReportOptions = {},
  ): Promise<Report> {
    const ext = path.extname(out).toLowerCase()
    if (ext !== '.html' && ext !== '.htm' && ext !== '.pdf')
      throw new AppError(
        'INVALID_INPUT',
        `The report file must end in .html or .pdf (got ${path.basename(out)}).`,
      )
    const format = ext === '.pdf' ? 'pdf' : 'html'
    const file = path.resolve(out)
    // Both checks come before the work: a missing Chromium or a read-only folder is known now.
    if (format === 'pdf' && this.printer === chromiumPrinter && findPrinters().length === 0)
      throw new AppError('UNSUPPORTED', NO_CHROMIUM_MESSAGE)
    await checkWritable(file)
    const ctx = options.ctx ?? {}
    const doc = await gatherReport(this.studio, target, ctx, options.title)
    ctx.signal?.throwIfAborted()
    ctx.progress?.(0, null, format === 'pdf' ? 'Printing the PDF' : 'Writing')
    const html = renderReportHtml(doc)
    let printer: string | null = null
    if (format === 'pdf') printer = await this.printer(html, file, ctx.signal)
    else await writeFileAtomically(file, html)
    return this.#store.add({
      kind: reportKind(target),
      title: doc.title,
      target,
      format,
      path: file,
      bytes: fs.statSync(file).size,
      printer,
    })
  }

  /** `reports:create`: the report as a job of kind `report`. */
  start(input: {
    target: ReportTarget
    format: 'html' | 'pdf'
    title?: string | undefined
    out?: string | undefined
  }): Job {
    const what =
      input.target.kind === 'run'
        ? `run ${input.target.runId}`
        : input.target.kind === 'attention'
          ? `attention of run ${input.target.runId}`
          : input.target.kind === 'compare'
            ? `runs ${input.target.runIds.join(', ')}`
            : `comparison ${input.target.comparisonId}`
    const title = input.title ?? `Report of ${what}`
    const out = input.out ?? this.defaultPath(title, input.format)
    return this.studio.jobs.start({
      kind: 'report',
      title: `${input.format.toUpperCase()} report of ${what}`,
      ...(input.target.kind === 'run' || input.target.kind === 'attention'
        ? { runId: input.target.runId }
        : {}),
      run: async (job: JobContext) => {
        const report = await this.write(input.target, out, {
          ...(input.title ? { title: input.title } : {}),
          ctx: {
            signal: job.signal,
            progress: (done, total, phase) => job.progress({ done, total, phase, unit: 'steps' }),
          },
        })
        this.studio.bus.emit('report:changed', { reportId: report.id })
        return { detail: `${report.path} (${(report.bytes / 1e6).toFixed(1)} MB)` }
      },
    })
  }

  list(limit = 50): ReportListItem[] {
    return this.#store.list(limit).map((r) => ({ ...r, exists: fs.existsSync(r.path) }))
  }

  get(id: number): Report {
    const r = this.#store.get(id)
    if (!r) throw new AppError('NOT_FOUND', `Report ${id} does not exist.`)
    return r
  }

  delete(id: number, deleteFile: boolean): boolean {
    const r = this.#store.get(id)
    if (!r) return false
    if (deleteFile) fs.rmSync(r.path, { force: true })
    return this.#store.remove(id)
  }
}

export function reportHandlers(
  service: ReportService,
): Pick<Handlers, 'reports:create' | 'reports:list' | 'reports:open' | 'reports:delete'> {
  return {
    'reports:create': (input) => ({ jobId: service.start(input).id }),
    'reports:list': ({ limit }) => service.list(limit),
    'reports:open': ({ id }) => {
      service.get(id)
      throw new AppError(
        'UNSUPPORTED',
        'Only the desktop app opens files itself; in the browser, open the report from its link.',
      )
    },
    'reports:delete': ({ id, deleteFile }) => ({ deleted: service.delete(id, deleteFile) }),
  }
}
