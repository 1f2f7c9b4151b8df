import fs from 'node:fs'
import path from 'node:path'
import { resolveDataDir } from '../core/paths'
import { storeFileName } from '../core/store/store'
import { Studio } from '../core/studio'
import type { CliIo } from './command'

/**
 * The studio a CLI command works in: the same `Studio` object the desktop and browser hosts
 * build (store, jobs, runs, evaluations, the dispatcher), over the data folder the command names.
 * A new folder gets the demo datasets and models, as the app's first start does, so
 * `gcstudio infer --model mask-rcnn-gc-r4 --dataset …` works for a newcomer straight away
 * (`--no-demo` or GCSTUDIO_NO_DEMO=1 skips it). Close it with `studio.close()`.
 */
export async function openCliStudio(
  dataDirArg: string | undefined,
  io: CliIo,
  opts: { noDemo?: boolean } = {},
): Promise<Studio> {
  const dataDir = resolveDataDir(dataDirArg, io.env)
  const fresh = !fs.existsSync(path.join(dataDir, storeFileName))
  const studio = Studio.open({
    dataDir,
    host: 'cli',
    log: (line) => io.stderr.write(line + '\n'),
  })
  if (fresh && !opts.noDemo && !io.env.GCSTUDIO_NO_DEMO) {
    io.stderr.write(
      `New data folder ${dataDir}: importing the demo datasets and models, as the app does (once; --no-demo skips this).\n`,
    )
    try {
      await studio.ensureDemoDatasets()
      studio.ensureDemoModels()
    } catch (err) {
      await studio.close()
      throw err
    }
  }
  return studio
}
