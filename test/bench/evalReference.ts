/**
 * Running pycocotools beside the studio, for the evaluation benchmarks and the parity check.
 * PYTHON (default /usr/bin/python3) must import `pycocotools` from PYCOCOTOOLS (default
 * /work/ref/cocoapi/PythonAPI, built as test/fixtures/eval/README.md says).
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import type { IouType } from '../../src-main/core/eval/cocoData'

export const python = process.env.PYTHON ?? '/usr/bin/python3'
export const pycocotoolsPath = process.env.PYCOCOTOOLS ?? '/work/ref/cocoapi/PythonAPI'
const runner = path.resolve(import.meta.dirname, '../fixtures/eval/pycocotools_runner.py')
const env = { ...process.env, PYTHONPATH: pycocotoolsPath }

export function pycocotoolsAvailable(): boolean {
  const probe = spawnSync(python, ['-c', 'import pycocotools.cocoeval'], { env, encoding: 'utf8' })
  return probe.status === 0
}

export interface PycocotoolsRun {
  stats: number[]
  perCategory: Record<string, number | null>
  summary: string[]
  seconds: { loadRes: number; evaluate: number; accumulate: number }
  maxRssMiB: number
  precision?: number[]
  recall?: number[]
  scores?: number[]
  detMatches?: Record<string, [number, boolean, number, boolean]>
  gtMatches?: Record<string, [number, number]>
}

export function runPycocotools(
  gt: string,
  dets: string,
  iouType: IouType,
  full = false,
): PycocotoolsRun {
  const args = [runner, 'coco', '--gt', gt, '--dets', dets, '--iou-type', iouType]
  if (full) args.push('--full')
  const run = spawnSync(python, args, { env, encoding: 'utf8', maxBuffer: 1 << 30 })
  if (run.status !== 0) throw new Error(`pycocotools failed: ${run.stderr}`)
  return JSON.parse(run.stdout) as PycocotoolsRun
}
