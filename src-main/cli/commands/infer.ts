import { parseArgs } from 'node:util'
import { EpChoice, type Job } from '../../common/api'
import { AppError } from '../../common/errors'
import { findModel } from '../../core/models/registry'
import { datasetStore } from '../../core/store/datasets'
import type { Db } from '../../core/store/store'
import { CliUsageError, type CliCommand } from '../command'
import { progressReporter } from '../progress'
import { openCliStudio } from '../dataDir'
import { matchByName } from '../../core/names'

/** The dataset a user named: id, name, or a unique prefix of its name. */
export function findDatasetId(db: Db, ref: string): number {
  const found = matchByName(datasetStore(db).names(), ref)
  if ('match' in found) return found.match.id
  throw new AppError(
    'NOT_FOUND',
    found.candidates.length
      ? `"${ref}" matches ${found.candidates.length} datasets: ${found.candidates.map((c) => `${c.id} "${c.name}"`).join(', ')}. Give its id or its full name.`
      : `No dataset "${ref}" (give its id or name; \`gcstudio dataset list\` shows them).`,
  )
}

export const inferCommand: CliCommand = {
  name: 'infer',
  usage: `gcstudio infer --model M --dataset D [--ep auto|cpu|cuda|dml|coreml] [--limit N] [--no-taps] [--threads N] [--score-thr X] [--resume RUN] [--data-dir DIR]

  --model M     model id, name ("mask-rcnn-gc-r4" finds "mask-rcnn-gc-r4 (GC r4)"), a unique
                prefix of it, or a sha256 prefix (gcstudio model list)
  --dataset D   dataset id, name or unique name prefix (gcstudio dataset list)
  --limit N     only the first N images
  --no-taps     skip the GC-block attention outputs
  --resume RUN  continue an interrupted or cancelled run
Ctrl-C stops the run; finished images are kept and --resume continues it.`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        dataset: { type: 'string' },
        ep: { type: 'string', default: 'auto' },
        limit: { type: 'string' },
        'no-taps': { type: 'boolean', default: false },
        threads: { type: 'string', default: '0' },
        'score-thr': { type: 'string' },
        resume: { type: 'string' },
        'data-dir': { type: 'string' },
        'no-demo': { type: 'boolean', default: false },
      },
      strict: true,
    })
    const ep = EpChoice.safeParse(values.ep)
    if (!ep.success) throw new CliUsageError(`--ep must be one of ${EpChoice.options.join(', ')}.`)
    const int = (v: string | undefined, name: string) => {
      if (v === undefined) return undefined
      const n = Number(v)
      if (!Number.isInteger(n) || n < 0)
        throw new CliUsageError(`${name} must be a whole number, got "${v}".`)
      return n
    }
    const scoreThr = values['score-thr'] === undefined ? undefined : Number(values['score-thr'])
    if (scoreThr !== undefined && !(scoreThr >= 0 && scoreThr <= 1))
      throw new CliUsageError('--score-thr must be between 0 and 1.')
    const studio = await openCliStudio(values['data-dir'], io, { noDemo: values['no-demo'] })
    const { db, runs } = studio
    const bar = progressReporter(io)
    // The progress bar follows the run's job, as the app's jobs tray does.
    studio.bus.subscribe((e) => {
      if (e.name !== 'job:progress') return
      const job = e.payload as Job
      if (job.kind !== 'run' || job.state !== 'running') return
      const r = runs.get(job.runId!)
      bar.update({
        phase: `Run ${r.id} (${r.executionProvider ?? '…'})`,
        done: job.done,
        total: job.total,
        unit: job.unit,
        rate: job.rate,
        etaSeconds: job.etaSeconds,
        detail: job.detail,
      })
    })
    let runId: number
    try {
      if (values.resume) {
        runId = runs.resume(int(values.resume, '--resume')!).id
      } else {
        if (!values.model || !values.dataset)
          throw new CliUsageError('infer needs --model and --dataset.')
        const model = findModel(db, values.model)
        const limit = int(values.limit, '--limit')
        runId = runs.start({
          modelId: model.id,
          datasetId: findDatasetId(db, values.dataset),
          ep: ep.data,
          taps: !values['no-taps'],
          threads: int(values.threads, '--threads') ?? 0,
          ...(limit ? { limit } : {}),
          ...(scoreThr !== undefined ? { scoreThreshold: scoreThr } : {}),
        }).id
      }
      const onAbort = () => runs.cancel(runId)
      io.signal.addEventListener('abort', onAbort, { once: true })
      await runs.idle()
      io.signal.removeEventListener('abort', onAbort)
      const r = runs.get(runId)
      bar.end({ done: r.imagesDone + r.imagesFailed, total: r.imagesTotal, rate: r.rate })
      io.stdout.write(
        `Run ${r.id} ${r.status}: ${r.imagesDone} images done, ${r.imagesFailed} failed, on ${r.executionProvider ?? '?'}` +
          `${r.rate ? `, ${r.rate.toFixed(2)} images/s` : ''}${r.meanInferenceMs ? `, ${r.meanInferenceMs.toFixed(1)} ms per forward pass` : ''}.\n`,
      )
      for (const f of r.failures) io.stdout.write(`failed: ${f.images} x ${f.message}\n`)
      if (r.notes) io.stdout.write(`note: ${r.notes}\n`)
      if (r.error) io.stderr.write(`error: ${r.error}\n`)
      if (r.status === 'cancelled')
        io.stdout.write(`Resume with: gcstudio infer --resume ${r.id}\n`)
      return r.status === 'done' ? 0 : r.status === 'cancelled' ? 130 : 1
    } finally {
      await studio.close()
    }
  },
}
