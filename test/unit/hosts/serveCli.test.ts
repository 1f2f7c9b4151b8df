/**
 * Issue 14, item 6: `gcstudio serve` on a port in use says so in one line and creates nothing;
 * Ctrl-C after an import of a FIFO still stops the server.
 */
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../helpers/fixtures'

const bin = path.join(import.meta.dirname, '../../../bin/gcstudio.js')

function serve(args: string[]) {
  const child = spawn(process.execPath, [bin, 'serve', '--no-open', '--no-demo', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
  const within = async (ms: number) => {
    const code = await Promise.race([
      exited,
      new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms)),
    ])
    if (code === 'hung') child.kill('SIGKILL')
    return code
  }
  return { child, out: () => out, err: () => err, within }
}

describe('gcstudio serve (item 6)', () => {
  it('on a port in use: one line, no stack trace, and no data folder or store created', async () => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()))
    const port = (blocker.address() as net.AddressInfo).port
    const dataDir = path.join(tempDir(), 'fresh')
    const s = serve(['--port', String(port), '--data-dir', dataDir])
    const code = await s.within(20_000)
    blocker.close()
    expect(code).toBe(1)
    expect(s.err()).toBe(
      `gcstudio serve: Port ${port} is already in use on 127.0.0.1; choose another with --port, or omit it for a free one.\n`,
    )
    expect(fs.existsSync(dataDir)).toBe(false)
  }, 30_000)

  it('Ctrl-C still stops the server after an import of a FIFO was refused', async () => {
    const dataDir = tempDir()
    const fifo = path.join(tempDir(), 'instances_val2017.json')
    execFileSync('mkfifo', [fifo])
    const s = serve(['--data-dir', dataDir])
    await expect.poll(() => s.out(), { timeout: 30_000 }).toMatch(/GC Studio is running/)
    const url = new URL(/http:\/\/127\.0\.0\.1:\d+\/\?token=\S+/.exec(s.out())![0])
    const token = url.searchParams.get('token')!
    const post = async (method: string, input: unknown) =>
      (await (
        await fetch(new URL(`/api/${method}`, url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-gcstudio-token': token },
          body: JSON.stringify(input),
        })
      ).json()) as { ok: boolean; value: { jobId: string } }
    const started = await post('datasets:import', {
      kind: 'coco',
      annotations: fifo,
      images: path.dirname(fifo),
    })
    let job: { state: string; error: { message: string } | null } | undefined
    await expect
      .poll(
        async () => {
          const list = (await post('jobs:list', {})) as unknown as {
            value: { id: string; state: string; error: { message: string } | null }[]
          }
          job = list.value.find((j) => j.id === started.value.jobId)
          return job?.state
        },
        { timeout: 10_000 },
      )
      .toBe('failed')
    expect(job!.error!.message).toMatch(/is not a regular file/)
    s.child.kill('SIGINT')
    expect(await s.within(10_000)).toBe(0)
  }, 60_000)
})
