import { parseArgs } from 'node:util'
import { exportCocoResults, writeRunLabelPngs } from '../../core/exports'
import { openCliStudio } from '../dataDir'
import { CliUsageError, type CliCommand } from '../command'

export const exportCommand: CliCommand = {
  name: 'export',
  usage: `gcstudio export --run RUN --out PATH [--data-dir DIR]

  detection runs: PATH is a COCO results JSON ([{image_id, category_id, bbox, score, segmentation}],
                  with the dataset's own image and category ids) for pycocotools
  label-map runs: PATH is a folder of {city}_{seq}_{frame}_gcstudio_labelIds.png for
                  cityscapesScripts (CITYSCAPES_RESULTS=PATH) or gcstudio eval cityscapes --pred PATH`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        run: { type: 'string' },
        out: { type: 'string' },
        'data-dir': { type: 'string' },
        'no-demo': { type: 'boolean', default: false },
      },
      strict: true,
    })
    if (!values.run || !values.out) throw new CliUsageError('export needs --run and --out.')
    const runId = Number(values.run)
    if (!Number.isInteger(runId) || runId <= 0)
      throw new CliUsageError(`--run must be a run id, got "${values.run}".`)
    const studio = await openCliStudio(values['data-dir'], io, { noDemo: values['no-demo'] })
    const db = studio.db
    try {
      if (studio.runs.get(runId).task === 'semantic_segmentation') {
        const n = writeRunLabelPngs(db, runId, values.out).size
        io.stdout.write(`Wrote ${n} label-id PNGs to ${values.out}\n`)
      } else {
        const n = await exportCocoResults(db, runId, values.out)
        io.stdout.write(`Wrote ${n} detections to ${values.out}\n`)
      }
      return 0
    } finally {
      await studio.close()
    }
  },
}
