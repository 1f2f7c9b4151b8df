import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fs from 'node:fs'

export const productName = 'GC Studio'

/**
 * The OS user-data folder, the same one Electron's `app.getPath('userData')` gives for this
 * product name, so the desktop app, `gcstudio serve` and the CLI share one store by default.
 */
export function defaultDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = os.homedir(),
): string {
  if (platform === 'win32') {
    return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), productName)
  }
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', productName)
  return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), productName)
}

/** `--data-dir` wins over `GCSTUDIO_DATA_DIR`, which wins over the OS default. */
export function resolveDataDir(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const chosen = flag ?? env.GCSTUDIO_DATA_DIR
  return path.resolve(chosen && chosen.length > 0 ? chosen : defaultDataDir(env))
}

let cachedRoot: string | undefined

/** The package root (the folder with package.json), from sources and from the build alike. */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const pkg = path.join(dir, 'package.json')
    if (fs.existsSync(pkg)) {
      const name = (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name
      if (name === 'gcstudio') return (cachedRoot = dir)
    }
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error('GC Studio package root not found above ' + import.meta.url)
    dir = parent
  }
}

/** Built entry points of worker threads and child processes (`npm run build` makes them). */
export function builtWorkerPath(name: string): string {
  const file = path.join(packageRoot(), 'out', 'main', 'workers', `${name}.js`)
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: run \`npm run build\` first`)
  }
  return file
}

export function resourcesDir(): string {
  return path.join(packageRoot(), 'resources')
}

/** True when `child` is `parent` or inside it, after resolving `..` segments. */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child)
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))
}
