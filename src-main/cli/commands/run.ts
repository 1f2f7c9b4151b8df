/** `gcstudio run list`: the stored runs, with the ids `compare`, `eval --run` and `export` take. */
import { openCliStudio } from '../dataDir'
import { parseArgs } from 'node:util'
import { formatCount } from '../../common/format'
import { type CliCommand, CliUsageError } from '../command'

export const runCommand: CliCommand = {
  name: 'run',
  usage: `gcstudio run list [--json] [--data-dir DIR]`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { json: { type: 'boolean', default: false }, 'data-dir': { type: 'string' } },
    })
    if (positionals[0] !== 'list' || positionals.length > 1)
      throw new CliUsageError(`Unknown run command "${positionals.join(' ')}": use run list`)
    const studio = await openCliStudio(values['data-dir'], io)
    const { runs } = studio
    try {
      const list = runs.list()
      if (values.json) io.stdout.write(JSON.stringify(list, null, 2) + '\n')
      else if (list.length === 0) io.stdout.write('No runs yet (gcstudio infer starts one).\n')
      else
        for (const r of list)
          io.stdout.write(
            `${String(r.id).padStart(4)}  ${r.status.padEnd(9)}  ${r.modelName}  on  ${r.datasetName}  ` +
              `${formatCount(r.imagesDone)}/${formatCount(r.imagesTotal)} images` +
              `${r.meanInferenceMs ? `  ${r.meanInferenceMs.toFixed(1)} ms/forward` : ''}  ${r.createdAt.slice(0, 16).replace('T', ' ')}\n`,
          )
      return 0
    } finally {
      await studio.close()
    }
  },
}
