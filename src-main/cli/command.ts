/**
 * One `gcstudio` subcommand. Each lives in `src-main/cli/commands/<name>.ts` and is listed, with
 * its one-line summary, in `src-main/cli/index.ts`, which loads it only when it runs;
 * `gcstudio <name> --help` prints `usage`.
 */
export interface CliCommand {
  name: string
  usage: string
  /** Returns the process exit code. Throwing a `CliUsageError` prints its message and the usage. */
  run(argv: string[], io: CliIo): Promise<number>
}

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  env: NodeJS.ProcessEnv
  cwd: string
  /** Aborted on Ctrl-C: long commands stop cleanly and keep what they finished. */
  signal: AbortSignal
}

/** A mistake in how the command was called (missing flag, bad value): exit code 2. */
export class CliUsageError extends Error {
  override name = 'CliUsageError'
}
