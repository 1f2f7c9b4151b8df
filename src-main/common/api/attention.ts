/**
 * Attention analytics: dataset-wide statistics of a run's GC blocks (the paper's Section 5.5
 * for the user's own model), the attention grid, the context-vector space, and attention taps
 * computed for a run made without them.
 */
import { z } from 'zod'
import { method } from './method'

const id = z.number().int().positive()

/** A sample summarised: quantiles (numpy's linear rule) and a histogram over [lo, hi]. */
export const Distribution = z.object({
  n: z.number().int(),
  mean: z.number(),
  std: z.number(),
  min: z.number(),
  p05: z.number(),
  p25: z.number(),
  p50: z.number(),
  p75: z.number(),
  p95: z.number(),
  max: z.number(),
  histogram: z.object({ lo: z.number(), hi: z.number(), counts: z.array(z.number().int()) }),
})
export type Distribution = z.infer<typeof Distribution>

const ClassName = { id: z.number().int(), name: z.string() }

export const AttentionBlockStats = z.object({
  index: z.number().int(),
  stage: z.string().nullable(),
  indexInStage: z.number().int(),
  channels: z.number().int(),
  hidden: z.number().int(),
  ratio: z.number(),
  images: z.number().int(),
  /** Normalised entropy of the softmax map: 1 = uniform. */
  entropy: Distribution,
  /** Mass on the top 1% of positions. */
  top1Mass: Distribution,
  /** Mass on objects / their area share; null when no image had objects. */
  inObjectRatio: Distribution.nullable(),
  objectMass: Distribution.nullable(),
  objectArea: Distribution.nullable(),
  /** Mass (and area share) farther than `params.contextDistance` px from every object. */
  contextMass: Distribution.nullable(),
  contextArea: Distribution.nullable(),
  paddingMass: Distribution,
  centroidX: Distribution,
  centroidY: Distribution,
  /** Per class, over the images holding it: mean mass, mean area share, their ratio. */
  classes: z.array(
    z.object({
      ...ClassName,
      images: z.number().int(),
      mass: z.number(),
      area: z.number(),
      ratio: z.number().nullable(),
    }),
  ),
  /** The transform output (channel_add term): null when the run stored none. */
  transform: z
    .object({
      images: z.number().int(),
      mean: z.array(z.number()),
      std: z.array(z.number()),
      /** All values across channels and images (a uniform sample of at most 20,000). */
      values: Distribution,
      /** Per dominant class of the image: per-channel mean. */
      classMeans: z.array(
        z.object({ ...ClassName, images: z.number().int(), mean: z.array(z.number()) }),
      ),
      /** Class selectivity index per channel (see core/attention/aggregate.ts). */
      selectivity: z.array(z.number()).nullable(),
      selectivityDistribution: Distribution.nullable(),
    })
    .nullable(),
})
export type AttentionBlockStats = z.infer<typeof AttentionBlockStats>

export const AttentionStageStats = z.object({
  stage: z.string(),
  blocks: z.array(z.number().int()),
  ratio: z.number().nullable(),
  entropy: Distribution,
  top1Mass: Distribution,
  inObjectRatio: Distribution.nullable(),
  contextMass: Distribution.nullable(),
  contextArea: Distribution.nullable(),
  paddingMass: Distribution,
  transformValues: Distribution.nullable(),
  selectivity: Distribution.nullable(),
})
export type AttentionStageStats = z.infer<typeof AttentionStageStats>

export const AttentionParams = z.object({
  /** "Context" is farther than this many image pixels from every object. */
  contextDistance: z.number().min(0).max(10_000).default(32),
})
export type AttentionParams = z.infer<typeof AttentionParams>

export const AttentionStats = z.object({
  id,
  runId: id,
  modelName: z.string(),
  gtVersion: z.number().int(),
  params: AttentionParams,
  status: z.enum(['running', 'done', 'failed']),
  /** Images the statistics cover (the run's finished images when it was computed). */
  images: z.number().int(),
  runImagesTotal: z.number().int(),
  /** The run was not finished: statistics over its finished images only. */
  partial: z.boolean(),
  /** Where object regions came from: masks, boxes (no masks in the dataset) or both. */
  regions: z.enum(['masks', 'boxes', 'mixed', 'none']),
  /** Per-class regions came from a label map (Cityscapes labelIds) rather than objects. */
  semanticClasses: z.boolean(),
  /** Labels a reader must see beside the numbers (partial run, boxes used, unstaged blocks). */
  notes: z.array(z.string()),
  blocks: z.array(AttentionBlockStats),
  stages: z.record(z.string(), AttentionStageStats),
  error: z.string().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
})
export type AttentionStats = z.infer<typeof AttentionStats>

export const AttentionImageRow = z.object({
  imageId: id,
  fileName: z.string(),
  block: z.number().int(),
  entropy: z.number(),
  top1Mass: z.number(),
  inObjectRatio: z.number().nullable(),
  contextMass: z.number().nullable(),
  dominantClass: z.number().int().nullable(),
})

export const GridPick = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('random'), seed: z.number().int().default(1) }),
  z.object({
    mode: z.literal('class'),
    categoryId: z.number().int(),
    seed: z.number().int().default(1),
  }),
  /** The worst images of the run's latest evaluation (lowest AP / mIoU). */
  z.object({ mode: z.literal('worst') }),
  z.object({ mode: z.literal('images'), imageIds: z.array(id).max(64) }),
])

export const GridCell = z.object({
  block: z.number().int(),
  stage: z.string().nullable(),
  indexInStage: z.number().int(),
  height: z.number().int(),
  width: z.number().int(),
  /** Attention relative to uniform (p * N) at code 0 and 255: one scale across grids. */
  low: z.number(),
  high: z.number(),
  /** uint8 codes, row-major, base64. */
  data: z.string(),
})
export const AttentionGrid = z.object({
  images: z.array(
    z.object({ imageId: id, fileName: z.string(), width: z.number(), height: z.number() }),
  ),
  rows: z.array(
    z.object({
      runId: id,
      label: z.string(),
      /** Per image (same order as `images`), the chosen blocks; null when the run lacks it. */
      cells: z.array(
        z
          .object({
            /** Image width/height the map covers (the padded input frame, in image pixels). */
            frameWidth: z.number(),
            frameHeight: z.number(),
            maps: z.array(GridCell),
          })
          .nullable(),
      ),
    }),
  ),
  /** Shared colour scale across every map (attention relative to uniform). */
  scale: z.object({ lo: z.number(), hi: z.number() }),
})
export type AttentionGrid = z.infer<typeof AttentionGrid>

export const ContextSpace = z.object({
  runId: id,
  block: z.number().int(),
  channels: z.number().int(),
  /** Variance explained by each of the three components (share of the total). */
  explained: z.array(z.number()),
  points: z.array(
    z.object({
      imageId: id,
      fileName: z.string(),
      x: z.number(),
      y: z.number(),
      z: z.number(),
      dominantClass: z.number().int().nullable(),
      /** From the run's latest evaluation: every object found, nothing extra (null: none). */
      correct: z.boolean().nullable(),
    }),
  ),
  classes: z.array(
    z.object({ ...ClassName, color: z.tuple([z.number(), z.number(), z.number()]) }),
  ),
})
export type ContextSpace = z.infer<typeof ContextSpace>

const StatsRequest = z.object({ runId: id, params: AttentionParams.optional() }).strict()

export const attentionMethods = {
  'attention:stats': method(
    StatsRequest,
    AttentionStats.nullable(),
    'The stored attention statistics of a run for these parameters and the current ground truth (null: not computed yet).',
  ),
  'attention:compute': method(
    StatsRequest,
    AttentionStats,
    'Computes (once) the attention statistics of a run on a worker thread; resolves when done.',
  ),
  'attention:images': method(
    z
      .object({
        statsId: id,
        block: z.number().int(),
        order: z.enum(['entropy', 'top1Mass', 'inObjectRatio', 'contextMass']).default('entropy'),
        direction: z.enum(['asc', 'desc']).default('asc'),
        limit: z.number().int().min(1).max(500).default(50),
      })
      .strict(),
    z.array(AttentionImageRow),
    'Per-image statistics of one block, sorted.',
  ),
  'attention:grid': method(
    z
      .object({
        runIds: z.array(id).min(1).max(4),
        pick: GridPick,
        count: z.number().int().min(1).max(64).default(8),
        blocks: z.enum(['stages', 'all']).default('stages'),
      })
      .strict(),
    AttentionGrid,
    "The attention grid (the paper's Fig. 5): images x blocks for one or more runs of a dataset.",
  ),
  'attention:space': method(
    z.object({ runId: id, block: z.number().int() }).strict(),
    ContextSpace,
    "Every image's global-context vector of a block projected to 3-D by PCA (on a worker).",
  ),
  'attention:tap': method(
    z.object({ runId: id }).strict(),
    z.object({ runId: id, images: z.number().int() }),
    "Computes a run's attention maps for a run made without taps: only the taps, its predictions untouched.",
  ),
} as const
