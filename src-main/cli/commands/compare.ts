/**
 * `gcstudio compare`: 2-4 stored runs of one dataset side by side, with deltas against the first
 * run, a paired bootstrap 95% interval of the AP (mIoU) delta, and instances fixed and broken.
 * The comparison is saved in the store, so the app's Compare view lists it too.
 */
import { openCliStudio } from '../dataDir'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { ComparisonDetail } from '../../common/api/compare'
import { COCO_STAT_NAMES } from '../../common/cocoStats'
import { formatDelta, points } from '../../common/compareFormat'
import { writeJsonAtomically } from '../../core/eval/export'
import { type CliCommand, CliUsageError } from '../command'
import { progressReporter } from '../progress'

const usage = `Usage:
  gcstudio compare --run A --run B [--run C --run D] [--iou-type bbox|segm] [--score-thr 0.5]
                   [--seed N] [--resamples 1000] [--json out.json] [--data-dir DIR]

  --run ID       a finished run (gcstudio run list); 2 to 4 of them, all of one dataset.
                 The first is the reference every delta is taken against.
  --iou-type     bbox (default) or segm, for detection runs
  --score-thr    score a detection needs to count as finding an object, for the instances
                 fixed (found by a run, missed by the first) and broken (the reverse); 0.5
  --seed N       seed of the paired bootstrap over images (default 1: same seed, same interval)
  --resamples N  bootstrap resamples (default 1000)
  --json FILE    also write the comparison as JSON (a stable format for scripts):
                 {"iouType", "scoreThr", "runs": [{"id", "model", "stats": [12 COCOeval numbers]}],
                  "vsFirst": [{"id", "deltaStats": [12, null where either is -1], "apCI95": [lo, hi],
                  "fixed", "broken"}]}; Cityscapes runs give runs[].mIoU, vsFirst[].deltaMIoU,
                  vsFirst[].mIoUCI95 (fixed/broken in pixels). Numbers are fractions, as COCOeval's.

Runs without an evaluation at the dataset's current ground truth are evaluated first.
Exit status: 0 compared, 1 the runs cannot be compared (the message says why), 2 bad command line.`

export function formatComparison(c: ComparisonDetail): string {
  const s = c.summary!
  const lines: string[] = []
  const name = (runId: number) => {
    const r = s.runs.find((x) => x.runId === runId)!
    return `run ${runId} ${r.modelName}`
  }
  const width = Math.max(...s.runs.map((r) => name(r.runId).length), 'vs reference'.length) + 2
  lines.push(
    `Comparison ${c.id}: ${s.runs.length} runs on "${c.datasetName}" (${s.imageCount} images, ground truth v${c.gtVersion})` +
      (s.kind === 'coco' ? `, ${s.iouType}, instances at score >= ${s.scoreThreshold}` : '') +
      `; paired bootstrap ${s.resamples} resamples, seed ${s.seed}`,
    '',
  )
  if (s.kind === 'coco') {
    lines.push(''.padEnd(width) + COCO_STAT_NAMES.map((n) => n.padStart(7)).join(''))
    s.runs.forEach((r, i) => {
      lines.push(name(r.runId).padEnd(width) + r.stats!.map((v) => points(v).padStart(7)).join(''))
      if (i > 0) {
        const d = s.vsReference[i - 1]!
        lines.push(
          `  Δ vs run ${s.runs[0]!.runId}`.padEnd(width) +
            d.deltaStats!.map((v) => points(v, true).padStart(7)).join(''),
        )
      }
    })
  } else {
    lines.push(''.padEnd(width) + ['mIoU', 'iIoU', 'cat mIoU'].map((n) => n.padStart(9)).join(''))
    for (const r of s.runs)
      lines.push(
        name(r.runId).padEnd(width) +
          [r.mIoU, r.iIoU, r.categoryMIoU].map((v) => points(v).padStart(9)).join(''),
      )
  }
  const metric = s.kind === 'coco' ? 'AP' : 'mIoU'
  const unit = s.kind === 'coco' ? 'instances' : 'pixels'
  lines.push(
    '',
    `${metric} delta vs ${name(s.runs[0]!.runId)}, with its paired bootstrap 95% interval:`,
  )
  for (const d of s.vsReference)
    lines.push(
      `  ${name(d.runId).padEnd(width)}${formatDelta(d.delta, d.ci95).padEnd(24)}${unit} fixed ${d.fixed}, broken ${d.broken}`,
    )
  for (const w of s.warnings) lines.push(`warning: ${w}`)
  return lines.join('\n') + '\n'
}

/** The stable `--json` document. */
export function comparisonJson(c: ComparisonDetail): Record<string, unknown> {
  const s = c.summary!
  const model = (id: number) => s.runs.find((r) => r.runId === id)!.modelName
  if (s.kind === 'coco')
    return {
      iouType: s.iouType,
      scoreThr: s.scoreThreshold,
      runs: s.runs.map((r) => ({ id: r.runId, model: r.modelName, stats: r.stats })),
      vsFirst: s.vsReference.map((d) => ({
        id: d.runId,
        model: model(d.runId),
        deltaStats: d.deltaStats,
        apCI95: d.ci95,
        fixed: d.fixed,
        broken: d.broken,
      })),
      comparisonId: c.id,
      images: s.imageCount,
      seed: s.seed,
      resamples: s.resamples,
    }
  return {
    iouType: null,
    runs: s.runs.map((r) => ({
      id: r.runId,
      model: r.modelName,
      mIoU: r.mIoU,
      iIoU: r.iIoU,
      categoryMIoU: r.categoryMIoU,
    })),
    vsFirst: s.vsReference.map((d) => ({
      id: d.runId,
      model: model(d.runId),
      deltaMIoU: d.delta,
      mIoUCI95: d.ci95,
      fixedPixels: d.fixed,
      brokenPixels: d.broken,
    })),
    comparisonId: c.id,
    images: s.imageCount,
    seed: s.seed,
    resamples: s.resamples,
  }
}

function parse(argv: string[]) {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        run: { type: 'string', multiple: true },
        'iou-type': { type: 'string', default: 'bbox' },
        'score-thr': { type: 'string', default: '0.5' },
        seed: { type: 'string', default: '1' },
        resamples: { type: 'string', default: '1000' },
        json: { type: 'string' },
        'data-dir': { type: 'string' },
      },
    })
  } catch (error) {
    throw new CliUsageError((error as Error).message)
  }
  const { values } = parsed
  const runs = (values.run ?? []).map((v) => {
    if (!/^\d+$/.test(v) || Number(v) <= 0)
      throw new CliUsageError(`--run takes a run id (gcstudio run list), not "${v}"`)
    return Number(v)
  })
  if (runs.length < 2 || runs.length > 4)
    throw new CliUsageError(`compare needs 2 to 4 --run options, got ${runs.length}`)
  if (values['iou-type'] !== 'bbox' && values['iou-type'] !== 'segm')
    throw new CliUsageError(`--iou-type must be bbox or segm, not "${values['iou-type']}"`)
  const scoreThreshold = Number(values['score-thr'])
  if (!(scoreThreshold >= 0 && scoreThreshold <= 1))
    throw new CliUsageError(`--score-thr must be between 0 and 1, not "${values['score-thr']}"`)
  const seed = Number(values.seed)
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new CliUsageError(`--seed must be a whole number 0..4294967295, not "${values.seed}"`)
  const resamples = Number(values.resamples)
  if (!Number.isInteger(resamples) || resamples < 100 || resamples > 100_000)
    throw new CliUsageError(
      `--resamples must be a whole number 100..100000, not "${values.resamples}"`,
    )
  return {
    request: {
      runIds: runs,
      iouType: values['iou-type'] as 'bbox' | 'segm',
      scoreThreshold,
      seed,
      resamples,
    },
    json: values.json,
    dataDir: values['data-dir'],
  }
}

export const compareCommand: CliCommand = {
  name: 'compare',
  usage,
  async run(argv, io) {
    const { request, json, dataDir } = parse(argv)
    const studio = await openCliStudio(dataDir, io)
    try {
      const service = studio.comparisons
      const bar = progressReporter(io)
      const created = await service.create(request, {
        signal: io.signal,
        onProgress: (done, total, phase) =>
          bar.update({ phase, done, total, unit: '', rate: null, etaSeconds: null, detail: '' }),
      })
      bar.end()
      const detail = service.get(created.id)
      io.stdout.write(formatComparison(detail))
      if (json !== undefined) {
        const file = resolve(io.cwd, json)
        await writeJsonAtomically(file, comparisonJson(detail))
        io.stderr.write(`wrote ${file}\n`)
      }
      return 0
    } finally {
      await studio.close()
    }
  },
}
