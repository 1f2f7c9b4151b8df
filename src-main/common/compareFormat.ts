/**
 * How comparisons print their numbers, shared by the CLI and the views: COCO and Cityscapes
 * fractions as points with one decimal, deltas signed, intervals in brackets ("+0.8 [-0.4, +2.1]").
 */

/** Points (x100, one decimal); "-" for undefined (null, NaN, COCOeval's -1). */
export function points(value: number | null | undefined, signed = false, minus = '-'): string {
  if (value === null || value === undefined || Number.isNaN(value) || (!signed && value === -1))
    return '-'
  const text = Math.abs(value * 100).toFixed(1)
  if (value < 0 && text !== '0.0') return `${minus}${text}`
  return signed ? `+${text}` : text
}

/** A delta and its 95% interval in points: "+0.8 [-0.4, +2.1]". */
export function formatDelta(
  delta: number | null,
  ci: readonly [number, number] | null,
  minus = '-',
): string {
  return `${points(delta, true, minus)}${ci ? ` [${points(ci[0], true, minus)}, ${points(ci[1], true, minus)}]` : ''}`
}

/** Whether an interval lies wholly on one side of zero (the difference is larger than chance). */
export function excludesZero(ci: readonly [number, number] | null): boolean {
  return ci !== null && (ci[0] > 0 || ci[1] < 0)
}
