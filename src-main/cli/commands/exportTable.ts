import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import {
  categoriesCsv,
  comparisonTable,
  imagesCsv,
  toCsv,
  toLatex,
  toMarkdown,
} from '../../core/reports/exports'
import { comparisonFor } from '../../core/reports/gather'
import { writeFileAtomically } from '../../core/reports/output'
import { openCliStudio } from '../dataDir'
import { type CliCommand, CliUsageError } from '../command'
import { reportTarget } from './reportTarget'

const usage = `Usage:
  gcstudio export-table --compare A,B[,C,D] [--format latex|csv|markdown] [--deltas] [--iou-type bbox|segm] [--out FILE] [--data-dir DIR]
  gcstudio export-table --compare A,B[,C,D] --per category|image [--out FILE.csv]

The comparison as a paper table: AP, AP50, AP75, APs/m/l, params, FLOPs, the best value per
column in bold (LaTeX needs \\usepackage{booktabs}); --deltas adds ΔAP and its bootstrap 95%
interval against the first run. --per writes the per-category or per-image results as CSV.
Without --out the table goes to standard output.`

export const exportTableCommand: CliCommand = {
  name: 'export-table',
  usage,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        compare: { type: 'string' },
        format: { type: 'string', default: 'latex' },
        deltas: { type: 'boolean', default: false },
        per: { type: 'string' },
        'iou-type': { type: 'string', default: 'bbox' },
        out: { type: 'string' },
        'data-dir': { type: 'string' },
      },
    })
    const target = reportTarget({ compare: values.compare })
    if (target.kind !== 'compare') throw new CliUsageError('--compare A,B is required')
    const format = values.format
    if (format !== 'latex' && format !== 'csv' && format !== 'markdown')
      throw new CliUsageError(`--format must be latex, csv or markdown, not "${format}"`)
    const iouType = values['iou-type']
    if (iouType !== 'bbox' && iouType !== 'segm')
      throw new CliUsageError(`--iou-type must be bbox or segm, not "${iouType}"`)
    if (values.per !== undefined && values.per !== 'category' && values.per !== 'image')
      throw new CliUsageError(`--per must be category or image, not "${values.per}"`)
    const studio = await openCliStudio(values['data-dir'], io)
    try {
      const id = await comparisonFor(studio, target.runIds, { signal: io.signal }, iouType)
      const detail = studio.comparisons.get(id)
      if (detail.problems.length)
        throw new CliUsageError(`comparison ${id}: ${detail.problems.join(' ')}`)
      let text: string
      if (values.per === 'category') text = categoriesCsv(detail)
      else if (values.per === 'image')
        text = imagesCsv(
          studio,
          detail.runIds,
          detail.kind === 'cityscapes'
            ? 'cityscapes'
            : detail.iouType === 'segm'
              ? 'coco-segm'
              : 'coco-bbox',
        )
      else {
        const table = comparisonTable(detail, values.deltas === true)
        text =
          format === 'latex' ? toLatex(table) : format === 'csv' ? toCsv(table) : toMarkdown(table)
      }
      if (values.out === undefined) io.stdout.write(text)
      else {
        const file = resolve(io.cwd, values.out)
        await writeFileAtomically(file, text)
        io.stderr.write(`wrote ${file}\n`)
      }
      return 0
    } finally {
      await studio.close()
    }
  },
}
