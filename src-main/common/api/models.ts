import { z } from 'zod'
import { method } from './method'

/** Model maintenance and the inference set-up report (doctor). Spread into `contract`. */

export const ProviderStatus = z.object({
  /** onnxruntime's name for it: cuda, tensorrt, dml, coreml, cpu. */
  name: z.string(),
  /** Whether this install can create a session with it. */
  usable: z.boolean(),
  /** Why not, or where it comes from. */
  detail: z.string(),
})
export type ProviderStatus = z.infer<typeof ProviderStatus>

export const DoctorReport = z.object({
  platform: z.string(),
  node: z.string(),
  onnxruntime: z.object({ version: z.string().nullable(), binDir: z.string().nullable() }),
  providers: z.array(ProviderStatus),
  devices: z.array(
    z.object({
      kind: z.enum(['nvidia', 'directml', 'coreml']),
      present: z.boolean(),
      detail: z.string(),
    }),
  ),
  /** What `auto` would run on, and why not a GPU when it is the CPU. */
  autoProvider: z.string(),
  autoReason: z.string(),
  /** The one command to run, when a GPU is present but its provider files are missing. */
  advice: z.string().nullable(),
})
export type DoctorReport = z.infer<typeof DoctorReport>

export const modelsMethods = {
  'models:update': method(
    z.object({ id: z.number().int().positive() }).strict(),
    z.object({ id: z.number().int().positive(), changed: z.array(z.string()) }),
    "Applies the model's sidecar again (class names, label mapping, label map, thresholds): the same ONNX with a new sidecar.",
  ),
  'inference:doctor': method(
    z.object({}).strict(),
    DoctorReport,
    'onnxruntime version, usable execution providers, GPU devices present, and what to install.',
  ),
} as const
