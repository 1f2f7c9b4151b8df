import { parseArgs } from 'node:util'
import { listDatasets } from '../../core/datasets/queries'
import { CliUsageError, type CliCommand } from '../command'
import { openCliStudio } from '../dataDir'

export const datasetCommand: CliCommand = {
  name: 'dataset',
  usage: `gcstudio dataset list [--data-dir DIR] [--no-demo]`,
  async run(argv, io) {
    const [sub, ...rest] = argv
    if (sub !== 'list')
      throw new CliUsageError(sub ? `Unknown dataset command "${sub}".` : 'Say list.')
    const { values } = parseArgs({
      args: rest,
      options: {
        'data-dir': { type: 'string' },
        'no-demo': { type: 'boolean', default: false },
      },
      strict: true,
    })
    const studio = await openCliStudio(values['data-dir'], io, { noDemo: values['no-demo'] })
    const db = studio.db
    try {
      const datasets = listDatasets(db)
      if (datasets.length === 0)
        io.stdout.write('No datasets yet: gcstudio import coco|cityscapes …\n')
      for (const d of datasets)
        io.stdout.write(
          `${String(d.id).padStart(4)}  ${d.name}  ${d.kind}  ${d.imageCount.toLocaleString('en-US')} images\n`,
        )
      return 0
    } finally {
      await studio.close()
    }
  },
}
