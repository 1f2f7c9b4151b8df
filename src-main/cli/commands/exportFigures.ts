import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { exportFigures } from '../../core/reports/exports'
import { openCliStudio } from '../dataDir'
import { type CliCommand, CliUsageError } from '../command'
import { reportTarget, reportTargetOptions } from './reportTarget'

const usage = `Usage:
  gcstudio export-figures (--run N | --compare A,B[,C,D] | --attention N) --out DIR [--dpi 300] [--data-dir DIR]

Every figure of the report as <name>.svg and <name>@<dpi>dpi.png: PR curves, TIDE bars,
confusion matrices, attention statistics and the attention grid (the paper's Fig. 5 layout)
when the runs stored attention maps.
  --dpi   PNG resolution (default 300; SVG pixels count 96 per inch)`

export const exportFiguresCommand: CliCommand = {
  name: 'export-figures',
  usage,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        ...reportTargetOptions,
        dpi: { type: 'string', default: '300' },
      },
    })
    const target = reportTarget(values)
    if (!values.out) throw new CliUsageError('--out DIR is required')
    const dpi = Number(values.dpi)
    if (!Number.isInteger(dpi) || dpi < 36 || dpi > 1200)
      throw new CliUsageError(`--dpi must be a whole number 36..1200, not "${values.dpi}"`)
    const studio = await openCliStudio(values['data-dir'], io)
    try {
      const figures = await exportFigures(studio, target, resolve(io.cwd, values.out), dpi, {
        signal: io.signal,
      })
      for (const f of figures) io.stdout.write(`${f.svg}\n${f.png} (${f.width}x${f.height} px)\n`)
      io.stdout.write(`${figures.length} figures at ${dpi} dpi\n`)
      return 0
    } finally {
      await studio.close()
    }
  },
}
