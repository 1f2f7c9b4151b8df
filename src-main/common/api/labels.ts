/**
 * Label editing: edits of the ground truth with undo, history and versions, model-assisted
 * labels, the review queue drawn from an evaluation, and exports of the edited ground truth.
 */
import { z } from 'zod'
import { method } from './method'
import { Annotation, Segmentation } from './annotation'

const id = z.number().int().positive()
const Box = z.tuple([z.number(), z.number(), z.number(), z.number()])

export const EditSource = z.enum(['hand', 'prediction'])
export type EditSource = z.infer<typeof EditSource>

/** An annotation as the editor sees it: `revision` is what an update must name (optimistic check). */
export const LabeledAnnotation = Annotation.extend({
  /** The id of the annotation's last edit; 0 while it is as imported. */
  revision: z.number().int(),
  edited: z.boolean(),
})
export type LabeledAnnotation = z.infer<typeof LabeledAnnotation>

/** One change inside an edit. Updates and deletes name the revision they were made on. */
export const LabelChange = z.discriminatedUnion('op', [
  z
    .object({
      op: z.literal('create'),
      categoryId: z.number().int(),
      iscrowd: z.boolean().default(false),
      /** Required without a mask; with an RLE mask it is kept (a detector's box); polygons use their bounds. */
      bbox: Box.optional(),
      segmentation: Segmentation.optional(),
    })
    .strict(),
  z
    .object({
      op: z.literal('update'),
      annotationId: id,
      revision: z.number().int().min(0),
      categoryId: z.number().int().optional(),
      iscrowd: z.boolean().optional(),
      /** A new box; on a polygon annotation the polygon is moved and scaled into it. */
      bbox: Box.optional(),
      segmentation: Segmentation.optional(),
    })
    .strict(),
  z
    .object({ op: z.literal('delete'), annotationId: id, revision: z.number().int().min(0) })
    .strict(),
  z
    .object({ op: z.literal('restore'), annotationId: id, revision: z.number().int().min(0) })
    .strict(),
])
export type LabelChange = z.input<typeof LabelChange>

export const AnnotationState = Annotation.extend({ deleted: z.boolean() })

export const LabelChangeRecord = z.object({
  annotationId: id,
  action: z.enum(['create', 'update', 'delete', 'restore']),
  /** null: the annotation did not exist. */
  before: AnnotationState.nullable(),
  after: AnnotationState.nullable(),
})

export const OperationKind = z.enum(['edit', 'undo', 'redo', 'revert'])

export const LabelOperation = z.object({
  id,
  datasetId: id,
  imageId: id,
  kind: OperationKind,
  source: EditSource,
  /** undo/redo: the operation undone or redone; revert: the first operation reverted. */
  targetId: z.number().int().nullable(),
  /** 'undo': on the image's undo stack; 'redo': undone, on the redo stack; 'none': neither. */
  stack: z.enum(['undo', 'redo', 'none']),
  gtVersion: z.number().int(),
  summary: z.string(),
  warnings: z.array(z.string()),
  createdAt: z.string(),
})
export type LabelOperation = z.infer<typeof LabelOperation>

export const LabelOperationDetail = LabelOperation.extend({
  changes: z.array(LabelChangeRecord),
  /** Label-map operations (Cityscapes): the map before and after, null meaning the original file. */
  labelMap: z
    .object({ before: z.number().int().nullable(), after: z.number().int().nullable() })
    .nullable(),
})
export type LabelOperationDetail = z.infer<typeof LabelOperationDetail>

export const LabelImageState = z.object({
  imageId: id,
  datasetId: id,
  gtVersion: z.number().int(),
  annotations: z.array(LabeledAnnotation),
  canUndo: z.boolean(),
  canRedo: z.boolean(),
  undoSummary: z.string().nullable(),
  redoSummary: z.string().nullable(),
  /** Cityscapes: the label map shown is an edited version stored in the studio. */
  editedLabelMap: z.boolean(),
  operationCount: z.number().int(),
})
export type LabelImageState = z.infer<typeof LabelImageState>

export const EditResult = z.object({
  /** null when there was nothing to undo or redo. */
  operation: LabelOperation.nullable(),
  image: LabelImageState,
  warnings: z.array(z.string()),
})
export type EditResult = z.infer<typeof EditResult>

export const GtVersion = z.object({
  version: z.number().int(),
  createdAt: z.string().nullable(),
  operations: z.number().int(),
  annotationEdits: z.number().int(),
  evaluations: z.number().int(),
  /** Frozen versions take no more edits: the next edit starts a new version. */
  frozen: z.boolean(),
  frozenBy: z.string().nullable(),
  current: z.boolean(),
})
export type GtVersion = z.infer<typeof GtVersion>

export const GtDiff = z.object({
  datasetId: id,
  from: z.number().int(),
  to: z.number().int(),
  added: z.array(Annotation),
  removed: z.array(Annotation),
  changed: z.array(
    z.object({
      before: Annotation,
      after: Annotation,
      fields: z.array(z.enum(['category', 'iscrowd', 'geometry'])),
    }),
  ),
  /** Images whose label map differs, with the pixels per class before and after. */
  labelMaps: z.array(
    z.object({
      imageId: id,
      before: z.record(z.string(), z.number()),
      after: z.record(z.string(), z.number()),
    }),
  ),
})
export type GtDiff = z.infer<typeof GtDiff>

export const RunPrediction = z.object({
  id,
  imageId: id,
  categoryId: z.number().int(),
  score: z.number(),
  bbox: Box,
  hasMask: z.boolean(),
})
export type RunPrediction = z.infer<typeof RunPrediction>

export const AcceptResult = z.object({
  operations: z.number().int(),
  created: z.number().int(),
  images: z.number().int(),
  gtVersion: z.number().int(),
  warnings: z.array(z.string()),
})
export type AcceptResult = z.infer<typeof AcceptResult>

export const PaintRequest = z
  .object({
    imageId: id,
    tool: z.enum(['brush', 'eraser', 'polygon']),
    /** Cityscapes label id painted (ignored by the eraser, which paints 0 "unlabeled"). */
    labelId: z.number().int().min(0).max(255).default(0),
    /** Instance classes: the instance number to paint into, or null for a new instance. */
    instance: z.number().int().min(0).max(999).nullable().default(null),
    /** Brush stroke centres or polygon vertices, x,y pairs in image pixels. */
    points: z.array(z.number()).min(2).max(200_000),
    radius: z.number().min(0.5).max(512).default(8),
  })
  .strict()
export type PaintRequest = z.input<typeof PaintRequest>

export const MaskStroke = z
  .object({
    imageId: id,
    annotationId: id,
    revision: z.number().int().min(0),
    tool: z.enum(['brush', 'eraser']),
    /** Stroke centres, x,y pairs in image pixels. */
    points: z.array(z.number()).min(2).max(200_000),
    radius: z.number().min(0.5).max(512).default(6),
  })
  .strict()
export type MaskStroke = z.output<typeof MaskStroke>

export const ReviewKind = z.enum(['missing_label', 'wrong_label', 'class_confusion'])
export const ReviewStatus = z.enum(['open', 'accepted', 'fixed', 'dismissed'])
export const ReviewItem = z.object({
  id,
  evaluationId: id,
  imageId: id,
  fileName: z.string(),
  kind: ReviewKind,
  priority: z.number(),
  predictionId: z.number().int().nullable(),
  annotationId: z.number().int().nullable(),
  categoryId: z.number().int(),
  predictedCategoryId: z.number().int().nullable(),
  score: z.number().nullable(),
  iou: z.number().nullable(),
  bbox: Box.nullable(),
  status: ReviewStatus,
  reviewedAt: z.string().nullable(),
})
export type ReviewItem = z.infer<typeof ReviewItem>

export const ReviewQueue = z.object({
  evaluationId: id,
  runId: id,
  totals: z.object({
    open: z.number().int(),
    accepted: z.number().int(),
    fixed: z.number().int(),
    dismissed: z.number().int(),
  }),
  items: z.array(ReviewItem),
})
export type ReviewQueue = z.infer<typeof ReviewQueue>

export const labelsMethods = {
  'labels:image': method(
    z.object({ imageId: id }).strict(),
    LabelImageState,
    "An image's ground truth for editing: annotations with revisions, undo/redo state.",
  ),
  'labels:edit': method(
    z
      .object({
        imageId: id,
        changes: z.array(LabelChange).min(1).max(10_000),
        source: EditSource.default('hand'),
        note: z.string().max(500).optional(),
      })
      .strict(),
    EditResult,
    'Applies one edit (one undo step) in one transaction; a stale revision is refused (CONFLICT).',
  ),
  'labels:undo': method(
    z.object({ imageId: id }).strict(),
    EditResult,
    'Undoes the last edit of an image.',
  ),
  'labels:redo': method(
    z.object({ imageId: id }).strict(),
    EditResult,
    'Redoes the last undone edit of an image.',
  ),
  'labels:revert': method(
    z.object({ imageId: id, operationId: id }).strict(),
    EditResult,
    'Returns an image to how it was just before an operation of its history (itself an undoable edit).',
  ),
  'labels:history': method(
    z
      .object({
        imageId: id.optional(),
        datasetId: id.optional(),
        beforeId: id.optional(),
        limit: z.number().int().min(1).max(1000).default(200),
      })
      .strict(),
    z.object({ total: z.number().int(), items: z.array(LabelOperation) }),
    "An image's or a dataset's edit history, newest first, paged by id.",
  ),
  'labels:operation': method(
    z.object({ id }).strict(),
    LabelOperationDetail,
    'One operation with the before and after of every annotation it changed.',
  ),
  'labels:versions': method(
    z.object({ datasetId: id }).strict(),
    z.array(GtVersion),
    "The dataset's ground-truth versions, oldest first.",
  ),
  'labels:diff': method(
    z
      .object({ datasetId: id, from: z.number().int().min(1), to: z.number().int().min(1) })
      .strict(),
    GtDiff,
    'Annotations added, removed and changed between two ground-truth versions.',
  ),
  'labels:predictions': method(
    z.object({ runId: id, imageId: id }).strict(),
    z.array(RunPrediction),
    "A run's predictions on one image, with their ids (to accept one as a label).",
  ),
  'labels:accept': method(
    z
      .object({
        runId: id,
        predictionIds: z.array(id).max(100_000).optional(),
        imageId: id.optional(),
        minScore: z.number().min(0).max(1).optional(),
      })
      .strict(),
    AcceptResult,
    "Accepts predictions as labels: the given ones, or all at or above a score in an image or the run's dataset.",
  ),
  'labels:labelWithModel': method(
    z
      .object({ modelId: id, imageId: id, minScore: z.number().min(0).max(1).default(0.5) })
      .strict(),
    EditResult,
    "Runs a model on one image now: a detector's detections become labels, a segmenter's label map replaces the image's (source 'prediction').",
  ),
  'labels:paint': method(
    PaintRequest,
    EditResult,
    'Paints a Cityscapes label map (brush, eraser, polygon fill); stored as a new map version.',
  ),
  'labels:maskStroke': method(
    MaskStroke,
    EditResult,
    'Paints (brush) or erases a COCO RLE mask along a stroke, as one undoable edit.',
  ),
  'labels:exportGt': method(
    z
      .object({
        datasetId: id,
        version: z.number().int().min(1).optional(),
        format: z.enum(['coco', 'cityscapes']).default('coco'),
        out: z.string().min(1),
      })
      .strict(),
    z.object({
      path: z.string(),
      version: z.number().int(),
      images: z.number().int(),
      annotations: z.number().int(),
      files: z.number().int(),
    }),
    'Writes a ground-truth version as COCO instances JSON or Cityscapes gtFine PNGs.',
    { paths: ['out'] },
  ),
  'review:build': method(
    z.object({ evaluationId: id, minScore: z.number().min(0).max(1).default(0.5) }).strict(),
    ReviewQueue,
    'Draws likely label errors from a COCO evaluation (kept: decisions survive a rebuild).',
  ),
  'review:queue': method(
    z
      .object({
        evaluationId: id,
        status: ReviewStatus.optional(),
        offset: z.number().int().min(0).default(0),
        limit: z.number().int().min(1).max(500).default(100),
      })
      .strict(),
    ReviewQueue,
    'The review queue of an evaluation, most likely errors first.',
  ),
  'review:decide': method(
    z.object({ itemId: id, status: ReviewStatus }).strict(),
    ReviewItem,
    'Records what the reviewer decided for one item.',
  ),
} as const
