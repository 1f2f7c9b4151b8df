/**
 * How a report writes numbers: COCO and Cityscapes fractions as points with one decimal (the
 * papers' convention, 0.4037 -> "40.4"), deltas signed, intervals in brackets. One module, so
 * the HTML, the PDF, the tables and the tests that read them back all agree.
 */
import { formatMagnitude } from '../../common/format'

/** Points with one decimal; null for COCOeval's -1 ("no ground truth") and missing values. */
export const pts = (v: number | null | undefined): string | null =>
  v === null || v === undefined || !Number.isFinite(v) || v < 0 ? null : (v * 100).toFixed(1)

/** A signed difference in points: "+0.8", "-1.2", "+0.0". */
export const deltaPts = (v: number | null | undefined): string | null => {
  if (v === null || v === undefined || !Number.isFinite(v)) return null
  const s = (v * 100).toFixed(1)
  return s.startsWith('-') ? (s === '-0.0' ? '+0.0' : s) : `+${s}`
}

/** A 95% interval of a difference, in points: "[+0.2, +1.4]". */
export const intervalPts = (ci: readonly [number, number] | null | undefined): string | null =>
  ci ? `[${deltaPts(ci[0])}, ${deltaPts(ci[1])}]` : null

export const magnitude = (v: number | null | undefined): string | null =>
  v === null || v === undefined ? null : formatMagnitude(v)

/** A file-name-safe slug: "GC r4 (run 3)" -> "gc-r4-run-3". */
export const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60) || 'item'
