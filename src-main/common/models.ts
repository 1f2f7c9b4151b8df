import { z } from 'zod'

export const ModelFormat = z.enum([
  'mmdeploy-detection',
  'mmdeploy-instance-seg',
  'torchvision-detection',
  'torchvision-instance-seg',
  'mmseg-argmax',
  'mmseg-logits',
])
export const ModelTask = z.enum(['detection', 'instance_segmentation', 'semantic_segmentation'])

/**
 * How a model's integer labels become the dataset's category ids:
 * - `index`: label i is the i-th category in id order (mmdet's cat2label convention),
 * - `index-from-1`: label 0 is background, label i the (i-1)-th category (torchvision training),
 * - `category-id`: the label is the category id (torchvision's COCO models),
 * - `train-id`: Cityscapes train ids 0..18 to label ids,
 * - `explicit`: the `labelMap` below.
 */
export const LabelMapping = z.enum(['index', 'index-from-1', 'category-id', 'train-id', 'explicit'])
export type LabelMapping = z.infer<typeof LabelMapping>

export const PreprocessSpec = z.object({
  resize: z.object({
    mode: z.enum(['keep_ratio', 'fixed', 'none']),
    scale: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  }),
  mean: z.tuple([z.number(), z.number(), z.number()]),
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
  padDivisor: z.number().int().min(0),
  /** A static-shape export: pad up to exactly this (w, h). */
  padTo: z.tuple([z.number().int().positive(), z.number().int().positive()]).optional(),
  unitRange: z.boolean(),
  /** mmcv's to_rgb=False models take BGR. */
  channelOrder: z.enum(['rgb', 'bgr']),
})
export type PreprocessSpec = z.infer<typeof PreprocessSpec>

export const ModelConfig = z.object({
  format: ModelFormat,
  task: ModelTask,
  inputName: z.string(),
  /** torchvision exports take one CHW image; everything else a batch NCHW. */
  inputRank: z.union([z.literal(3), z.literal(4)]),
  preprocess: PreprocessSpec,
  scoreThreshold: z.number().min(0).max(1),
  maskThreshold: z.number().min(0).max(1),
  labelMapping: LabelMapping,
  /** label -> dataset category id, for `explicit`. */
  labelMap: z.record(z.string(), z.number().int()).optional(),
  /** Class names by label, when known (a sidecar file, or the dataset at run time). */
  classNames: z.array(z.string()).optional(),
  /** Where each setting came from, shown on the model card. */
  sources: z.array(z.string()),
})
export type ModelConfig = z.infer<typeof ModelConfig>

/** A sidecar `<model>.gcstudio.json` (or `gcstudio.json` in an mmdeploy folder): what the graph cannot tell. */
export const ModelSidecar = z
  .object({
    name: z.string().optional(),
    classNames: z.array(z.string()).optional(),
    labelMapping: LabelMapping.optional(),
    labelMap: z.record(z.string(), z.number().int()).optional(),
    preprocess: PreprocessSpec.partial().optional(),
    scoreThreshold: z.number().min(0).max(1).optional(),
    maskThreshold: z.number().min(0).max(1).optional(),
  })
  .strict()
export type ModelSidecar = z.infer<typeof ModelSidecar>
