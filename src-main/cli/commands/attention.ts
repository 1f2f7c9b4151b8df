import { writeFileSync } from 'node:fs'
import { openCliStudio } from '../dataDir'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { AttentionStats, Distribution } from '../../common/api/attention'
import { CliUsageError, type CliCommand } from '../command'
import { progressReporter } from '../progress'

/** The stable `--json` document (see the README's "Attention analytics"). */
export function attentionJson(s: AttentionStats) {
  const d = (x: Distribution | null) =>
    x ? { mean: x.mean, p05: x.p05, p50: x.p50, p95: x.p95, n: x.n } : null
  return {
    run: s.runId,
    model: s.modelName,
    images: s.images,
    partial: s.partial,
    regions: s.regions,
    contextDistance: s.params.contextDistance,
    notes: s.notes,
    blocks: s.blocks.map((b) => ({
      index: b.index,
      stage: b.stage,
      indexInStage: b.indexInStage,
      channels: b.channels,
      ratio: b.ratio,
      entropy: d(b.entropy),
      top1Mass: d(b.top1Mass),
      inObjectRatio: d(b.inObjectRatio),
      contextMass: d(b.contextMass),
      contextArea: d(b.contextArea),
      selectivity: d(b.transform?.selectivityDistribution ?? null),
    })),
    stages: Object.fromEntries(
      Object.entries(s.stages).map(([k, v]) => [
        k,
        {
          blocks: v.blocks,
          ratio: v.ratio,
          entropy: d(v.entropy),
          top1Mass: d(v.top1Mass),
          inObjectRatio: d(v.inObjectRatio),
          contextMass: d(v.contextMass),
          contextArea: d(v.contextArea),
          selectivity: d(v.selectivity),
        },
      ]),
    ),
  }
}

const f = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined ? '-' : v.toFixed(digits)

/** The per-block and per-stage tables as text. */
export function attentionTable(s: AttentionStats): string {
  const head = [
    '',
    'ratio',
    'images',
    'entropy',
    'p50',
    'top 1%',
    'in-object',
    'context',
    'ctx area',
  ]
  const rows: string[][] = []
  for (const b of s.blocks)
    rows.push([
      `block ${b.index} (${b.stage ?? 'no stage'}.${b.indexInStage})`,
      `r${f(b.ratio, 0)}`,
      String(b.images),
      f(b.entropy.mean),
      f(b.entropy.p50),
      f(b.top1Mass.mean),
      f(b.inObjectRatio?.mean),
      f(b.contextMass?.mean),
      f(b.contextArea?.mean),
    ])
  for (const [k, v] of Object.entries(s.stages))
    rows.push([
      `stage ${k}`,
      v.ratio === null ? '' : `r${f(v.ratio, 0)}`,
      String(v.entropy.n),
      f(v.entropy.mean),
      f(v.entropy.p50),
      f(v.top1Mass.mean),
      f(v.inObjectRatio?.mean),
      f(v.contextMass?.mean),
      f(v.contextArea?.mean),
    ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [
    `Run ${s.runId} (${s.modelName}): ${s.images} images, context = farther than ${s.params.contextDistance} px from every object`,
    ...s.notes.map((n) => `note: ${n}`),
    line(head),
    ...rows.map(line),
  ].join('\n')
}

export const attentionCommand: CliCommand = {
  name: 'attention',
  usage: `gcstudio attention --run RUN [--json OUT.json] [--context-distance PX] [--tap] [--data-dir DIR]

  Per GC block and per stage, over the run's finished images: normalised entropy of the softmax
  map (1 = uniform), mass on the top 1% of positions, mass on ground-truth objects over their
  area share (in-object ratio: > 1 looks at objects, < 1 at context), and mass farther than
  PX image pixels (default 32) from every object (context reach). Computed once and stored.
  --json writes {"run", "blocks": [{"index", "stage", "ratio", "entropy": {"mean", "p50"},
  "inObjectRatio": {"mean"}, "top1Mass": {"mean"}, ...}], "stages": {"c3": {...}, ...}}.
  --tap first computes the attention maps of a run made without taps (only the taps run; its
  predictions stay as they are).`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        run: { type: 'string' },
        json: { type: 'string' },
        'context-distance': { type: 'string' },
        tap: { type: 'boolean' },
        'data-dir': { type: 'string' },
      },
      strict: true,
    })
    if (!values.run) throw new CliUsageError('attention needs --run.')
    const runId = Number(values.run)
    if (!Number.isInteger(runId) || runId <= 0)
      throw new CliUsageError(`--run must be a run id, got "${values.run}".`)
    const contextDistance = values['context-distance'] ? Number(values['context-distance']) : 32
    if (!Number.isFinite(contextDistance) || contextDistance < 0)
      throw new CliUsageError(
        `--context-distance must be a distance in pixels, got "${values['context-distance']}".`,
      )
    const studio = await openCliStudio(values['data-dir'], io)
    try {
      const bar = progressReporter(io)
      const ctx = {
        signal: io.signal,
        progress: (done: number, total: number | null, phase?: string) =>
          bar.update({
            phase: phase ?? '',
            done,
            total,
            unit: 'images',
            rate: null,
            etaSeconds: null,
            detail: '',
          }),
      }
      if (values.tap) {
        const { images } = await studio.attention.tap(runId, ctx)
        bar.end()
        io.stdout.write(`Computed attention maps for ${images} images of run ${runId}.\n`)
      }
      const stats = await studio.attention.compute(runId, { contextDistance }, ctx)
      bar.end()
      io.stdout.write(`${attentionTable(stats)}\n`)
      if (values.json) {
        const out = path.resolve(io.cwd, values.json)
        writeFileSync(out, `${JSON.stringify(attentionJson(stats), null, 2)}\n`)
        io.stdout.write(`Wrote ${out}\n`)
      }
      return 0
    } finally {
      await studio.close()
    }
  },
}
