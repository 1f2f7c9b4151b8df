#!/usr/bin/env node
// `npm start`: the desktop app where the Electron binary is installed; otherwise (offline
// builds cannot download it) the browser host, with the URL to open.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const require = createRequire(import.meta.url)
const args = process.argv.slice(2)

function electronBinary() {
  try {
    const p = require('electron') // the binary's path; throws when the download never happened
    return typeof p === 'string' && fs.existsSync(p) ? p : null
  } catch {
    return null
  }
}

/** better-sqlite3 must be compiled for Electron's ABI; keep that build beside the Node one. */
function ensureElectronSqlite() {
  const dest = path.join(root, '.electron-native', 'better-sqlite3')
  const binary = path.join(dest, 'build', 'Release', 'better_sqlite3.node')
  const electronVersion = require('electron/package.json').version
  const stamp = path.join(dest, '.electron-version')
  if (
    fs.existsSync(binary) &&
    fs.existsSync(stamp) &&
    fs.readFileSync(stamp, 'utf8') === electronVersion
  )
    return true
  console.log(`Building better-sqlite3 for Electron ${electronVersion} (once)...`)
  fs.rmSync(dest, { recursive: true, force: true })
  fs.cpSync(path.dirname(require.resolve('better-sqlite3/package.json')), dest, {
    recursive: true,
    filter: (src) => !src.includes(`${path.sep}build${path.sep}`),
  })
  const nodeGyp = path.join(
    path.dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  )
  const gyp = fs.existsSync(nodeGyp)
    ? [process.execPath, [nodeGyp]]
    : ['npx', ['--yes', 'node-gyp']]
  const res = spawnSync(
    gyp[0],
    [
      ...gyp[1],
      'rebuild',
      '--release',
      `--target=${electronVersion}`,
      '--runtime=electron',
      '--dist-url=https://electronjs.org/headers',
    ],
    {
      cwd: dest,
      stdio: 'inherit',
    },
  )
  if (res.status !== 0) return false
  fs.writeFileSync(stamp, electronVersion)
  return true
}

if (!fs.existsSync(path.join(root, 'out', 'main', 'cli.js'))) {
  const b = spawnSync('npm', ['run', 'build'], {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  })
  if (b.status !== 0) process.exit(b.status ?? 1)
}

const electron = electronBinary()
if (electron && process.env.GCSTUDIO_BROWSER !== '1' && ensureElectronSqlite()) {
  const child = spawn(electron, [root, ...args], { stdio: 'inherit' })
  child.on('exit', (code) => process.exit(code ?? 0))
} else {
  console.log(
    electron
      ? 'Electron is installed but its native modules could not be built; starting the browser host instead.'
      : 'The Electron binary is not installed here (offline install); starting the browser host instead.',
  )
  const child = spawn(process.execPath, [path.join(root, 'bin', 'gcstudio.js'), 'serve', ...args], {
    stdio: 'inherit',
  })
  const forward = (sig) => child.kill(sig)
  process.on('SIGINT', forward).on('SIGTERM', forward)
  child.on('exit', (code) => process.exit(code ?? 0))
}
