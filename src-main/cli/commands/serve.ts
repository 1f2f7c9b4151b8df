import { spawn } from 'node:child_process'
import { parseArgs } from 'node:util'
import { resolveDataDir } from '../../core/paths'
import { startServer } from '../../hosts/server/serve'
import { CliUsageError, type CliCommand } from '../command'

function openBrowser(url: string): void {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]]
  try {
    const child = spawn(cmd, args as string[], { detached: true, stdio: 'ignore' })
    child.on('error', () => {})
    child.unref()
  } catch {
    // No browser to open: the URL is printed anyway.
  }
}

export const serveCommand: CliCommand = {
  name: 'serve',
  usage: `gcstudio serve [--port N] [--data-dir DIR] [--no-open] [--no-demo]

  --port N        port on 127.0.0.1 (default: a free one)
  --data-dir DIR  data folder (default: GCSTUDIO_DATA_DIR or the OS user-data folder)
  --no-open       print the URL without opening a browser
  --no-demo       do not import the bundled demo datasets into a new data folder`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        'no-open': { type: 'boolean', default: false },
        'no-demo': { type: 'boolean', default: false },
      },
      strict: true,
    })
    let port: number | undefined
    if (values.port !== undefined) {
      port = Number(values.port)
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new CliUsageError(`--port must be a number from 0 to 65535, got "${values.port}".`)
    }
    const dataDir = resolveDataDir(values['data-dir'], io.env)
    const server = await startServer({
      dataDir,
      ...(port !== undefined ? { port } : {}),
      importDemo: !values['no-demo'],
      log: (line) => io.stderr.write(line + '\n'),
    })
    io.stdout.write(
      `GC Studio is running. Open this URL in your browser:\n\n  ${server.url}\n\nData folder: ${dataDir}\nPress Ctrl-C to stop.\n`,
    )
    if (!values['no-open']) openBrowser(server.url)
    await new Promise<void>((resolve) =>
      io.signal.addEventListener('abort', () => resolve(), { once: true }),
    )
    io.stderr.write('Stopping...\n')
    await server.close()
    return 0
  },
}
