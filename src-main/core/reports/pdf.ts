/**
 * PDF from the report's HTML, printed by a Chromium found on this machine (the CLI and the
 * browser host; the desktop app prints with its own webContents). Chromium keeps text as text
 * and inline SVG as vectors. Electron's binary, when installed, prints through a tiny main
 * script (it has no --print-to-pdf switch); otherwise a system Chromium prints headless.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { AppError } from '../../common/errors'
import { packageRoot } from '../paths'
import { writeFailure, writeFileAtomically } from './output'

export interface Printer {
  kind: 'electron' | 'chromium'
  path: string
}

const SYSTEM_CHROMIUMS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue
    const p = path.join(dir, name)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return p
    } catch {
      // Not in this folder.
    }
  }
  return null
}

/** Electron's binary as the `electron` package installed it (path.txt names it), if present. */
function electronBinary(): string | null {
  try {
    const dir = path.join(packageRoot(), 'node_modules', 'electron')
    const rel = fs.readFileSync(path.join(dir, 'path.txt'), 'utf8').trim()
    const p = path.join(dir, 'dist', rel)
    return fs.existsSync(p) ? p : null
  } catch {
    return null
  }
}

/** The printers to try, best first: GCSTUDIO_CHROMIUM, Electron's binary, a system Chromium. */
export function findPrinters(): Printer[] {
  const out: Printer[] = []
  const env = process.env.GCSTUDIO_CHROMIUM
  if (env !== undefined) {
    // Set (even to nothing) means "use exactly this": tests and users can rule out the rest.
    if (env && fs.existsSync(env)) out.push({ kind: 'chromium', path: env })
    return out
  }
  const electron = electronBinary()
  if (electron) out.push({ kind: 'electron', path: electron })
  for (const name of SYSTEM_CHROMIUMS) {
    const p = onPath(name) ?? (fs.existsSync(`/usr/bin/${name}`) ? `/usr/bin/${name}` : null)
    if (p && !out.some((o) => o.path === p)) out.push({ kind: 'chromium', path: p })
  }
  return out
}

export const NO_CHROMIUM_MESSAGE =
  'No Chromium was found to print the PDF (looked for Electron’s binary and chromium, chromium-browser, google-chrome on PATH and in /usr/bin). Install one (Debian/Ubuntu: `apt-get install chromium`) or set GCSTUDIO_CHROMIUM to its path; the HTML report works without it: write to a .html file and print it from any browser.'

function run(
  cmd: string,
  args: string[],
  signal?: AbortSignal,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env, signal })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 20_000) stderr += c.toString()
    })
    // A hung browser must not hang the report.
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stderr })
    })
  })
}

const ELECTRON_PRINT_SCRIPT = `
const { app, BrowserWindow } = require('electron')
const fs = require('fs')
const [html, pdf] = process.argv.slice(-2)
app.whenReady().then(async () => {
  const win = new BrowserWindow({ show: false, webPreferences: { sandbox: true, javascript: false } })
  await win.loadFile(html)
  const data = await win.webContents.printToPDF({ printBackground: true, preferCSSPageSize: true })
  fs.writeFileSync(pdf, data)
  app.exit(0)
}).catch((e) => { console.error(e && e.message); app.exit(1) })
`

async function printWith(
  printer: Printer,
  htmlFile: string,
  pdfFile: string,
  signal?: AbortSignal,
): Promise<string | null> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gcstudio-print-'))
  try {
    let result
    if (printer.kind === 'electron') {
      const script = path.join(profile, 'print.cjs')
      fs.writeFileSync(script, ELECTRON_PRINT_SCRIPT)
      const env = { ...process.env }
      delete env.ELECTRON_RUN_AS_NODE
      result = await run(
        printer.path,
        ['--no-sandbox', '--disable-gpu', `--user-data-dir=${profile}`, script, htmlFile, pdfFile],
        signal,
        env,
      )
    } else {
      result = await run(
        printer.path,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          `--user-data-dir=${profile}`,
          '--no-pdf-header-footer',
          `--print-to-pdf=${pdfFile}`,
          pathToFileURL(htmlFile).href,
        ],
        signal,
      )
    }
    const ok = fs.existsSync(pdfFile) && fs.statSync(pdfFile).size > 0
    if (ok) return null
    return `${printer.path} exited with ${result.code}: ${result.stderr.trim().split('\n').slice(-3).join(' ')}`
  } finally {
    fs.rmSync(profile, { recursive: true, force: true })
  }
}

/**
 * Prints `html` to `target` (PDF): the HTML goes to a temporary file, the PDF to a temporary
 * name in the target's folder, renamed once complete. Returns the printer used.
 */
export async function printPdf(
  html: string,
  target: string,
  signal?: AbortSignal,
): Promise<Printer> {
  const printers = findPrinters()
  if (printers.length === 0) throw new AppError('UNSUPPORTED', NO_CHROMIUM_MESSAGE)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gcstudio-report-'))
  const htmlFile = path.join(work, 'report.html')
  const tmpPdf = path.join(work, 'report.pdf')
  try {
    fs.writeFileSync(htmlFile, html)
    const failures: string[] = []
    for (const printer of printers) {
      signal?.throwIfAborted()
      const failure = await printWith(printer, htmlFile, tmpPdf, signal)
      if (failure === null) {
        await writeFileAtomically(target, fs.readFileSync(tmpPdf))
        return printer
      }
      failures.push(failure)
    }
    throw new AppError('INTERNAL', `Printing the PDF failed: ${failures.join('; ')}`)
  } catch (err) {
    if (err instanceof AppError) throw err
    if (signal?.aborted) throw new AppError('CANCELLED', 'The report was cancelled.')
    throw writeFailure(target, err)
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}
