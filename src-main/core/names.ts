/**
 * Finds one row by what the user typed: its id, its exact name, the name before " (" (the
 * studio appends "(GC r4)" to model names), or a unique prefix. Several matches are listed.
 */
export function matchByName<T extends { id: number; name: string }>(
  rows: T[],
  ref: string,
): { match: T } | { candidates: T[] } {
  if (/^\d+$/.test(ref)) {
    const byId = rows.find((r) => r.id === Number(ref))
    if (byId) return { match: byId }
  }
  // The same exact name twice (imported again): the newest, as before.
  const exact = rows.filter((r) => r.name === ref).sort((a, b) => b.id - a.id)[0]
  if (exact) return { match: exact }
  const lower = ref.toLowerCase()
  const tiers: ((r: T) => boolean)[] = [
    (r) => r.name.toLowerCase() === lower,
    (r) => r.name.split(' (')[0]!.toLowerCase() === lower,
    (r) => r.name.toLowerCase().startsWith(lower),
  ]
  for (const tier of tiers) {
    const found = rows.filter(tier)
    if (found.length === 1) return { match: found[0]! }
    if (found.length > 1) return { candidates: found }
  }
  return { candidates: [] }
}
