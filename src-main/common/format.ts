export function formatAmount(n: number, unit: string): string {
  if (unit === 'bytes') {
    return n >= 1e9
      ? `${(n / 1e9).toFixed(2)} GB`
      : n >= 1e6
        ? `${(n / 1e6).toFixed(1)} MB`
        : `${(n / 1e3).toFixed(0)} kB`
  }
  return `${Math.round(n).toLocaleString('en-US')} ${unit}`
}

export function formatEta(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`
  const m = Math.floor(seconds / 60)
  return m < 60 ? `${m} min ${Math.round(seconds % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`
}

export const formatCount = (n: number) => n.toLocaleString('en-US')

/** Parameter and FLOP counts as model cards print them: 1.90 M, 178.56 M, 7.80 G, 876.0 k. */
export function formatMagnitude(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`
  return String(n)
}
