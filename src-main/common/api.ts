/**
 * The one contract between the renderer and the main side. Every method is declared here once,
 * named `domain:verb`, with zod schemas for its input and output; the dispatcher, both hosts and
 * the renderer's `lib/api.ts` all derive from this object, so no channel string is written twice.
 */
import { z } from 'zod'
import { browseMethods } from './api/browse'
import { method } from './api/method'
import { modelsMethods } from './api/models'
import { LabelMapping, ModelConfig, ModelFormat, ModelTask } from './models'
import { compareEvents, compareMethods } from './api/compare'
import { evaluationViewMethods } from './api/evaluationViews'
import { Annotation } from './api/annotation'
import { labelsMethods } from './api/labels'
import { attentionMethods } from './api/attention'
import { reportEvents, reportMethods } from './api/reports'

const id = z.number().int().positive()

export const DatasetKind = z.enum(['coco', 'cityscapes'])
export type DatasetKind = z.infer<typeof DatasetKind>

export const Category = z.object({
  /** The dataset's own category id (COCO's non-contiguous ids, Cityscapes label ids). */
  id: z.number().int(),
  name: z.string(),
  supercategory: z.string().nullable(),
  /** Cityscapes train id (0..18), null for COCO. */
  trainId: z.number().int().nullable(),
  color: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
  annotationCount: z.number().int(),
  imageCount: z.number().int(),
})
export type Category = z.infer<typeof Category>

export const Dataset = z.object({
  id,
  name: z.string(),
  kind: DatasetKind,
  split: z.string().nullable(),
  /** Where the images are; shown to the user, never used by the renderer to read files. */
  imagesRoot: z.string(),
  source: z.string(),
  imageCount: z.number().int(),
  annotationCount: z.number().int(),
  missingImageCount: z.number().int(),
  categoryCount: z.number().int(),
  gtVersion: z.number().int(),
  createdAt: z.string(),
  isDemo: z.boolean(),
})
export type Dataset = z.infer<typeof Dataset>

export const ImageSummary = z.object({
  id,
  datasetId: id,
  fileName: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  annotationCount: z.number().int(),
  missing: z.boolean(),
  /** The file exists but cannot be decoded (known once its header was read). */
  unreadable: z.boolean(),
})
export type ImageSummary = z.infer<typeof ImageSummary>

export { Annotation, Segmentation } from './api/annotation'

export const ImageDetail = ImageSummary.extend({
  /** EXIF orientation (1..8) when the file has one; annotations are drawn on the oriented image. */
  orientation: z.number().int().nullable(),
  /** True when a ground-truth semantic map exists (Cityscapes labelIds). */
  hasSemantic: z.boolean(),
  annotations: z.array(Annotation),
  /** The classes in this image: annotation counts, and pixel counts from a semantic map. */
  classes: z.array(
    z.object({
      categoryId: z.number().int(),
      annotationCount: z.number().int(),
      pixelCount: z.number().int(),
    }),
  ),
})
export type ImageDetail = z.infer<typeof ImageDetail>

export const ImageQuery = z
  .object({
    datasetId: id,
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(1000).default(200),
    /** Only images holding at least one annotation of one of these categories. */
    categoryIds: z.array(z.number().int()).max(1000).optional(),
    /** Case-insensitive substring of the file name. */
    search: z.string().max(500).optional(),
    missingOnly: z.boolean().optional(),
  })
  .strict()
export type ImageQuery = z.input<typeof ImageQuery>

export const CocoImportRequest = z.object({
  kind: z.literal('coco'),
  annotations: z.string().min(1),
  images: z.string().min(1),
  name: z.string().min(1).max(200).optional(),
})
export const CityscapesImportRequest = z.object({
  kind: z.literal('cityscapes'),
  root: z.string().min(1),
  split: z.string().min(1).max(50).default('val'),
  name: z.string().min(1).max(200).optional(),
})
export const ImportRequest = z.discriminatedUnion('kind', [
  CocoImportRequest,
  CityscapesImportRequest,
])
export type ImportRequest = z.input<typeof ImportRequest>

export const JobState = z.enum(['queued', 'running', 'done', 'cancelled', 'failed'])
export type JobState = z.infer<typeof JobState>
/**
 * Every long task of the studio is a job of one kind: imports, inference runs, evaluations and
 * the dataset-wide work that comes after them (analytics, comparisons, reports, maintenance).
 */
export const JobKind = z.enum([
  'import',
  'run',
  'evaluation',
  'attention',
  'comparison',
  'labels',
  'report',
  'maintenance',
])
export type JobKind = z.infer<typeof JobKind>
export const Job = z.object({
  id: z.string(),
  kind: JobKind,
  title: z.string(),
  state: JobState,
  phase: z.string(),
  done: z.number(),
  total: z.number().nullable(),
  /** Items per second over the last few seconds. */
  rate: z.number().nullable(),
  etaSeconds: z.number().nullable(),
  unit: z.string(),
  /** Counts and speed in words ("12,000 images, 80,000 annotations, 41,000 annotations/s"). */
  detail: z.string(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  warnings: z.array(z.string()),
  /** What the job made or worked on, for the "open" links of the jobs tray. */
  datasetId: z.number().int().nullable(),
  runId: z.number().int().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
})
export type Job = z.infer<typeof Job>

export const AppInfo = z.object({
  version: z.string(),
  /** Which host built this studio (the CLI builds one too, over the same services). */
  host: z.enum(['electron', 'browser', 'cli']),
  dataDir: z.string(),
  schemaVersion: z.number().int(),
  /** Native file/folder pickers exist only in the Electron host; the browser host takes typed paths. */
  nativePickers: z.boolean(),
})
export type AppInfo = z.infer<typeof AppInfo>

// ---- Models, runs and inference results ----------------------------------------------------

export const GcBlockInfo = z.object({
  index: z.number().int(),
  stage: z.enum(['c2', 'c3', 'c4', 'c5']).nullable(),
  indexInStage: z.number().int(),
  channels: z.number().int(),
  hidden: z.number().int(),
  ratio: z.number(),
  fusion: z.array(z.enum(['channel_add', 'channel_mul'])),
  layerNorm: z.enum(['LayerNormalization', 'decomposed', 'none']),
  attentionSize: z.tuple([z.number().int(), z.number().int()]).nullable(),
})
export type GcBlockInfo = z.infer<typeof GcBlockInfo>

const TensorInfo = z.object({
  name: z.string(),
  elemType: z.string(),
  shape: z.array(z.union([z.number(), z.string(), z.null()])).nullable(),
})

export const ModelCard = z.object({
  format: ModelFormat.nullable(),
  formatError: z.string().nullable(),
  opset: z.number().int(),
  irVersion: z.number().int(),
  producer: z.string(),
  inputs: z.array(TensorInfo),
  outputs: z.array(TensorInfo),
  params: z.number(),
  flops: z.number(),
  flopsPerRoi: z.number(),
  flopsInput: z.tuple([z.number(), z.number()]),
  gcBlocks: z.array(GcBlockInfo),
  gcRatioLabel: z.string().nullable(),
  /** Classes the model predicts, when its graph says (absent on cards made before it was read). */
  classCount: z.number().int().nullable().optional(),
})

export const Model = z.object({
  id,
  sha256: z.string(),
  name: z.string(),
  task: ModelTask,
  format: ModelFormat,
  path: z.string(),
  source: z.string(),
  config: ModelConfig,
  card: ModelCard,
  createdAt: z.string(),
})
export type Model = z.infer<typeof Model>

export const EpChoice = z.enum(['auto', 'cuda', 'dml', 'coreml', 'cpu'])

export const RunSettings = z.object({
  modelId: id,
  datasetId: id,
  /** Defaults to the model's own threshold. */
  scoreThreshold: z.number().min(0).max(1).optional(),
  ep: EpChoice.default('auto'),
  taps: z.boolean().default(true),
  /** onnxruntime intra-op threads; 0 lets it choose. */
  threads: z.number().int().min(0).max(256).default(0),
  /** Only the first N images of the dataset. */
  limit: z.number().int().positive().optional(),
})
export type RunSettings = z.input<typeof RunSettings>

export const RunStatus = z.enum(['queued', 'running', 'paused', 'cancelled', 'failed', 'done'])
export const Run = z.object({
  id,
  modelId: id,
  modelName: z.string(),
  datasetId: id,
  datasetName: z.string(),
  task: ModelTask,
  status: RunStatus,
  settings: RunSettings.extend({ ep: EpChoice, taps: z.boolean(), threads: z.number() }),
  executionProvider: z.string().nullable(),
  imagesTotal: z.number().int(),
  imagesDone: z.number().int(),
  imagesFailed: z.number().int(),
  /** Images per second, while running; the run's mean once finished. */
  rate: z.number().nullable(),
  etaSeconds: z.number().nullable(),
  meanInferenceMs: z.number().nullable(),
  gcBlocks: z.number().int(),
  error: z.string().nullable(),
  /** Why images failed: each distinct reason with its image count, commonest first (top 5). */
  failures: z.array(z.object({ message: z.string(), images: z.number().int() })),
  notes: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
})
export type Run = z.infer<typeof Run>

export const Prediction = z.object({
  categoryId: z.number().int(),
  score: z.number(),
  bbox: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  /** Full-image mask as column-major run lengths. */
  mask: z
    .object({
      size: z.tuple([z.number().int(), z.number().int()]),
      counts: z.array(z.number().int()),
    })
    .nullable(),
})
export type Prediction = z.infer<typeof Prediction>

export const AttentionMap = z.object({
  block: z.number().int(),
  stage: z.string().nullable(),
  indexInStage: z.number().int(),
  channels: z.number().int(),
  height: z.number().int(),
  width: z.number().int(),
  min: z.number(),
  max: z.number(),
  /** uint8 (0..255 between min and max), row-major, base64. */
  data: z.string(),
  /** The transform output (channel_add term), C values. */
  transform: z.array(z.number()).nullable(),
})
export type AttentionMap = z.infer<typeof AttentionMap>

export const Geometry = z.object({
  width: z.number(),
  height: z.number(),
  resizedWidth: z.number(),
  resizedHeight: z.number(),
  inputWidth: z.number(),
  inputHeight: z.number(),
  scaleX: z.number(),
  scaleY: z.number(),
})

export const ImageInference = z.object({
  imageId: id,
  status: z.enum(['done', 'error']),
  error: z.string().nullable(),
  geometry: Geometry.nullable(),
  predictions: z.array(Prediction).nullable(),
  /** Semantic map as dataset category ids: a one-channel PNG, base64. */
  semanticPng: z.string().nullable(),
  attention: z.array(AttentionMap).nullable(),
  timings: z
    .object({ preprocessMs: z.number(), inferenceMs: z.number(), postprocessMs: z.number() })
    .nullable(),
  executionProvider: z.string().nullable(),
})
export type ImageInference = z.infer<typeof ImageInference>

export const Evaluation = z.object({
  id,
  runId: id,
  datasetId: id,
  gtVersion: z.number().int(),
  kind: z.enum(['coco-bbox', 'coco-segm', 'cityscapes']),
  status: z.enum(['running', 'done', 'failed']),
  /** COCO AP@[.5:.95] or Cityscapes mIoU, 0..1. */
  primaryMetric: z.number().nullable(),
  imageCount: z.number().int().nullable(),
  error: z.string().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
})
export type Evaluation = z.infer<typeof Evaluation>

export const EvaluationDetail = Evaluation.extend({
  /** The `gcstudio eval --json` document: COCO `stats` (12) and more, or Cityscapes `mIoU`, `perClass`... */
  metrics: z.record(z.string(), z.unknown()).nullable(),
  /** Per-category (COCO) or per-class (Cityscapes) rows. */
  categories: z.array(z.record(z.string(), z.unknown())),
  warnings: z.array(z.string()),
})
export type EvaluationDetail = z.infer<typeof EvaluationDetail>

export const EvaluationImage = z.object({
  imageId: id,
  fileName: z.string(),
  ap: z.number().nullable(),
  ap50: z.number().nullable(),
  tp: z.number().int().nullable(),
  fp: z.number().int().nullable(),
  fn: z.number().int().nullable(),
  miou: z.number().nullable(),
})
export type EvaluationImage = z.infer<typeof EvaluationImage>

const empty = z.object({}).strict()

/** What a native file picker offers; the desktop host turns it into the dialog's filters. */
export const PickFilter = z.enum(['coco-json', 'onnx-model', 'any'])
export type PickFilter = z.infer<typeof PickFilter>

export const contract = {
  ...browseMethods,
  ...evaluationViewMethods,
  ...modelsMethods,
  'app:info': method(empty, AppInfo, 'Version, host and data folder.'),
  'datasets:list': method(empty, z.array(Dataset), 'All imported datasets, newest first.'),
  'datasets:get': method(
    z.object({ id }).strict(),
    z.object({ dataset: Dataset, categories: z.array(Category) }),
    'One dataset with its categories and per-category counts.',
  ),
  'datasets:import': method(
    ImportRequest,
    z.object({ jobId: z.string() }),
    'Starts an import job; progress arrives as `job:progress` events.',
    { paths: ['annotations', 'images', 'root'] },
  ),
  'datasets:delete': method(
    z.object({ id }).strict(),
    z.object({
      deleted: z.boolean(),
      /** The removal job (or the import it cancelled); null when there was nothing to remove. */
      jobId: z.string().nullable(),
      message: z.string(),
    }),
    'Hides a dataset at once and removes it in the background (a job); cancels its import if it is still importing.',
  ),
  'datasets:rename': method(
    z.object({ id, name: z.string().min(1).max(200) }).strict(),
    Dataset,
    'Renames a dataset.',
  ),
  'datasets:recheckFiles': method(
    z.object({ id }).strict(),
    z.object({ missing: z.number().int(), examples: z.array(z.string()), jobId: z.string() }),
    'Looks for the image files on disk again (files copied in after the import).',
  ),
  'jobs:list': method(empty, z.array(Job), 'Jobs of this session, running ones first.'),
  'jobs:cancel': method(
    z.object({ jobId: z.string() }).strict(),
    z.object({ cancelled: z.boolean() }),
    'Cancels a running job; an import leaves nothing behind.',
  ),
  'images:query': method(
    ImageQuery,
    z.object({ total: z.number().int(), items: z.array(ImageSummary) }),
    "A page of a dataset's images, filtered by class, file name or missing files.",
  ),
  'images:get': method(z.object({ id }).strict(), ImageDetail, 'One image with its ground truth.'),
  'dialog:pick': method(
    z
      .object({
        mode: z.enum(['file', 'folder']),
        title: z.string().max(200).optional(),
        filter: PickFilter.default('any'),
      })
      .strict(),
    z.object({ path: z.string().nullable() }),
    'Native file or folder picker (Electron host only).',
  ),
  'models:add': method(
    z
      .object({
        path: z.string().min(1),
        name: z.string().min(1).max(200).optional(),
        labelMapping: LabelMapping.optional(),
      })
      .strict(),
    z.object({ model: Model, existed: z.boolean(), sidecarChanges: z.array(z.string()) }),
    'Imports an .onnx file or an mmdeploy folder; the same file twice returns the existing model, with what its sidecar now says differently (models:update applies it).',
    { paths: ['path'] },
  ),
  'models:list': method(empty, z.array(Model), 'Imported models, newest first.'),
  'models:get': method(
    z.object({ id }).strict(),
    Model,
    'One model with its card and configuration.',
  ),
  'models:remove': method(
    z.object({ id }).strict(),
    z.object({ removed: z.boolean() }),
    'Removes a model and its runs.',
  ),
  'runs:start': method(RunSettings, Run, 'Starts (or queues) a run of a model over a dataset.'),
  'runs:list': method(
    z.object({ datasetId: id.optional(), modelId: id.optional() }).strict(),
    z.array(Run),
    'Runs, newest first.',
  ),
  'runs:get': method(z.object({ id }).strict(), Run, 'One run.'),
  'runs:cancel': method(
    z.object({ id }).strict(),
    Run,
    'Stops a run; finished images stay and it can resume.',
  ),
  'runs:resume': method(
    z.object({ id }).strict(),
    Run,
    'Continues a stopped, failed or interrupted run without redoing finished images.',
  ),
  'runs:delete': method(
    z.object({ id }).strict(),
    z.object({ deleted: z.boolean() }),
    'Deletes a run and its results.',
  ),
  'runs:imageResult': method(
    z.object({ runId: id, imageId: id }).strict(),
    ImageInference.nullable(),
    'A stored result of one image.',
  ),
  'evaluations:start': method(
    z.object({ runId: id }).strict(),
    z.object({ jobId: z.string() }),
    'Starts evaluating a run against the current ground truth (COCO bbox/segm, or Cityscapes) as a job on a worker thread; progress arrives as `job:progress` events.',
  ),
  'evaluations:run': method(
    z.object({ runId: id }).strict(),
    z.array(Evaluation),
    'Evaluates a run as a job (as `evaluations:start`) and answers when it has ended.',
  ),
  'evaluations:list': method(
    z.object({ runId: id.optional() }).strict(),
    z.array(Evaluation),
    'Evaluations, newest first.',
  ),
  'evaluations:get': method(
    z.object({ id }).strict(),
    EvaluationDetail,
    'One evaluation with its metrics and per-category rows.',
  ),
  'evaluations:images': method(
    z
      .object({
        id,
        order: z.enum(['ap', 'miou', 'fp', 'fn']).default('ap'),
        direction: z.enum(['asc', 'desc']).default('asc'),
        offset: z.number().int().min(0).default(0),
        limit: z.number().int().min(1).max(500).default(100),
      })
      .strict(),
    z.array(EvaluationImage),
    'Per-image rows of an evaluation, sorted (worst first by default).',
  ),
  'inference:image': method(
    z.object({ modelId: id, imageId: id, taps: z.boolean().default(true) }).strict(),
    ImageInference,
    'Runs one image now (the viewer), without storing it.',
  ),
  ...compareMethods,
  ...labelsMethods,
  ...attentionMethods,
  ...reportMethods,
} as const

export type Contract = typeof contract
export type Method = keyof Contract
export type MethodInput<M extends Method> = z.input<Contract[M]['input']>
export type MethodOutput<M extends Method> = z.output<Contract[M]['output']>

/**
 * Events pushed from main to every renderer, on both hosts. Names follow one pattern,
 * `<entity>:<what happened>` with the entity in the singular: `job:progress` carries every
 * job's state (started, progress, ended), `<entity>:changed` says a list needs a refresh.
 */
export const eventSchemas = {
  'job:progress': Job,
  'dataset:changed': z.object({ datasetId: z.number().int().nullable() }),
  'run:progress': Run,
  'model:changed': z.object({ modelId: z.number().int().nullable() }),
  'evaluation:changed': z.object({
    id: z.number().int(),
    runId: z.number().int(),
    status: z.enum(['running', 'done', 'failed']),
  }),
  ...compareEvents,
  ...reportEvents,
} as const
export type EventName = keyof typeof eventSchemas
export type EventPayload<E extends EventName> = z.infer<(typeof eventSchemas)[E]>
export interface AppEvent<E extends EventName = EventName> {
  name: E
  payload: EventPayload<E>
}
