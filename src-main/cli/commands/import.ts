import { parseArgs } from 'node:util'
import { z } from 'zod'
import { ImportRequest } from '../../common/api'
import { AppError } from '../../common/errors'
import { runImport } from '../../core/datasets/importer'
import { openCliStudio } from '../dataDir'
import { CliUsageError, type CliCommand } from '../command'
import { progressReporter } from '../progress'
import { rateTracker } from '../../common/rate'

export const importCommand: CliCommand = {
  name: 'import',
  usage: `gcstudio import coco --annotations FILE --images DIR [--name NAME] [--data-dir DIR] [--no-demo]
gcstudio import cityscapes --root DIR [--split val] [--name NAME] [--data-dir DIR]

  coco        a COCO instances JSON (streamed: train2017 size is fine) and its image folder
  cityscapes  a Cityscapes root holding leftImg8bit/ and gtFine/
Images are referenced where they are, not copied. Ctrl-C cancels and leaves nothing behind.`,
  async run(argv, io) {
    const [kind, ...rest] = argv
    if (kind !== 'coco' && kind !== 'cityscapes') {
      throw new CliUsageError(
        kind
          ? `Unknown dataset kind "${kind}": use coco or cityscapes.`
          : 'Say which kind: coco or cityscapes.',
      )
    }
    const { values } = parseArgs({
      args: rest,
      options: {
        annotations: { type: 'string' },
        images: { type: 'string' },
        root: { type: 'string' },
        split: { type: 'string' },
        name: { type: 'string' },
        'data-dir': { type: 'string' },
        'no-demo': { type: 'boolean', default: false },
      },
      strict: true,
    })
    let request: z.output<typeof ImportRequest>
    if (kind === 'coco') {
      if (!values.annotations || !values.images)
        throw new CliUsageError('coco needs --annotations FILE and --images DIR.')
      request = ImportRequest.parse({
        kind,
        annotations: values.annotations,
        images: values.images,
        name: values.name,
      })
    } else {
      if (!values.root) throw new CliUsageError('cityscapes needs --root DIR.')
      request = ImportRequest.parse({
        kind,
        root: values.root,
        split: values.split ?? 'val',
        name: values.name,
      })
    }
    const studio = await openCliStudio(values['data-dir'], io, { noDemo: values['no-demo'] })
    const { db } = studio
    const dataDir = studio.options.dataDir
    const bar = progressReporter(io)
    const rate = rateTracker()
    try {
      const outcome = await runImport(
        {
          db,
          signal: io.signal,
          progress: (p) => bar.update({ ...p, ...rate(p) }),
        },
        request,
      )
      bar.end({ done: outcome.images, total: outcome.images, unit: 'images', detail: '' })
      io.stdout.write(
        `Imported dataset ${outcome.datasetId}: ${outcome.images.toLocaleString('en-US')} images, ${outcome.annotations.toLocaleString('en-US')} annotations into ${dataDir}\n`,
      )
      for (const w of outcome.warnings) io.stdout.write(`warning: ${w}\n`)
      return 0
    } catch (err) {
      bar.end()
      if (err instanceof AppError && err.code === 'CANCELLED') {
        io.stderr.write('Import cancelled; nothing was kept.\n')
        return 130
      }
      throw err
    } finally {
      await studio.close()
    }
  },
}
