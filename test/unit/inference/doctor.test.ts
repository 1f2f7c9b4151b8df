import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  defaultProbe,
  doctorReport,
  setupGpu,
  type DoctorProbe,
} from '../../../src-main/core/inference/doctor'
import { Studio } from '../../../src-main/core/studio'
import type { Model, Run } from '../../../src-main/common/api'
import type { DoctorReport } from '../../../src-main/common/api/models'
import { main } from '../../../src-main/cli/index'
import { makeCocoFixture, tempDir } from '../../helpers/fixtures'

const ortVersion = (
  createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }
).version

/** An onnxruntime-node folder and a /dev of our own, to show what each machine would see. */
function fakeMachine(opts: { nvidiaDevice: boolean; cudaFiles: boolean }): DoctorProbe {
  const ortDir = tempDir()
  fs.writeFileSync(path.join(ortDir, 'package.json'), JSON.stringify({ version: '1.30.0' }))
  const bin = path.join(ortDir, 'bin', 'napi-v6', 'linux', 'x64')
  fs.mkdirSync(bin, { recursive: true })
  fs.writeFileSync(path.join(bin, 'libonnxruntime.so.1'), '')
  if (opts.cudaFiles)
    for (const f of ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'])
      fs.writeFileSync(path.join(bin, f), '')
  const devDir = tempDir()
  if (opts.nvidiaDevice) fs.writeFileSync(path.join(devDir, 'nvidia0'), '')
  return { platform: 'linux', arch: 'x64', ortDir, devDir, nvidiaSmi: () => null }
}

const provider = (r: DoctorReport, name: string) => r.providers.find((p) => p.name === name)!

describe('gcstudio doctor', () => {
  it('reports onnxruntime, the providers and the devices; without a GPU, auto is the CPU and says why', () => {
    const r = doctorReport({ ...defaultProbe(), devDir: tempDir(), nvidiaSmi: () => null })
    expect(r.onnxruntime.version).toBe(ortVersion)
    expect(provider(r, 'cpu').usable).toBe(true)
    expect(r.devices.find((d) => d.kind === 'nvidia')!.present).toBe(false)
    expect(r.autoProvider).toBe('cpu')
    expect(r.autoReason).toMatch(/^no NVIDIA GPU found \(no \/dev\/nvidia\* device/)
    expect(r.advice).toBeNull()
  })

  it('a GPU without the provider files gets the one command that installs them', () => {
    const r = doctorReport(fakeMachine({ nvidiaDevice: true, cudaFiles: false }))
    expect(r.devices[0]).toMatchObject({ kind: 'nvidia', present: true })
    expect(provider(r, 'cuda')).toMatchObject({ usable: false })
    expect(provider(r, 'cuda').detail).toMatch(/has no libonnxruntime_providers_cuda\.so/)
    expect(r.autoProvider).toBe('cpu')
    expect(r.autoReason).toMatch(/an NVIDIA GPU is present but .* run `gcstudio setup-gpu`/)
    expect(r.advice).toMatch(/run `gcstudio setup-gpu`/)
    // Once the files are there, auto is CUDA and there is nothing to advise.
    const after = doctorReport(fakeMachine({ nvidiaDevice: true, cudaFiles: true }))
    expect([after.autoProvider, provider(after, 'cuda').usable, after.advice]).toEqual([
      'cuda',
      true,
      null,
    ])
    // Provider files on a machine without an NVIDIA GPU do not make CUDA usable.
    const noGpu = doctorReport(fakeMachine({ nvidiaDevice: false, cudaFiles: true }))
    expect([noGpu.autoProvider, provider(noGpu, 'cuda').usable]).toEqual(['cpu', false])
  })

  it('prints the report from the CLI', async () => {
    let out = ''
    const code = await main(['doctor'], {
      stdout: { write: (s: string) => ((out += s), true) } as never,
    })
    expect(code).toBe(0)
    expect(out).toMatch(new RegExp(`^onnxruntime-node ${ortVersion.replace(/\./g, '\\.')} on `))
    expect(out).toMatch(/yes {2}cpu/)
    expect(out).toMatch(/--ep auto runs on: /)
  })
})

describe('gcstudio setup-gpu', () => {
  it("runs onnxruntime-node's installer with the CUDA 12 option and says plainly when the machine is offline", async () => {
    let called: { script: string; cwd: string } | null = null
    const probe = fakeMachine({ nvidiaDevice: true, cudaFiles: false })
    // What the installer prints without a network (captured from onnxruntime-node 1.30).
    const r = await setupGpu(probe, async (script, cwd) => {
      called = { script, cwd }
      return { code: 1, output: 'Error: getaddrinfo ENOTFOUND api.nuget.org\n' }
    })
    expect(called).toEqual({
      script: path.join(probe.ortDir!, 'script', 'install.js'),
      cwd: probe.ortDir,
    })
    expect(r.ok).toBe(false)
    expect(r.offline).toBe(true)
    expect(r.message).toMatch(/cannot reach the download server .*api\.nuget\.org/)
    // Any other failure shows the installer's own output.
    const other = await setupGpu(probe, async () => ({ code: 3, output: 'disk full' }))
    expect([other.offline, other.message]).toEqual([
      false,
      "onnxruntime-node's installer failed (exit code 3); its output is below.",
    ])
  })
})

describe('execution providers in runs', () => {
  const real = doctorReport()
  let studio: Studio
  let model: Model
  let datasetId: number
  beforeAll(async () => {
    studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
    const fx = await makeCocoFixture()
    const job = studio.jobs.startImport({
      kind: 'coco',
      annotations: fx.annotations,
      images: fx.images,
    })
    datasetId = (await studio.jobs.settled(job.id)).datasetId!
    const r = await studio.dispatch('models:add', {
      path: path.join(import.meta.dirname, '../../fixtures/onnx/mmdeploy_det'),
    })
    if (!r.ok) throw new Error(r.error.message)
    model = (r.value as { model: Model }).model
  })
  afterAll(async () => studio.close())

  it.skipIf(provider(real, 'cuda').usable)(
    'a run asked for --ep cuda that cannot have it is refused with the reason, not run on the CPU',
    async () => {
      const r = await studio.dispatch('runs:start', { modelId: model.id, datasetId, ep: 'cuda' })
      expect(r.ok).toBe(false)
      if (!r.ok) {
        expect(r.error.code).toBe('UNSUPPORTED')
        expect(r.error.message).toMatch(
          /^The cuda execution provider was asked for, but this install cannot use it: onnxruntime-node's CUDA provider is not installed .*Or choose "auto" or "cpu"\.$/,
        )
      }
      expect(studio.db.prepare('SELECT count(*) AS n FROM runs').get()).toEqual({ n: 0 })
    },
  )

  it.skipIf(real.autoProvider !== 'cpu')(
    'auto records the provider that ran and why a GPU was not used',
    async () => {
      const r = await studio.dispatch('runs:start', { modelId: model.id, datasetId })
      if (!r.ok) throw new Error(r.error.message)
      await studio.runs.idle()
      const run = studio.runs.get((r.value as Run).id)
      expect(run.executionProvider).toBe('cpu')
      expect(run.notes).toContain(`Ran on the CPU: ${real.autoReason}.`)
      const viaApi = await studio.dispatch('inference:doctor', {})
      expect(viaApi.ok && (viaApi.value as DoctorReport).autoProvider).toBe('cpu')
    },
  )
})
