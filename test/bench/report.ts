import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** Writes a benchmark's numbers beside the benchmarks, with the machine they came from. */
export function writeReport(name: string, results: Record<string, unknown>): string {
  const dir = path.join(import.meta.dirname, 'results')
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `${name}.json`)
  const machine = {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  }
  fs.writeFileSync(
    file,
    JSON.stringify({ name, date: new Date().toISOString(), machine, results }, null, 2) + '\n',
  )
  console.log(
    `\n${name}:\n${JSON.stringify(results, null, 2)}\n-> ${path.relative(process.cwd(), file)}`,
  )
  return file
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}
