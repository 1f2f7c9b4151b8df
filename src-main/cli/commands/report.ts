import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { openCliStudio } from '../dataDir'
import { type CliCommand, CliUsageError } from '../command'
import { progressReporter } from '../progress'
import { reportTarget, reportTargetOptions } from './reportTarget'

const usage = `Usage:
  gcstudio report (--run N | --compare A,B[,C,D] | --attention N) --out FILE.html|FILE.pdf [--title T] [--images K] [--data-dir DIR]

One self-contained report file: HTML (images embedded, charts as inline SVG, no network
request), or a PDF printed from that same HTML by a Chromium found on this machine.
  --run        a run's latest evaluations: metrics, per category, PR curves, TIDE, confusion,
               worst images, model card, settings and environment
  --compare    2-4 runs of one dataset (the first is the reference): deltas with bootstrap
               intervals, per-category deltas, overlaid PR curves, TIDE, fixed/broken images;
               uses the stored comparison of these runs, or makes one
  --attention  a run's GC-block attention: per-stage statistics and the attention grid
  --out        the file; .html or .pdf
  --title      the report's title
  --images     images per strip (default 8)`

export const reportCommand: CliCommand = {
  name: 'report',
  usage,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        ...reportTargetOptions,
        title: { type: 'string' },
        images: { type: 'string', default: '8' },
      },
    })
    const target = reportTarget(values)
    if (!values.out) throw new CliUsageError('--out FILE.html or FILE.pdf is required')
    const stripSize = Number(values.images)
    if (!Number.isInteger(stripSize) || stripSize < 0 || stripSize > 64)
      throw new CliUsageError(`--images must be a whole number 0..64, not "${values.images}"`)
    const studio = await openCliStudio(values['data-dir'], io)
    try {
      const bar = progressReporter(io)
      const started = Date.now()
      const report = await studio.reports.write(target, resolve(io.cwd, values.out), {
        ...(values.title ? { title: values.title } : {}),
        ctx: {
          signal: io.signal,
          stripSize,
          progress: (done, total, phase) =>
            bar.update({ phase, done, total, unit: '', rate: null, etaSeconds: null, detail: '' }),
        },
      })
      bar.end()
      io.stdout.write(
        `Wrote ${report.path} (${(report.bytes / 1e6).toFixed(2)} MB, ${((Date.now() - started) / 1000).toFixed(1)} s)${report.printer ? `, printed by ${report.printer}` : ''}\n`,
      )
      return 0
    } finally {
      await studio.close()
    }
  },
}
