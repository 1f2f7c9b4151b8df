/**
 * What evaluations and comparisons read of other entities' tables: a run's facts (its model's
 * task, its dataset and ground-truth version), the images it finished, its ground truth in COCO
 * form, the Cityscapes label maps it is scored against, and the names and boxes the comparison
 * views show. Read models only: nothing here writes.
 */
import { LIVE_ANNOTATIONS, perDb } from './sql'
import type { CocoDataset } from '../eval/cocoData'
import type { AnnotationRow } from './labelEdits'
import type { Db } from './store'

/** A run with its model's task and its dataset's kind, source and current ground truth. */
export interface RunFacts {
  id: number
  status: string
  error: string | null
  modelId: number
  modelName: string
  task: string
  datasetId: number
  datasetName: string
  kind: 'coco' | 'cityscapes'
  source: string
  split: string | null
  gtVersion: number
  imagesDone: number
  imagesTotal: number
  executionProvider: string | null
}

/** A Cityscapes image's ground-truth maps, relative to the dataset's source root. */
export interface LabelMapFiles {
  id: number
  fileName: string
  semanticPath: string
  instancePath: string | null
}

export interface AnnotationBox {
  annotationId: number
  categoryId: number
  bbox: [number, number, number, number]
}

interface RawRunRow {
  id: number
  status: string
  error: string | null
  model_id: number
  model_name: string
  task: string
  dataset_id: number
  dataset_name: string
  kind: 'coco' | 'cityscapes'
  source: string
  split: string | null
  gt_version: number
  images_done: number
  images_total: number
  execution_provider: string | null
}

interface RawLabelMapRow {
  id: number
  file_name: string
  semantic_path: string
  instance_path: string | null
}

type RawAnnotationRow = Omit<AnnotationRow, 'dataset_id' | 'source_id' | 'deleted'>

const toRunFacts = (r: RawRunRow): RunFacts => ({
  id: r.id,
  status: r.status,
  error: r.error,
  modelId: r.model_id,
  modelName: r.model_name,
  task: r.task,
  datasetId: r.dataset_id,
  datasetName: r.dataset_name,
  kind: r.kind,
  source: r.source,
  split: r.split,
  gtVersion: r.gt_version,
  imagesDone: r.images_done,
  imagesTotal: r.images_total,
  executionProvider: r.execution_provider,
})

const toLabelMapFiles = (r: RawLabelMapRow): LabelMapFiles => ({
  id: r.id,
  fileName: r.file_name,
  semanticPath: r.semantic_path,
  instancePath: r.instance_path,
})

/** An annotation as COCO writes it (a stored RLE keeps only `size` and `counts`). */
const toCocoAnnotation = (a: RawAnnotationRow): CocoDataset['annotations'][number] => {
  let segmentation: unknown = undefined
  if (a.segm_kind !== 'none' && a.segmentation) {
    const s = JSON.parse(a.segmentation) as unknown
    segmentation = Array.isArray(s)
      ? s
      : {
          size: (s as { size: [number, number] }).size,
          counts: (s as { counts: unknown }).counts,
        }
  }
  return {
    id: a.id,
    image_id: a.image_id,
    category_id: a.category_id,
    iscrowd: a.iscrowd,
    area: a.area,
    bbox: [a.bbox_x, a.bbox_y, a.bbox_w, a.bbox_h],
    ...(segmentation !== undefined ? { segmentation } : {}),
  } as CocoDataset['annotations'][number]
}

/** Variable-length id lists are bound as one JSON array, so each statement is prepared once. */
const IN_IDS = '(SELECT value FROM json_each(?))'

export class EvaluationInputStore {
  readonly #run
  readonly #runDataset
  readonly #doneCount
  readonly #doneImageIds
  readonly #inferenceTimes
  readonly #hasMasks
  readonly #gtImages
  readonly #gtAnnotations
  readonly #categories
  readonly #runLabelMaps
  readonly #datasetLabelMaps
  readonly #existingRuns
  readonly #datasetGtVersion
  readonly #imageNames
  readonly #annotationBoxes

  constructor(db: Db) {
    this.#run = db.prepare<[number], RawRunRow>(
      `SELECT r.id, r.status, r.error, r.model_id, m.name AS model_name, m.task, r.dataset_id, d.name AS dataset_name,
              d.kind, d.source, d.split, d.gt_version, r.images_done, r.images_total, r.execution_provider
       FROM runs r JOIN models m ON m.id = r.model_id JOIN datasets d ON d.id = r.dataset_id WHERE r.id = ?`,
    )
    this.#runDataset = db
      .prepare<[number], number>('SELECT dataset_id FROM runs WHERE id = ?')
      .pluck()
    this.#doneCount = db.prepare<[number], { n: number }>(
      `SELECT count(*) AS n FROM run_images WHERE run_id = ? AND status = 'done'`,
    )
    this.#doneImageIds = db
      .prepare<[number], number>(
        `SELECT image_id FROM run_images WHERE run_id = ? AND status = 'done' ORDER BY image_id`,
      )
      .pluck()
    this.#inferenceTimes = db
      .prepare<[number], number>(
        `SELECT inference_ms FROM run_images WHERE run_id = ? AND status = 'done' AND inference_ms IS NOT NULL`,
      )
      .pluck()
    this.#hasMasks = db
      .prepare<[number], number>(
        'SELECT EXISTS (SELECT 1 FROM predictions WHERE run_id = ? AND mask_rle IS NOT NULL)',
      )
      .pluck()
    this.#gtImages = db.prepare<
      [number],
      { id: number; file_name: string; width: number; height: number }
    >(
      `SELECT i.id, i.file_name, i.width, i.height FROM images i JOIN run_images ri ON ri.image_id = i.id
       WHERE ri.run_id = ? AND ri.status = 'done' ORDER BY i.id`,
    )
    this.#gtAnnotations = db.prepare<[number], RawAnnotationRow>(
      `SELECT a.id, a.image_id, a.category_id, a.iscrowd, a.area, a.bbox_x, a.bbox_y, a.bbox_w, a.bbox_h, a.segm_kind, a.segmentation
       FROM ${LIVE_ANNOTATIONS} a JOIN run_images ri ON ri.image_id = a.image_id AND ri.run_id = ? AND ri.status = 'done'`,
    )
    this.#categories = db.prepare<
      [number],
      { id: number; name: string; supercategory: string | null }
    >('SELECT id, name, supercategory FROM categories WHERE dataset_id = ? ORDER BY id')
    this.#runLabelMaps = db.prepare<[number], RawLabelMapRow>(
      `SELECT id, file_name, semantic_path, instance_path FROM images
       WHERE id IN (SELECT image_id FROM semantic_outputs WHERE run_id = ?) AND semantic_path IS NOT NULL`,
    )
    this.#datasetLabelMaps = db.prepare<[number], RawLabelMapRow>(
      `SELECT id, file_name, semantic_path, instance_path FROM images WHERE dataset_id = ? AND semantic_path IS NOT NULL`,
    )
    this.#existingRuns = db
      .prepare<[string], number>(`SELECT id FROM runs WHERE id IN ${IN_IDS}`)
      .pluck()
    this.#datasetGtVersion = db
      .prepare<[number], number>('SELECT gt_version FROM datasets WHERE id = ?')
      .pluck()
    this.#imageNames = db.prepare<[string], { id: number; file_name: string }>(
      `SELECT id, file_name FROM images WHERE id IN ${IN_IDS}`,
    )
    // The comparison names annotations by id as they were when it was computed: an annotation
    // soft-deleted since is still what it fixed or broke, so this reads the table, not the view.
    this.#annotationBoxes = db.prepare<
      [string],
      Pick<RawAnnotationRow, 'id' | 'category_id' | 'bbox_x' | 'bbox_y' | 'bbox_w' | 'bbox_h'>
    >(
      `SELECT id, category_id, bbox_x, bbox_y, bbox_w, bbox_h FROM annotations WHERE id IN ${IN_IDS}`,
    )
  }

  run(runId: number): RunFacts | undefined {
    const row = this.#run.get(runId)
    return row ? toRunFacts(row) : undefined
  }

  doneImageCount(runId: number): number {
    return this.#doneCount.get(runId)!.n
  }

  /** Images the run finished, by id. */
  doneImageIds(runId: number): number[] {
    return this.#doneImageIds.all(runId)
  }

  /** Forward-pass times (ms) of the images the run finished. */
  inferenceTimes(runId: number): number[] {
    return this.#inferenceTimes.all(runId)
  }

  /** Whether any prediction of the run has a mask (then it is evaluated as segm too). */
  hasMasks(runId: number): boolean {
    return this.#hasMasks.get(runId) === 1
  }

  /** Ground truth of the images the run finished, as a COCO instances document. */
  cocoGroundTruth(runId: number): CocoDataset | undefined {
    const datasetId = this.#runDataset.get(runId)
    if (datasetId === undefined) return undefined
    const images = this.#gtImages.all(runId)
    const annotations: CocoDataset['annotations'] = []
    for (const a of this.#gtAnnotations.iterate(runId)) annotations.push(toCocoAnnotation(a))
    return {
      images: images.map((i) => ({
        id: i.id,
        file_name: i.file_name,
        width: i.width,
        height: i.height,
      })),
      annotations,
      categories: this.#categories.all(datasetId).map((c) => ({
        id: c.id,
        name: c.name,
        ...(c.supercategory ? { supercategory: c.supercategory } : {}),
      })),
    }
  }

  /** Ground-truth maps of the images the run wrote label maps of. */
  runLabelMaps(runId: number): LabelMapFiles[] {
    return this.#runLabelMaps.all(runId).map(toLabelMapFiles)
  }

  /** Ground-truth maps of every image of a dataset that has them. */
  datasetLabelMaps(datasetId: number): LabelMapFiles[] {
    return this.#datasetLabelMaps.all(datasetId).map(toLabelMapFiles)
  }

  /** Those of the runs that still exist. */
  existingRunIds(runIds: readonly number[]): Set<number> {
    return new Set(this.#existingRuns.all(JSON.stringify(runIds)))
  }

  datasetGtVersion(datasetId: number): number | undefined {
    return this.#datasetGtVersion.get(datasetId)
  }

  imageFileNames(imageIds: readonly number[]): Map<number, string> {
    if (imageIds.length === 0) return new Map()
    return new Map(this.#imageNames.all(JSON.stringify(imageIds)).map((r) => [r.id, r.file_name]))
  }

  annotationBoxes(annotationIds: readonly number[]): Map<number, AnnotationBox> {
    if (annotationIds.length === 0) return new Map()
    return new Map(
      this.#annotationBoxes.all(JSON.stringify(annotationIds)).map((a) => [
        a.id,
        {
          annotationId: a.id,
          categoryId: a.category_id,
          bbox: [a.bbox_x, a.bbox_y, a.bbox_w, a.bbox_h],
        },
      ]),
    )
  }
}

export const evaluationInputStore = perDb((db: Db) => new EvaluationInputStore(db))
