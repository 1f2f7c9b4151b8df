// Runs one of the TypeScript evaluation scripts under test/bench/ with plain Node: bundles it with
// rolldown (already installed as vite's bundler) into .cache/ and imports the bundle.
//
//   node test/bench/evalRun.mjs test/bench/evalBench.ts [--quick] [--skip-python]
import { mkdirSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { basename, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { build } from 'rolldown'

const [entry, ...rest] = process.argv.slice(2)
if (!entry) {
  console.error('usage: node test/bench/evalRun.mjs <script.ts> [args...]')
  process.exit(2)
}
const outDir = resolve('.cache/eval-bench')
mkdirSync(outDir, { recursive: true })
const outFile = resolve(outDir, basename(entry).replace(/\.ts$/, '.mjs'))
const external = [...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'sharp', 'rolldown']
await build({
  input: resolve(entry),
  platform: 'node',
  external,
  output: { file: outFile, format: 'esm' },
  logLevel: 'warn',
})
process.argv = [process.argv[0], outFile, ...rest]
await import(pathToFileURL(outFile).href)
