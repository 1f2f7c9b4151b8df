/** `gcstudio dataset list`: the imported datasets, with the ids and names other commands take. */
import { parseArgs } from 'node:util'
import { formatCount } from '../../common/format'
import { listDatasets } from '../../core/datasets/queries'
import { resolveDataDir } from '../../core/paths'
import { openStore } from '../../core/store/store'
import { type CliCommand, CliUsageError } from '../command'

export const datasetCommand: CliCommand = {
  name: 'dataset',
  usage: `gcstudio dataset list [--json] [--data-dir DIR]`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { json: { type: 'boolean', default: false }, 'data-dir': { type: 'string' } },
    })
    if (positionals[0] !== 'list' || positionals.length > 1)
      throw new CliUsageError(
        `Unknown dataset command "${positionals.join(' ')}": use dataset list`,
      )
    const db = openStore(resolveDataDir(values['data-dir'], io.env))
    try {
      const list = listDatasets(db)
      if (values.json) io.stdout.write(JSON.stringify(list, null, 2) + '\n')
      else if (list.length === 0) io.stdout.write('No datasets yet (gcstudio import adds one).\n')
      else
        for (const d of list)
          io.stdout.write(
            `${String(d.id).padStart(4)}  ${d.name}  ${d.kind}${d.split ? ` ${d.split}` : ''}  ` +
              `${formatCount(d.imageCount)} images, ${formatCount(d.annotationCount)} annotations, ` +
              `${d.categoryCount} categories, ground truth v${d.gtVersion}\n`,
          )
      return 0
    } finally {
      db.close()
    }
  },
}
