import fs from 'node:fs'
import path from 'node:path'
import { AppError } from '../common/errors'
import { packageRoot } from '../core/paths'
import { CliUsageError, type CliCommand, type CliIo } from './command'

/**
 * Every subcommand, loaded only when it runs: scripts call `gcstudio eval` once per checkpoint,
 * and loading the server, onnxruntime and the store for an evaluation of two JSON files would
 * cost more than the evaluation itself.
 */
export interface CommandEntry {
  name: string
  summary: string
  load(): Promise<CliCommand>
}

const commands: CommandEntry[] = [
  {
    name: 'serve',
    summary: 'Run the studio in your browser (HTTP + WebSocket on 127.0.0.1)',
    load: async () => (await import('./commands/serve')).serveCommand,
  },
  {
    name: 'import',
    summary: 'Import a COCO or Cityscapes dataset into the store',
    load: async () => (await import('./commands/import')).importCommand,
  },
  {
    name: 'model',
    summary:
      'Import an ONNX model or mmdeploy folder, inspect its graph and GC blocks, list models',
    load: async () => (await import('./commands/model')).modelCommand,
  },
  {
    name: 'infer',
    summary: 'Run a model over a dataset: predictions and GC attention maps into the store',
    load: async () => (await import('./commands/infer')).inferCommand,
  },
  {
    name: 'eval',
    summary: 'COCO AP (bbox, segm) and Cityscapes mIoU/iIoU, identical to the official tools',
    load: async () => (await import('./commands/eval')).evalCommand,
  },
  {
    name: 'export',
    summary:
      "Write a run's predictions for the official tools (COCO results JSON, Cityscapes PNGs)",
    load: async () => (await import('./commands/export')).exportCommand,
  },
  {
    name: 'compare',
    summary: 'Compare 2-4 runs: deltas with bootstrap intervals, instances fixed and broken',
    load: async () => (await import('./commands/compare')).compareCommand,
  },
  {
    name: 'run',
    summary: 'List stored runs (ids for compare, eval --run, export)',
    load: async () => (await import('./commands/run')).runCommand,
  },
  {
    name: 'doctor',
    summary: 'What this install can run models on: onnxruntime, execution providers, GPUs',
    load: async () => (await import('./commands/doctor')).doctorCommand,
  },
  {
    name: 'setup-gpu',
    summary:
      "Install onnxruntime-node's CUDA 12 provider (runs its own installer; needs the internet)",
    load: async () => (await import('./commands/doctor')).setupGpuCommand,
  },
  {
    name: 'dataset',
    summary: 'List the datasets in the store (ids and names for --dataset)',
    load: async () => (await import('./commands/dataset')).datasetCommand,
  },
  {
    name: 'export-gt',
    summary:
      "Write a dataset's (edited) ground truth: COCO instances JSON or Cityscapes gtFine PNGs",
    load: async () => (await import('./commands/gt')).exportGtCommand,
  },
  {
    name: 'gt',
    summary: 'Ground-truth edits: history, versions, and the diff of two versions',
    load: async () => (await import('./commands/gt')).gtCommand,
  },
  {
    name: 'attention',
    summary: "Attention statistics of a run's GC blocks (entropy, in-object ratio, context reach)",
    load: async () => (await import('./commands/attention')).attentionCommand,
  },
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
  const entry = commands.find((c) => c.name === name)
  if (!entry) {
    full.stderr.write(`Unknown command "${name}".\n\n${help()}\n`)
    return 2
  }
  const command = await entry.load()
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
