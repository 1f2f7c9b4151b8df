/**
 * What this install can run models on: onnxruntime's version, which execution providers it can
 * load (onnxruntime-node ships the CPU provider; on Linux the CUDA/TensorRT provider libraries
 * are downloaded by its install script, which offline or script-less installs never run), which
 * GPU devices the machine has, and the one command that fixes a GPU left unused.
 */
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import type { DoctorReport, ProviderStatus } from '../../common/api/models'
import { AppError } from '../../common/errors'
import type { ExecutionProvider } from './protocol'

const requireCjs = createRequire(import.meta.url)

export interface DoctorProbe {
  platform: NodeJS.Platform
  arch: string
  /** onnxruntime-node's package folder (null: not installed). */
  ortDir: string | null
  /** Folder whose nvidia* device nodes tell an NVIDIA driver is loaded. */
  devDir: string
  /** `nvidia-smi -L`'s output, null when it is not there or fails. */
  nvidiaSmi: () => string | null
}

export function defaultProbe(): DoctorProbe {
  let ortDir: string | null = null
  try {
    ortDir = path.dirname(requireCjs.resolve('onnxruntime-node/package.json'))
  } catch {
    ortDir = null
  }
  return {
    platform: process.platform,
    arch: process.arch,
    ortDir,
    devDir: '/dev',
    nvidiaSmi: () => {
      try {
        return execFileSync('nvidia-smi', ['-L'], { timeout: 3000, encoding: 'utf8' })
      } catch {
        return null
      }
    },
  }
}

const lib = (platform: NodeJS.Platform, name: string) =>
  platform === 'win32'
    ? `onnxruntime_providers_${name}.dll`
    : platform === 'darwin'
      ? `libonnxruntime_providers_${name}.dylib`
      : `libonnxruntime_providers_${name}.so`

export function doctorReport(probe: DoctorProbe = defaultProbe()): DoctorReport {
  const { platform } = probe
  const version = probe.ortDir
    ? (
        JSON.parse(fs.readFileSync(path.join(probe.ortDir, 'package.json'), 'utf8')) as {
          version: string
        }
      ).version
    : null
  const binDir = probe.ortDir
    ? path.join(probe.ortDir, 'bin', 'napi-v6', platform, probe.arch)
    : null
  const has = (f: string) => binDir !== null && fs.existsSync(path.join(binDir, f))
  const shared = has(lib(platform, 'shared'))

  let nvidiaDetail: string
  let nvidia = false
  const devNodes =
    platform === 'linux' && fs.existsSync(probe.devDir)
      ? fs.readdirSync(probe.devDir).filter((f) => /^nvidia(\d+|ctl)$/.test(f))
      : []
  const smi = platform === 'darwin' ? null : probe.nvidiaSmi()
  if (smi && /GPU \d+:/.test(smi)) {
    nvidia = true
    nvidiaDetail = smi.trim().split('\n')[0]!
  } else if (devNodes.length) {
    nvidia = true
    nvidiaDetail = `${devNodes.map((d) => `/dev/${d}`).join(', ')} present (nvidia-smi not available)`
  } else {
    nvidiaDetail =
      platform === 'darwin'
        ? 'macOS has no CUDA'
        : `no NVIDIA GPU found (${platform === 'linux' ? 'no /dev/nvidia* device; ' : ''}nvidia-smi not found or lists no GPU)`
  }

  const cudaFiles = has(lib(platform, 'cuda')) && (platform === 'win32' || shared)
  const trtFiles = has(lib(platform, 'tensorrt')) && (platform === 'win32' || shared)
  const missing = (name: string) =>
    `onnxruntime-node's ${name} provider is not installed (${binDir ? `${binDir} has no ${lib(platform, name.toLowerCase() === 'cuda' ? 'cuda' : 'tensorrt')}` : 'onnxruntime-node not found'})`
  const providers: ProviderStatus[] = [
    {
      name: 'cuda',
      usable: cudaFiles && nvidia,
      detail:
        platform === 'darwin'
          ? 'not available on macOS'
          : !cudaFiles
            ? missing('CUDA')
            : nvidia
              ? `provider installed; NVIDIA GPU: ${nvidiaDetail}`
              : `provider installed, but no NVIDIA GPU: ${nvidiaDetail}`,
    },
    {
      name: 'tensorrt',
      usable: trtFiles && nvidia,
      detail:
        platform === 'darwin'
          ? 'not available on macOS'
          : trtFiles
            ? 'provider installed (needs TensorRT libraries on the system; the studio runs it only when asked)'
            : missing('TensorRT'),
    },
    {
      name: 'dml',
      usable: platform === 'win32' && has('DirectML.dll'),
      detail:
        platform === 'win32'
          ? has('DirectML.dll')
            ? 'DirectML ships with onnxruntime-node on Windows (any DirectX 12 GPU)'
            : `DirectML.dll missing from ${binDir}`
          : 'Windows only',
    },
    {
      name: 'coreml',
      usable: platform === 'darwin',
      detail: platform === 'darwin' ? 'CoreML ships with onnxruntime-node on macOS' : 'macOS only',
    },
    { name: 'cpu', usable: version !== null, detail: 'always available' },
  ]
  const devices: DoctorReport['devices'] = [
    { kind: 'nvidia', present: nvidia, detail: nvidiaDetail },
    {
      kind: 'directml',
      present: platform === 'win32',
      detail: platform === 'win32' ? 'DirectX 12 (Windows)' : 'Windows only',
    },
    {
      kind: 'coreml',
      present: platform === 'darwin',
      detail: platform === 'darwin' ? 'Apple Neural Engine / GPU' : 'macOS only',
    },
  ]
  const usable = (n: string) => providers.find((p) => p.name === n)!.usable
  const autoProvider = usable('cuda')
    ? 'cuda'
    : usable('dml')
      ? 'dml'
      : usable('coreml')
        ? 'coreml'
        : 'cpu'
  const advice =
    nvidia && !cudaFiles && platform === 'linux'
      ? 'An NVIDIA GPU is present but the CUDA provider files are missing: run `gcstudio setup-gpu` (downloads them once; needs the internet).'
      : null
  const autoReason =
    autoProvider !== 'cpu'
      ? `${autoProvider} is usable`
      : nvidia && !cudaFiles
        ? `an NVIDIA GPU is present but ${missing('CUDA')}; run \`gcstudio setup-gpu\``
        : nvidia
          ? `the CUDA provider is installed but could not be used with this GPU (${nvidiaDetail})`
          : nvidiaDetail
  return {
    platform: `${platform}/${probe.arch}`,
    node: process.versions.node,
    onnxruntime: { version, binDir },
    providers,
    devices,
    autoProvider,
    autoReason,
    advice,
  }
}

/**
 * A run asked for one provider explicitly must get it or fail with the reason, never fall
 * back to the CPU quietly.
 */
export function requireProvider(
  ep: ExecutionProvider,
  report: DoctorReport = doctorReport(),
): void {
  const p = report.providers.find((x) => x.name === ep)
  if (!p || p.usable) return
  throw new AppError(
    'UNSUPPORTED',
    `The ${ep} execution provider was asked for, but this install cannot use it: ${p.detail}.${report.advice ? ` ${report.advice}` : ''} Or choose "auto" or "cpu".`,
  )
}

export interface SetupGpuResult {
  ok: boolean
  offline: boolean
  message: string
  output: string
}

/**
 * Runs onnxruntime-node's own installer with the CUDA 12 option, which downloads the CUDA and
 * TensorRT provider libraries into its bin folder. Offline machines get that said plainly.
 */
export function setupGpu(
  probe: DoctorProbe = defaultProbe(),
  run: (script: string, cwd: string) => Promise<{ code: number | null; output: string }> = runNode,
): Promise<SetupGpuResult> {
  if (!probe.ortDir)
    return Promise.resolve({
      ok: false,
      offline: false,
      message: 'onnxruntime-node is not installed here: run `npm install` first.',
      output: '',
    })
  const script = path.join(probe.ortDir, 'script', 'install.js')
  return run(script, probe.ortDir).then(({ code, output }) => {
    const offline =
      /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|getaddrinfo|fetch failed|network/i.test(
        output,
      )
    if (code === 0) {
      const after = doctorReport(probe)
      const cuda = after.providers.find((p) => p.name === 'cuda')!
      return {
        ok: true,
        offline: false,
        message: `onnxruntime-node's installer finished. CUDA: ${cuda.usable ? 'usable' : cuda.detail}.`,
        output,
      }
    }
    return {
      ok: false,
      offline,
      message: offline
        ? `This machine cannot reach the download server (onnxruntime-node fetches the CUDA 12 provider from api.nuget.org). Connect it to the internet and run \`gcstudio setup-gpu\` again, or copy libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so from a machine that has them into ${doctorReport(probe).onnxruntime.binDir}.`
        : `onnxruntime-node's installer failed (exit code ${code}); its output is below.`,
      output,
    }
  })
}

function runNode(script: string, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, '--onnxruntime-node-install=cuda12'], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' },
    })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    child.on('error', (err) => resolve({ code: 1, output: output + err.message }))
    child.on('close', (code) => resolve({ code, output }))
  })
}

let cached: DoctorReport | null = null
/** The report for this process, made once (nvidia-smi takes a moment; devices do not change). */
export function cachedDoctorReport(): DoctorReport {
  cached ??= doctorReport()
  return cached
}
