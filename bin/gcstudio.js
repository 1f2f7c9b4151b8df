#!/usr/bin/env node
// The `gcstudio` command. The TypeScript sources are built into out/ by `npm install`
// (the `prepare` script) and `npm run build`.
import { existsSync } from 'node:fs'

const cli = new URL('../out/main/cli.js', import.meta.url)
if (!existsSync(cli)) {
  console.error(
    'GC Studio is not built yet: run `npm run build` in its folder (npm install does it).',
  )
  process.exit(1)
}
// `gcstudio model list | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(0)
    throw err
  })
}
// The built CLI, found at run time beside this file: not a layer import.
// eslint-disable-next-line layers/import-patterns
const { main } = await import(cli.href)
process.exitCode = await main(process.argv.slice(2))
