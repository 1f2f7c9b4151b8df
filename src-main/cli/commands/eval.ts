/**
 * `gcstudio eval`: COCO box/mask AP and Cityscapes mIoU/iIoU on files from anywhere, with the
 * numbers and printed tables of pycocotools and cityscapesScripts.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { formatCityscapesTables } from '../../core/eval/cityscapesReport'
import { formatCocoSummary } from '../../core/eval/cocoReport'
import { EvalError } from '../../core/eval/errors'
import { writeJsonAtomically } from '../../core/eval/export'
import { formatTideSummary } from '../../core/eval/tide'
import { type EvalJob, runEvalJob } from '../../core/eval/job'
import { type CliCommand, type CliIo, CliUsageError } from '../command'
import { COCO_STAT_NAMES } from '../../common/cocoStats'

const usage = `Usage:
  gcstudio eval coco --gt instances.json --dets results.json --iou-type bbox|segm [--errors] [--json out.json]
  gcstudio eval cityscapes --gt DIR --pred DIR [--ids label|train] [--json out.json]
  gcstudio eval --run RUN [--data-dir DIR]

coco        Detection AP exactly as pycocotools' COCOeval computes it.
  --gt        COCO instances JSON (ground truth)
  --dets      COCO results JSON: [{image_id, category_id, bbox or segmentation, score}]
  --iou-type  bbox or segm
  --errors    also the TIDE error breakdown (Cls, Loc, Both, Dupe, Bkg, Miss, FalsePos,
              FalseNeg as dAP in points) exactly as tidecv 1.0.1 computes it

cityscapes  Semantic segmentation IoU/iIoU exactly as cityscapesScripts'
            evalPixelLevelSemanticLabeling.py computes them.
  --gt        directory with *_gtFine_labelIds.png (and *_instanceIds.png beside them)
  --pred      directory with one prediction PNG per ground truth image, paired by the
              Cityscapes stem {city}_{seq}_{frame}, or by identical file name
  --ids       what the prediction PNGs hold: label (default, the official format) or train

  --json FILE also write the results as JSON (a stable format for scripts)

--run       evaluate a stored run (gcstudio run list) against its dataset's current ground
            truth, as the app's Evaluate does, and store the result

Exit status: 0 evaluated, 1 the input is wrong (the message names the first bad entry),
2 the command line is wrong, 130 interrupted.`

function parse(argv: string[]): {
  mode: 'coco' | 'cityscapes' | 'run'
  values: Record<string, string | boolean | undefined>
} {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        gt: { type: 'string' },
        dets: { type: 'string' },
        'iou-type': { type: 'string' },
        pred: { type: 'string' },
        ids: { type: 'string' },
        json: { type: 'string' },
        errors: { type: 'boolean' },
        run: { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    throw new CliUsageError((error as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help) return { mode: 'coco', values }
  if (values.run !== undefined) {
    const stray = Object.keys(values).find((key) => !['run', 'data-dir'].includes(key))
    if (stray || positionals.length > 0)
      throw new CliUsageError(
        `--run takes no other options (got ${stray ? `--${stray}` : positionals[0]})`,
      )
    if (!/^\d+$/.test(values.run) || Number(values.run) <= 0)
      throw new CliUsageError(`--run takes a run id (gcstudio run list), not "${values.run}"`)
    return { mode: 'run', values }
  }
  const [mode, ...extra] = positionals
  if (mode !== 'coco' && mode !== 'cityscapes') {
    throw new CliUsageError(
      mode === undefined
        ? 'Say what to evaluate: coco or cityscapes'
        : `Unknown evaluation "${mode}": use coco or cityscapes`,
    )
  }
  if (extra.length > 0) throw new CliUsageError(`Unexpected argument "${extra[0]}"`)
  const allowed =
    mode === 'coco' ? ['gt', 'dets', 'iou-type', 'errors', 'json'] : ['gt', 'pred', 'ids', 'json']
  const stray = Object.keys(values).find((key) => !allowed.includes(key) && key !== 'help')
  if (stray) throw new CliUsageError(`--${stray} does not apply to eval ${mode}`)
  const required = mode === 'coco' ? ['gt', 'dets', 'iou-type'] : ['gt', 'pred']
  const missing = required.find((key) => values[key as keyof typeof values] === undefined)
  if (missing) throw new CliUsageError(`eval ${mode} needs --${missing}`)
  if (mode === 'coco' && !['bbox', 'segm'].includes(values['iou-type']!)) {
    throw new CliUsageError(`--iou-type must be bbox or segm, not "${values['iou-type']}"`)
  }
  if (
    mode === 'cityscapes' &&
    values.ids !== undefined &&
    !['label', 'train'].includes(values.ids)
  ) {
    throw new CliUsageError(`--ids must be label or train, not "${values.ids}"`)
  }
  return { mode, values }
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const { mode, values } = parse(argv)
  if (values.help) {
    io.stdout.write(usage + '\n')
    return 0
  }
  if (mode === 'run')
    return evaluateStoredRun(Number(values.run), values['data-dir'] as string | undefined, io)
  const path = (key: string): string => resolve(io.cwd, values[key] as string)
  const job: EvalJob =
    mode === 'coco'
      ? {
          kind: 'coco',
          iouType: values['iou-type'] as 'bbox' | 'segm',
          groundTruth: { path: path('gt') },
          detections: { path: path('dets') },
          // The confusion matrix and the per-category and per-image results are only written to
          // --json; the printed summary has none.
          ...(values.json === undefined ? { confusion: false as const, details: false } : {}),
          errors: values.errors === true,
        }
      : {
          kind: 'cityscapes',
          groundTruthDir: path('gt'),
          predictionDir: path('pred'),
          predictionIds: (values.ids as 'label' | 'train' | undefined) ?? 'label',
        }
  try {
    const result = await runEvalJob(job, { signal: io.signal })
    if (result.kind === 'coco') {
      const { evaluation, report } = result
      io.stdout.write(
        `COCO ${evaluation.iouType} evaluation: ${report.counts.images} images, ${report.counts.categories} categories, ` +
          `${report.counts.groundTruth} ground truth objects, ${report.counts.detections} detections\n`,
      )
      io.stdout.write(formatCocoSummary(evaluation).join('\n') + '\n')
      if (result.errors !== undefined) {
        io.stdout.write(
          result.errors === null
            ? '\nTIDE: nothing to measure (no ground truth objects and no detections)\n'
            : `\nTIDE error breakdown (tidecv 1.0.1)\n${formatTideSummary(result.errors, evaluation.iouType).join('\n')}\n`,
        )
      }
      for (const warning of evaluation.warnings) io.stderr.write(`warning: ${warning}\n`)
    } else {
      const { evaluation, unusedPredictions } = result
      io.stdout.write(
        `Evaluated ${evaluation.images} pairs of images (${evaluation.predictionIds} ids)\n\n`,
      )
      io.stdout.write(formatCityscapesTables(evaluation))
      if (unusedPredictions.length > 0) {
        io.stderr.write(
          `warning: ${unusedPredictions.length} prediction file(s) matched no ground truth, e.g. ${unusedPredictions[0]}\n`,
        )
      }
    }
    if (values.json !== undefined) {
      await writeJsonAtomically(path('json'), result.report)
      io.stderr.write(`wrote ${path('json')}\n`)
    }
    return 0
  } catch (error) {
    if (error instanceof EvalError) {
      if (error.reason === 'EVAL_ABORTED') {
        io.stderr.write('interrupted: nothing was written\n')
        return 130
      }
      io.stderr.write(`gcstudio eval: ${error.message}\n`)
      return 1
    }
    throw error
  }
}

/** `eval --run`: the app's evaluation of a stored run, printed and kept in the store. */
async function evaluateStoredRun(
  runId: number,
  dataDir: string | undefined,
  io: CliIo,
): Promise<number> {
  // Loaded here, not at the top: the studio (store, sharp, workers) and the contract's schemas
  // would cost `eval coco` on files more start-up time than a whole evaluation.
  const { openCliStudio } = await import('../dataDir')
  const { parseCocoMetrics } = await import('../../common/api/evaluationViews')
  const studio = await openCliStudio(dataDir, io)
  try {
    const evaluations = studio.evaluations
    const done = await evaluations.evaluate(runId)
    let failed = false
    for (const e of done) {
      if (e.status !== 'done') {
        failed = true
        io.stderr.write(`gcstudio eval: run ${runId} ${e.kind} failed: ${e.error}\n`)
        continue
      }
      const { stats } = parseCocoMetrics(evaluations.get(e.id).metrics)
      io.stdout.write(
        `Run ${runId} ${e.kind} (evaluation ${e.id}, ${e.imageCount} images, ground truth v${e.gtVersion}):\n`,
      )
      if (stats)
        io.stdout.write(
          COCO_STAT_NAMES.map((n, i) => `  ${n.padEnd(6)} ${stats[i]!.toFixed(3)}`).join('\n') +
            '\n',
        )
      else
        io.stdout.write(`  mIoU ${e.primaryMetric === null ? '-' : e.primaryMetric.toFixed(4)}\n`)
    }
    return failed ? 1 : 0
  } finally {
    await studio.close()
  }
}

export const evalCommand: CliCommand = {
  name: 'eval',
  usage,
  run,
}
