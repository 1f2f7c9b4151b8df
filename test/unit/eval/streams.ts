/** In-memory stdout/stderr for running CLI commands in tests. */
import { Writable } from 'node:stream'
import type { CliIo } from '../../../src-main/cli/command'

export interface CapturedIo extends CliIo {
  out(): string
  err(): string
}

export function captureIo(
  cwd: string,
  signal: AbortSignal = new AbortController().signal,
): CapturedIo {
  const sink = () => {
    const chunks: string[] = []
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        chunks.push(String(chunk))
        callback()
      },
    })
    return { stream, text: () => chunks.join('') }
  }
  const stdout = sink()
  const stderr = sink()
  return {
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: {},
    cwd,
    signal,
    out: stdout.text,
    err: stderr.text,
  }
}
