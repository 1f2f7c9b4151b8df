import type { ReportTarget } from '../../core/reports/gather'
import { CliUsageError } from '../command'

const ids = (flag: string, text: string): number[] =>
  text.split(',').map((v) => {
    const t = v.trim()
    if (!/^\d+$/.test(t) || Number(t) <= 0)
      throw new CliUsageError(`--${flag} takes run ids (gcstudio run list), not "${text}"`)
    return Number(t)
  })

/** The flags `report` and `export-figures` share: what to report, where, which data folder. */
export const reportTargetOptions = {
  run: { type: 'string' },
  compare: { type: 'string' },
  attention: { type: 'string' },
  out: { type: 'string' },
  'data-dir': { type: 'string' },
} as const

/** `--run N`, `--compare A,B[,C,D]` or `--attention N`: exactly one of them. */
export function reportTarget(values: {
  run?: string | undefined
  compare?: string | undefined
  attention?: string | undefined
}): ReportTarget {
  const given = (['run', 'compare', 'attention'] as const).filter((k) => values[k] !== undefined)
  if (given.length !== 1)
    throw new CliUsageError(
      given.length === 0
        ? 'say what to report: --run N, --compare A,B[,C] or --attention N'
        : `give only one of --run, --compare, --attention (got ${given.map((g) => `--${g}`).join(', ')})`,
    )
  const flag = given[0]!
  const list = ids(flag, values[flag]!)
  if (flag === 'compare') {
    if (list.length < 2 || list.length > 4)
      throw new CliUsageError(`--compare takes 2 to 4 run ids, got ${list.length}`)
    return { kind: 'compare', runIds: list }
  }
  if (list.length !== 1)
    throw new CliUsageError(`--${flag} takes one run id, got "${values[flag]}"`)
  return { kind: flag, runId: list[0]! }
}
