/**
 * Reports: one self-contained HTML file (or its PDF) of a run's evaluations, a comparison or an
 * attention study, made as a job; the last ones are listed with their files.
 */
import { z } from 'zod'

const id = z.number().int().positive()

function method<I extends z.ZodType, O extends z.ZodType>(
  input: I,
  output: O,
  doc: string,
  paths: readonly string[] = [],
) {
  return { input, output, doc, paths }
}

export const ReportTarget = z.discriminatedUnion('kind', [
  /** A run's latest evaluations. */
  z.object({ kind: z.literal('run'), runId: id }).strict(),
  /** 2-4 runs: the stored comparison of exactly these runs, made first when there is none. */
  z.object({ kind: z.literal('compare'), runIds: z.array(id).min(2).max(4) }).strict(),
  z.object({ kind: z.literal('comparison'), comparisonId: id }).strict(),
  /** A run's attention statistics and grid. */
  z.object({ kind: z.literal('attention'), runId: id }).strict(),
])
export type ReportTarget = z.infer<typeof ReportTarget>

export const ReportFormat = z.enum(['html', 'pdf'])

export const Report = z.object({
  id,
  kind: z.enum(['run', 'comparison', 'attention']),
  title: z.string(),
  target: ReportTarget,
  format: ReportFormat,
  /** Where the file was written (shown; the renderer opens it by id). */
  path: z.string(),
  bytes: z.number().int(),
  /** The Chromium that printed a PDF, in words. */
  printer: z.string().nullable(),
  createdAt: z.string(),
})
export type Report = z.infer<typeof Report>

export const ReportListItem = Report.extend({
  /** False when the file was moved or deleted since. */
  exists: z.boolean(),
})
export type ReportListItem = z.infer<typeof ReportListItem>

export const reportMethods = {
  'reports:create': method(
    z
      .object({
        target: ReportTarget,
        format: ReportFormat.default('html'),
        title: z.string().min(1).max(300).optional(),
        /** Output file; default: `reports/` in the data folder. */
        out: z.string().min(1).optional(),
      })
      .strict(),
    z.object({ jobId: z.string() }),
    'Makes a report as a job (progress as `job:progress`); it appears in `reports:list` when done.',
    ['out'],
  ),
  'reports:list': method(
    z.object({ limit: z.number().int().min(1).max(500).default(50) }).strict(),
    z.array(ReportListItem),
    'The last reports, newest first, with their files (open one through media kind `report`).',
  ),
  'reports:open': method(
    z.object({ id }).strict(),
    z.object({ opened: z.boolean() }),
    'Opens a report file with the system viewer (desktop app); the browser host opens it by its media URL instead.',
  ),
  'reports:delete': method(
    z.object({ id, deleteFile: z.boolean().default(false) }).strict(),
    z.object({ deleted: z.boolean() }),
    'Removes a report from the list (and its file when asked).',
  ),
} as const

export const reportEvents = {
  /** A report was written or removed: the Reports list refreshes. */
  'report:changed': z.object({ reportId: z.number().int() }),
} as const
