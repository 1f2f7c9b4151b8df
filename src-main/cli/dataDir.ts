import fs from 'node:fs'
import path from 'node:path'
import { resolveDataDir } from '../core/paths'
import { openStore, storeFileName, type Db } from '../core/store/store'
import { Studio } from '../core/studio'
import type { CliIo } from './command'

/**
 * The data folder a CLI command works in. A new one gets the demo datasets and models, as the
 * app's first start does, so `gcstudio infer --model mask-rcnn-gc-r4 --dataset …` works for a
 * newcomer straight away (`--no-demo` or GCSTUDIO_NO_DEMO=1 skips it).
 */
export async function openCliStore(
  dataDirArg: string | undefined,
  io: CliIo,
  opts: { noDemo?: boolean } = {},
): Promise<{ db: Db; dataDir: string }> {
  const dataDir = resolveDataDir(dataDirArg, io.env)
  const fresh = !fs.existsSync(path.join(dataDir, storeFileName))
  if (fresh && !opts.noDemo && !io.env.GCSTUDIO_NO_DEMO) {
    io.stderr.write(
      `New data folder ${dataDir}: importing the demo datasets and models, as the app does (once; --no-demo skips this).\n`,
    )
    const studio = Studio.open({
      dataDir,
      host: 'browser',
      log: (line) => io.stderr.write(line + '\n'),
    })
    try {
      await studio.ensureDemoDatasets()
      studio.ensureDemoModels()
    } finally {
      await studio.close()
    }
  }
  return { db: openStore(dataDir), dataDir }
}
