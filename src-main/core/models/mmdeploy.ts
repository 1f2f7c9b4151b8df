import fs from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import { AppError } from '../../common/errors'
import { readJsonFile } from '../jsonFile'

/**
 * mmdeploy's export description: deploy.json (which file is the net), pipeline.json (the
 * preprocessing transforms and postprocessing parameters), detail.json (onnx_config: input and
 * output names, opset). Read leniently: unknown fields are kept out of the way, missing ones
 * fall back to mmdet's defaults.
 */
const Transform = z.object({ type: z.string() }).passthrough()
const PipelineJson = z.object({
  pipeline: z.object({
    tasks: z.array(
      z
        .object({
          name: z.string().optional(),
          module: z.string().optional(),
          transforms: z.array(Transform).optional(),
          params: z.record(z.string(), z.unknown()).optional(),
        })
        .passthrough(),
    ),
  }),
})
const DeployJson = z
  .object({
    models: z.array(z.object({ net: z.string() }).passthrough()).min(1),
    task: z.string().optional(),
  })
  .passthrough()
const DetailJson = z
  .object({
    onnx_config: z
      .object({
        input_names: z.array(z.string()).optional(),
        output_names: z.array(z.string()).optional(),
        opset_version: z.number().optional(),
      })
      .passthrough()
      .optional(),
    codebase_config: z
      .object({ post_processing: z.record(z.string(), z.unknown()).optional() })
      .passthrough()
      .optional(),
  })
  .passthrough()

export interface MmdeployInfo {
  onnxFile: string
  resize: { keepRatio: boolean; size: [number, number] } | null
  mean: [number, number, number] | null
  std: [number, number, number] | null
  toRgb: boolean
  padDivisor: number
  scoreThreshold: number | null
  maskThreshold: number | null
  inputName: string | null
  task: string | null
}

const triple = (v: unknown): [number, number, number] | null =>
  Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')
    ? (v as [number, number, number])
    : null

function findNumber(obj: unknown, key: string, depth = 0): number | null {
  if (!obj || typeof obj !== 'object' || depth > 4) return null
  for (const [k, v] of Object.entries(obj)) {
    if (k === key && typeof v === 'number') return v
    const inner = findNumber(v, key, depth + 1)
    if (inner !== null) return inner
  }
  return null
}

export function isMmdeployFolder(dir: string): boolean {
  return (
    fs.existsSync(path.join(dir, 'deploy.json')) || fs.existsSync(path.join(dir, 'pipeline.json'))
  )
}

export function readMmdeployFolder(dir: string): MmdeployInfo {
  const deployFile = path.join(dir, 'deploy.json')
  const deploy = fs.existsSync(deployFile) ? readJsonFile(deployFile, DeployJson) : null
  const onnxName = deploy?.models[0]?.net ?? 'end2end.onnx'
  const onnxFile = path.resolve(dir, onnxName)
  if (!onnxFile.startsWith(path.resolve(dir) + path.sep))
    throw new AppError('INVALID_INPUT', `${deployFile}: models[0].net points outside the folder.`)
  if (!fs.existsSync(onnxFile)) {
    const present = fs.readdirSync(dir).filter((f) => f.endsWith('.onnx'))
    throw new AppError(
      'NOT_FOUND',
      `${dir} names ${onnxName} as the model but it is not there (found: ${present.join(', ') || 'no .onnx file'}).`,
    )
  }
  const info: MmdeployInfo = {
    onnxFile,
    resize: null,
    mean: null,
    std: null,
    toRgb: true,
    padDivisor: 0,
    scoreThreshold: null,
    maskThreshold: null,
    inputName: null,
    task: deploy?.task ?? null,
  }
  const pipelineFile = path.join(dir, 'pipeline.json')
  if (fs.existsSync(pipelineFile)) {
    const pipeline = readJsonFile(pipelineFile, PipelineJson)
    for (const task of pipeline.pipeline.tasks) {
      for (const t of task.transforms ?? []) {
        if (t.type === 'Resize') {
          const size = (t.size ?? t.scale ?? t.img_scale) as unknown
          if (Array.isArray(size) && size.length === 2)
            info.resize = {
              keepRatio: t.keep_ratio !== false,
              size: [Number(size[0]), Number(size[1])],
            }
        } else if (t.type === 'Normalize') {
          info.mean = triple(t.mean)
          info.std = triple(t.std)
          info.toRgb = t.to_rgb !== false
        } else if (t.type === 'Pad') {
          info.padDivisor = typeof t.size_divisor === 'number' ? t.size_divisor : 0
        }
      }
      if (task.params) {
        info.scoreThreshold ??= findNumber(task.params, 'score_thr')
        info.maskThreshold ??= findNumber(task.params, 'mask_thr_binary')
      }
    }
  }
  const detailFile = path.join(dir, 'detail.json')
  if (fs.existsSync(detailFile)) {
    const detail = readJsonFile(detailFile, DetailJson)
    info.inputName = detail.onnx_config?.input_names?.[0] ?? null
    info.scoreThreshold ??= findNumber(detail.codebase_config?.post_processing, 'score_threshold')
  }
  return info
}
