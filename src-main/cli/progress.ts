import { formatAmount, formatEta } from '../common/format'
import type { CliIo } from './command'

export interface ProgressLine {
  phase: string
  done: number
  total: number | null
  unit: string
  rate: number | null
  etaSeconds: number | null
  detail: string
}

/**
 * A one-line progress bar on a terminal (redrawn in place, at most 10 times a second) and
 * plain lines every few seconds when output is a file or a pipe (CI logs).
 */
export function progressReporter(io: CliIo) {
  const out = io.stderr
  const tty = Boolean(out.isTTY)
  let last = 0
  let lastPhase = ''
  /** The newest state, drawn or not: the throttle must not leave the bar short of the end. */
  let latest: ProgressLine | null = null
  let drawn = true
  const draw = (p: ProgressLine) => {
    drawn = true
    const frac = p.total ? Math.min(1, p.done / p.total) : null
    const width = 24
    const bar =
      frac === null
        ? ''
        : `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ${(frac * 100).toFixed(0).padStart(3)}% `
    const rate = p.rate ? ` ${formatAmount(p.rate, p.unit)}/s` : ''
    const eta = p.etaSeconds !== null ? ` ETA ${formatEta(p.etaSeconds)}` : ''
    const count = p.total
      ? `${formatAmount(p.done, p.unit)} / ${formatAmount(p.total, p.unit)}`
      : formatAmount(p.done, p.unit)
    const line = `${p.phase}: ${bar}${count}${rate}${eta}${p.detail ? ` · ${p.detail}` : ''}`
    if (tty) {
      const cols = out.columns ?? 120
      out.write(`\r${line.slice(0, cols - 1).padEnd(cols - 1)}`)
    } else {
      out.write(line + '\n')
    }
  }
  return {
    update(p: ProgressLine) {
      latest = p
      drawn = false
      const now = Date.now()
      const phaseChanged = p.phase !== lastPhase
      if (!phaseChanged && now - last < (tty ? 100 : 3000)) return
      last = now
      lastPhase = p.phase
      draw(p)
    },
    /**
     * Draws the final state: `final` (the true totals, when the caller knows them) or the
     * last update the throttle held back, so a finished bar says 100% and the real counts.
     */
    end(final?: Partial<ProgressLine>) {
      const p = latest && final ? { ...latest, ...final, etaSeconds: null } : latest
      if (p && (!drawn || final)) draw(p)
      if (tty && (last || p)) out.write('\n')
    },
  }
}
