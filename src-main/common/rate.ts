/** Rate and ETA from a sliding window of (time, done) samples, restarted at each phase. */
export function rateTracker() {
  let samples: { t: number; done: number }[] = []
  let phase = ''
  return (p: { phase: string; done: number; total: number | null }) => {
    const now = Date.now()
    if (p.phase !== phase) {
      samples = []
      phase = p.phase
    }
    samples.push({ t: now, done: p.done })
    while (samples.length > 2 && now - samples[0]!.t > 5000) samples.shift()
    const first = samples[0]!
    const dt = (now - first.t) / 1000
    const rate = dt > 0.5 ? (p.done - first.done) / dt : null
    const etaSeconds =
      rate && rate > 0 && p.total !== null ? Math.max(0, (p.total - p.done) / rate) : null
    return { rate, etaSeconds }
  }
}
