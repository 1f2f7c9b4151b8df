import { parseArgs } from 'node:util'
import { doctorReport, setupGpu } from '../../core/inference/doctor'
import type { CliCommand } from '../command'

export const doctorCommand: CliCommand = {
  name: 'doctor',
  usage: `gcstudio doctor [--json]

Reports the onnxruntime version, the execution providers this install can load, whether an
NVIDIA GPU (or DirectML / CoreML) is present, what "--ep auto" will use and why, and the one
command to run when a GPU is present but its provider files are missing.`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: { json: { type: 'boolean', default: false } },
      strict: true,
    })
    const r = doctorReport()
    if (values.json) {
      io.stdout.write(JSON.stringify(r, null, 2) + '\n')
      return 0
    }
    const w = (s: string) => io.stdout.write(s + '\n')
    w(
      `onnxruntime-node ${r.onnxruntime.version ?? 'not installed'} on ${r.platform}, Node ${r.node}`,
    )
    if (r.onnxruntime.binDir) w(`  provider libraries in ${r.onnxruntime.binDir}`)
    w('Execution providers:')
    for (const p of r.providers) w(`  ${p.usable ? 'yes' : 'no '}  ${p.name.padEnd(9)} ${p.detail}`)
    w('Devices:')
    for (const d of r.devices) w(`  ${d.present ? 'yes' : 'no '}  ${d.kind.padEnd(9)} ${d.detail}`)
    w(`--ep auto runs on: ${r.autoProvider} (${r.autoReason})`)
    if (r.advice) w(`\n${r.advice}`)
    return 0
  },
}

export const setupGpuCommand: CliCommand = {
  name: 'setup-gpu',
  usage: `gcstudio setup-gpu

Runs onnxruntime-node's install script (node_modules/onnxruntime-node/script/install.js) with
--onnxruntime-node-install=cuda12, which downloads the CUDA and TensorRT provider libraries into
its bin folder. Then \`gcstudio doctor\` shows whether CUDA is usable.`,
  async run(argv, io) {
    parseArgs({ args: argv, options: {}, strict: true })
    io.stderr.write("Running onnxruntime-node's installer with the CUDA 12 option...\n")
    const r = await setupGpu()
    if (!r.ok && !r.offline && r.output) io.stderr.write(r.output.trimEnd() + '\n')
    ;(r.ok ? io.stdout : io.stderr).write(`${r.ok ? '' : 'gcstudio setup-gpu: '}${r.message}\n`)
    return r.ok ? 0 : 1
  },
}
