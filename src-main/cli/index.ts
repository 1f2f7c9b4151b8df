import fs from 'node:fs'
import path from 'node:path'
import { AppError } from '../common/errors'
import { packageRoot } from '../core/paths'
import { CliUsageError, type CliCommand, type CliIo } from './command'
import { importCommand } from './commands/import'
import { serveCommand } from './commands/serve'
import { modelCommand } from './commands/model'
import { inferCommand } from './commands/infer'
import { evalCommand } from './commands/eval'
import { exportCommand } from './commands/export'
import { attentionCommand } from './commands/attention'

const commands: CliCommand[] = [
  serveCommand,
  importCommand,
  modelCommand,
  inferCommand,
  evalCommand,
  exportCommand,
  attentionCommand,
]

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length))
  return [
    'GC Studio: datasets, local ONNX inference, GC-block attention and evaluation for GCNet researchers.',
    '',
    'Usage: gcstudio <command> [options]    (gcstudio <command> --help for its options)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Data folder: --data-dir DIR, else GCSTUDIO_DATA_DIR, else the OS user-data folder.',
  ].join('\n')
}

/** Runs the CLI; resolves to the exit code. Errors are printed as one clear line, not a stack. */
export async function main(argv: string[], io?: Partial<CliIo>): Promise<number> {
  const controller = new AbortController()
  const full: CliIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
    ...io,
  }
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    full.stdout.write(help() + '\n')
    return name ? 0 : 2
  }
  if (name === '--version' || name === '-v') {
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {
      version: string
    }
    full.stdout.write(`${pkg.version}\n`)
    return 0
  }
  const command = commands.find((c) => c.name === name)
  if (!command) {
    full.stderr.write(`Unknown command "${name}".\n\n${help()}\n`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    full.stdout.write(`${command.usage}\n`)
    return 0
  }
  let interrupted = false
  const onSigint = () => {
    if (interrupted) process.exit(130)
    interrupted = true
    controller.abort()
  }
  if (!io?.signal) process.on('SIGINT', onSigint).on('SIGTERM', onSigint)
  try {
    return await command.run(rest, full)
  } catch (err) {
    if (
      err instanceof CliUsageError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      full.stderr.write(`gcstudio ${name}: ${(err as Error).message}\n\n${command.usage}\n`)
      return 2
    }
    if (err instanceof AppError) {
      full.stderr.write(`gcstudio ${name}: ${err.message}\n`)
      return 1
    }
    full.stderr.write(`gcstudio ${name}: ${(err as Error).stack ?? String(err)}\n`)
    return 1
  } finally {
    process.off('SIGINT', onSigint).off('SIGTERM', onSigint)
  }
}

export { commands }
