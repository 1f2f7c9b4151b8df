import type { Distribution } from '../../../../src-main/common/api/attention'

export const fmt = (v: number | null | undefined, digits = 3): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits)

/** "0.62 (0.55–0.70)": mean with the 5th–95th percentiles. */
export const spread = (d: Distribution | null | undefined, digits = 3): string =>
  d ? `${fmt(d.mean, digits)} (${fmt(d.p05, digits)}–${fmt(d.p95, digits)})` : '–'
