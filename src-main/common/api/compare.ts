/**
 * Comparisons of 2-4 runs over the same dataset and ground truth: the contract's `compare:*`
 * methods and the shapes they return. All numbers are fractions as COCOeval and cityscapesScripts
 * give them (AP 0.404, not 40.4); views and the CLI print points.
 */
import { z } from 'zod'
import { method } from './method'

const id = z.number().int().positive()

export const CompareIouType = z.enum(['bbox', 'segm'])
export type CompareIouType = z.infer<typeof CompareIouType>

export const CompareRequest = z
  .object({
    /** The first run is the reference every delta is taken against. */
    runIds: z.array(id).min(2).max(4),
    /** COCO only; default bbox. */
    iouType: CompareIouType.optional(),
    /** Score a detection needs for instance differences (COCO); default 0.5. */
    scoreThreshold: z.number().min(0).max(1).default(0.5),
    seed: z.number().int().min(0).max(0xffffffff).default(1),
    resamples: z.number().int().min(100).max(100_000).default(1000),
  })
  .strict()
export type CompareRequest = z.input<typeof CompareRequest>

/** GC blocks of one stage as the model card counts them. */
export const CompareStageBlocks = z.object({
  stage: z.string(),
  blocks: z.number().int(),
  /** r = C / P of the stage's blocks (the paper's bottleneck ratio); null when they differ. */
  ratio: z.number().nullable(),
})

export const CompareRun = z.object({
  runId: id,
  modelId: z.number().int(),
  modelName: z.string(),
  /** "r16", "r4", "none", as the model card reads it from the graph. */
  gcLabel: z.string().nullable(),
  stages: z.array(CompareStageBlocks),
  params: z.number().nullable(),
  flops: z.number().nullable(),
  /** Median measured forward time of the run's images (run_images.inference_ms). */
  forwardMs: z.number().nullable(),
  executionProvider: z.string().nullable(),
  /** COCO: the 12 COCOeval stats (-1 where undefined). */
  stats: z.array(z.number()).nullable(),
  /** Cityscapes: mIoU, iIoU and category mIoU of cityscapesScripts. */
  mIoU: z.number().nullable(),
  iIoU: z.number().nullable(),
  categoryMIoU: z.number().nullable(),
})
export type CompareRun = z.infer<typeof CompareRun>

export const CompareVsReference = z.object({
  runId: id,
  /** COCO: stats(run) - stats(reference), null where either is -1. */
  deltaStats: z.array(z.number().nullable()).nullable(),
  /** AP (COCO) or mIoU (Cityscapes) delta. */
  delta: z.number().nullable(),
  /** Paired bootstrap 95% percentile interval of `delta` over images. */
  ci95: z.tuple([z.number(), z.number()]).nullable(),
  /** COCO: instances at `scoreThreshold`; Cityscapes: pixels. */
  fixed: z.number().int(),
  broken: z.number().int(),
})
export type CompareVsReference = z.infer<typeof CompareVsReference>

export const CompareCategory = z.object({
  id: z.number().int(),
  name: z.string(),
  /** Per run: AP@[.5:.95] (COCO) or IoU (Cityscapes); null where undefined. */
  values: z.array(z.number().nullable()),
  /** Per run: AP50 (COCO); null for Cityscapes. */
  ap50: z.array(z.number().nullable()).nullable(),
  /** Ground truth objects (COCO) or pixels (Cityscapes) of the class. */
  groundTruth: z.number(),
  /** Per run after the reference: fixed / broken instances (COCO) or pixels (Cityscapes). */
  fixed: z.array(z.number().int()),
  broken: z.array(z.number().int()),
})
export type CompareCategory = z.infer<typeof CompareCategory>

export const ComparePrCurves = z.object({
  /** null: all categories averaged (COCOeval's AP50 curve). */
  categoryId: z.number().int().nullable(),
  /** Per run: precision at recall 0, 0.01, ... 1 at IoU 0.5; null without ground truth. */
  curves: z.array(z.array(z.number()).nullable()),
})

export const CompareConfusion = z.object({
  /** Row and column names; COCO's last one is "background". */
  labels: z.array(z.string()),
  /** Per run: rows ground truth, columns prediction (COCO: IoU 0.5, score `scoreThreshold`). */
  matrices: z.array(z.array(z.array(z.number()))),
})

export const CompareSummary = z.object({
  kind: z.enum(['coco', 'cityscapes']),
  iouType: CompareIouType.nullable(),
  scoreThreshold: z.number(),
  seed: z.number().int(),
  resamples: z.number().int(),
  imageCount: z.number().int(),
  runs: z.array(CompareRun),
  vsReference: z.array(CompareVsReference),
  categories: z.array(CompareCategory),
  prCurves: z.array(ComparePrCurves),
  confusion: CompareConfusion.nullable(),
  warnings: z.array(z.string()),
})
export type CompareSummary = z.infer<typeof CompareSummary>

/** TIDE's numbers of one run's evaluation, when the evaluation computed them. */
export const CompareTide = z.object({
  ap50: z.number(),
  main: z.record(z.string(), z.number()),
  special: z.record(z.string(), z.number()),
})

export const Comparison = z.object({
  id,
  datasetId: z.number().int(),
  datasetName: z.string(),
  gtVersion: z.number().int(),
  runIds: z.array(z.number().int()),
  referenceRunId: z.number().int(),
  kind: z.enum(['coco', 'cityscapes']),
  iouType: CompareIouType.nullable(),
  scoreThreshold: z.number(),
  seed: z.number().int(),
  resamples: z.number().int(),
  status: z.enum(['running', 'done', 'failed']),
  /** Model names in run order, for lists. */
  title: z.string(),
  error: z.string().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
})
export type Comparison = z.infer<typeof Comparison>

export const ComparisonDetail = Comparison.extend({
  summary: CompareSummary.nullable(),
  /** Per run (run order): TIDE errors of its stored evaluation; null when not computed. */
  tide: z.array(CompareTide.nullable()),
  /** Things that changed since it was computed (a deleted run), in words. */
  problems: z.array(z.string()),
})
export type ComparisonDetail = z.infer<typeof ComparisonDetail>

export const CompareImage = z.object({
  imageId: id,
  fileName: z.string(),
  /** Per run after the reference. */
  fixed: z.array(z.number().int()),
  broken: z.array(z.number().int()),
  /** Per run after the reference: per-image AP (COCO) or mIoU (Cityscapes) delta. */
  delta: z.array(z.number().nullable()),
})
export type CompareImage = z.infer<typeof CompareImage>

export const CompareInstance = z.object({
  annotationId: z.number().int(),
  categoryId: z.number().int(),
  bbox: z.tuple([z.number(), z.number(), z.number(), z.number()]),
})

export const CompareImageInstances = z.object({
  imageId: id,
  scoreThreshold: z.number(),
  runs: z.array(
    z.object({
      runId: z.number().int(),
      /** Relative to the reference run (empty for the reference itself). */
      fixed: z.array(CompareInstance),
      broken: z.array(CompareInstance),
      /** Label maps: per evaluated class on this image, pixels fixed/broken and the IoU delta. */
      classes: z
        .array(
          z.object({
            name: z.string(),
            fixedPixels: z.number().int(),
            brokenPixels: z.number().int(),
            deltaIoU: z.number().nullable(),
          }),
        )
        .optional(),
    }),
  ),
})
export type CompareImageInstances = z.infer<typeof CompareImageInstances>

/** Published GCNet numbers (mmdetection README, COCO val2017, Mask R-CNN R-50 1x): a labelled reference row. */
export const PUBLISHED_GCNET_R50 = [
  { name: 'R-50 baseline (published)', gc: 'none', boxAP: 38.4, maskAP: 34.6, fps: 16.6 },
  { name: 'R-50 GC r16 (published)', gc: 'r16', boxAP: 40.4, maskAP: 36.2, fps: 15.5 },
  { name: 'R-50 GC r4 (published)', gc: 'r4', boxAP: 40.7, maskAP: 36.5, fps: 15.1 },
] as const

export const compareMethods = {
  'compare:create': method(
    CompareRequest,
    Comparison,
    'Compares 2-4 finished runs of one dataset (the first is the reference); evaluates them first where needed. Resolves when the comparison is stored.',
  ),
  'compare:list': method(
    z.object({}).strict(),
    z.array(Comparison),
    'Stored comparisons, newest first.',
  ),
  'compare:get': method(
    z.object({ id }).strict(),
    ComparisonDetail,
    'One comparison with its summary.',
  ),
  'compare:delete': method(
    z.object({ id }).strict(),
    z.object({ deleted: z.boolean() }),
    'Deletes a stored comparison (the runs stay).',
  ),
  'compare:images': method(
    z
      .object({
        id,
        /** Which run (after the reference) the order is about; default the second run. */
        runId: id.optional(),
        order: z.enum(['net', 'delta']).default('net'),
        /** COCO: instance differences at this score instead of the stored one. */
        scoreThreshold: z.number().min(0).max(1).optional(),
        /** Only images where something changed. */
        changedOnly: z.boolean().default(true),
        offset: z.number().int().min(0).default(0),
        limit: z.number().int().min(1).max(5000).default(200),
      })
      .strict(),
    z.object({ total: z.number().int(), images: z.array(CompareImage) }),
    'Images sorted by fixed - broken (net) or by |delta|, biggest first.',
  ),
  'compare:imageInstances': method(
    z.object({ id, imageId: id, scoreThreshold: z.number().min(0).max(1).optional() }).strict(),
    CompareImageInstances,
    "One image's fixed and broken ground truth per run, with boxes, for the viewer's outlines.",
  ),
} as const

export const compareEvents = {
  'compare:progress': z.object({
    id: z.number().int(),
    phase: z.string(),
    done: z.number(),
    total: z.number().nullable(),
  }),
} as const
