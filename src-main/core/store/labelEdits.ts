/**
 * The SQL of label editing: annotation rows as stored, label operations (one undo step each),
 * their annotation_edits rows (before/after of every changed annotation), ground-truth
 * versions, edited Cityscapes label maps and the review queue. Statements are prepared once per
 * connection; services get typed rows and never write SQL of their own.
 */
import { LIVE_DATASETS, NOW } from './sql'
import type { Statement } from 'better-sqlite3'
import type { RawDetection } from './predictions'
import type { Db } from './store'

/** An `annotations` row exactly as stored: undo writes these back byte for byte. */
export interface AnnotationRow {
  id: number
  dataset_id: number
  image_id: number
  source_id: number
  category_id: number
  iscrowd: number
  area: number
  bbox_x: number
  bbox_y: number
  bbox_w: number
  bbox_h: number
  segm_kind: 'none' | 'polygon' | 'rle'
  segmentation: string | null
  deleted: number
}

export type OperationKind = 'edit' | 'undo' | 'redo' | 'revert'
export type EditSource = 'hand' | 'prediction'
export type StackPlace = 'undo' | 'redo' | 'none'

export interface OperationRow {
  id: number
  dataset_id: number
  image_id: number
  kind: OperationKind
  source: EditSource
  target_id: number | null
  stack: StackPlace
  gt_version: number
  summary: string
  warnings: string | null
  created_at: string
}

export type EditAction = 'create' | 'update' | 'delete' | 'restore'

export interface AnnotationEditRow {
  id: number
  dataset_id: number
  annotation_id: number
  action: EditAction
  before: string | null
  after: string | null
  gt_version: number
  note: string | null
  created_at: string
  operation_id: number | null
  image_id: number | null
  source: string | null
}

export interface LabelMapEditRow {
  id: number
  operation_id: number
  dataset_id: number
  image_id: number
  before_map: number | null
  after_map: number | null
  before_pixels: string
  after_pixels: string
  gt_version: number
}

export interface DatasetLabelRow {
  id: number
  kind: 'coco' | 'cityscapes'
  name: string
  split: string | null
  source: string
  images_root: string
  gt_version: number
}

export interface ImageLabelRow {
  id: number
  dataset_id: number
  source_id: number
  file_name: string
  width: number
  height: number
  missing: number
  semantic_path: string | null
  instance_path: string | null
}

export interface VersionRow {
  version: number
  created_at: string | null
  frozen_at: string | null
  frozen_by: string | null
}

export interface ReviewItemRow {
  id: number
  evaluation_id: number
  dataset_id: number
  image_id: number
  kind: 'missing_label' | 'wrong_label' | 'class_confusion'
  priority: number
  prediction_id: number | null
  annotation_id: number | null
  category_id: number
  predicted_category_id: number | null
  score: number | null
  iou: number | null
  status: 'open' | 'accepted' | 'fixed' | 'dismissed'
  reviewed_at: string | null
}

/** A stored prediction, to be accepted as a label. */
export interface PredictionRow extends RawDetection {
  id: number
  run_id: number
  image_id: number
}

export interface EvaluationLabelRow {
  id: number
  run_id: number
  dataset_id: number
  gt_version: number
  kind: 'coco-bbox' | 'coco-segm' | 'cityscapes'
  status: 'running' | 'done' | 'failed'
  primary_metric: number | null
}

export type NewReviewItem = Omit<ReviewItemRow, 'id' | 'status' | 'reviewed_at'>

const annotationColumns = `id, dataset_id, image_id, source_id, category_id, iscrowd, area, bbox_x, bbox_y, bbox_w, bbox_h, segm_kind, segmentation, deleted`
const annotationParams = `@id, @dataset_id, @image_id, @source_id, @category_id, @iscrowd, @area, @bbox_x, @bbox_y, @bbox_w, @bbox_h, @segm_kind, @segmentation, @deleted`

export class LabelEditStore {
  readonly #s: Record<string, Statement>

  constructor(readonly db: Db) {
    const p = (sql: string) => db.prepare(sql)
    this.#s = {
      dataset: p(
        `SELECT id, kind, name, split, source, images_root, gt_version FROM ${LIVE_DATASETS} WHERE id = ?`,
      ),
      image: p(
        `SELECT i.id, i.dataset_id, i.source_id, i.file_name, i.width, i.height, i.missing, i.semantic_path, i.instance_path
         FROM images i JOIN ${LIVE_DATASETS} d ON d.id = i.dataset_id WHERE i.id = ?`,
      ),
      datasetImages: p(
        `SELECT id, dataset_id, source_id, file_name, width, height, missing, semantic_path, instance_path
         FROM images WHERE dataset_id = ? ORDER BY id`,
      ),
      annotation: p(`SELECT ${annotationColumns} FROM annotations WHERE id = ?`),
      imageAnnotations: p(
        `SELECT ${annotationColumns} FROM annotations WHERE image_id = ? ORDER BY id`,
      ),
      datasetLiveAnnotations: p(
        `SELECT ${annotationColumns} FROM live_annotations WHERE dataset_id = ? ORDER BY id`,
      ),
      insertAnnotation: p(
        `INSERT INTO annotations (${annotationColumns}) VALUES (${annotationParams})`,
      ),
      updateAnnotation: p(
        `UPDATE annotations SET dataset_id = @dataset_id, image_id = @image_id, source_id = @source_id,
           category_id = @category_id, iscrowd = @iscrowd, area = @area, bbox_x = @bbox_x, bbox_y = @bbox_y,
           bbox_w = @bbox_w, bbox_h = @bbox_h, segm_kind = @segm_kind, segmentation = @segmentation,
           deleted = @deleted WHERE id = @id`,
      ),
      removeAnnotation: p(`DELETE FROM annotations WHERE id = ?`),
      revision: p(`SELECT coalesce(max(id), 0) AS r FROM annotation_edits WHERE annotation_id = ?`),
      imageRevisions: p(
        `SELECT annotation_id AS annotationId, max(id) AS r FROM annotation_edits WHERE image_id = ? GROUP BY annotation_id`,
      ),
      maxAnnotationId: p(
        `SELECT max(coalesce((SELECT max(id) FROM annotations), 0), coalesce((SELECT max(annotation_id) FROM annotation_edits), 0)) AS n`,
      ),
      maxSourceId: p(
        `SELECT coalesce(max(source_id), 0) AS n FROM annotations WHERE dataset_id = ?`,
      ),
      bumpImageCategory: p(
        `INSERT INTO image_categories (image_id, dataset_id, category_id, annotation_count, pixel_count)
         VALUES (?, ?, ?, ?, 0)
         ON CONFLICT (image_id, category_id) DO UPDATE SET annotation_count = annotation_count + excluded.annotation_count`,
      ),
      setPixelCount: p(
        `INSERT INTO image_categories (image_id, dataset_id, category_id, annotation_count, pixel_count)
         VALUES (?, ?, ?, 0, ?)
         ON CONFLICT (image_id, category_id) DO UPDATE SET pixel_count = excluded.pixel_count`,
      ),
      dropEmptyImageCategory: p(
        `DELETE FROM image_categories WHERE image_id = ? AND category_id = ? AND annotation_count = 0 AND pixel_count = 0`,
      ),
      imagePixelCategories: p(
        `SELECT category_id, pixel_count FROM image_categories WHERE image_id = ? AND pixel_count > 0`,
      ),
      bumpImage: p(`UPDATE images SET annotation_count = annotation_count + ? WHERE id = ?`),
      bumpDataset: p(`UPDATE datasets SET annotation_count = annotation_count + ? WHERE id = ?`),
      categoryExists: p(`SELECT 1 AS x FROM categories WHERE dataset_id = ? AND id = ?`),
      evaluationAt: p(
        `SELECT 1 AS x FROM evaluations WHERE dataset_id = ? AND gt_version = ? LIMIT 1`,
      ),
      version: p(
        `SELECT version, created_at, frozen_at, frozen_by FROM gt_versions WHERE dataset_id = ? AND version = ?`,
      ),
      versions: p(
        `SELECT version, created_at, frozen_at, frozen_by FROM gt_versions WHERE dataset_id = ? ORDER BY version`,
      ),
      insertVersion: p(`INSERT INTO gt_versions (dataset_id, version) VALUES (?, ?)`),
      freezeVersion: p(
        `INSERT INTO gt_versions (dataset_id, version, frozen_at, frozen_by) VALUES (@d, @v, ${NOW}, @by)
         ON CONFLICT (dataset_id, version) DO UPDATE SET frozen_at = coalesce(frozen_at, excluded.frozen_at), frozen_by = coalesce(frozen_by, excluded.frozen_by)`,
      ),
      setDatasetVersion: p(`UPDATE datasets SET gt_version = ? WHERE id = ?`),
      versionStats: p(
        `SELECT gt_version AS version, count(*) AS operations, min(created_at) AS first, max(created_at) AS last
         FROM label_operations WHERE dataset_id = ? GROUP BY gt_version`,
      ),
      versionEdits: p(
        `SELECT gt_version AS version, count(*) AS n FROM annotation_edits WHERE dataset_id = ? GROUP BY gt_version`,
      ),
      versionEvaluations: p(
        `SELECT gt_version AS version, count(*) AS n FROM evaluations WHERE dataset_id = ? GROUP BY gt_version`,
      ),
      insertOperation: p(
        `INSERT INTO label_operations (dataset_id, image_id, kind, source, target_id, stack, gt_version, summary)
         VALUES (?, ?, ?, ?, ?, ?, ?, '')`,
      ),
      finishOperation: p(`UPDATE label_operations SET summary = ?, warnings = ? WHERE id = ?`),
      operation: p(`SELECT * FROM label_operations WHERE id = ?`),
      setStack: p(`UPDATE label_operations SET stack = ? WHERE id = ?`),
      clearRedo: p(
        `UPDATE label_operations SET stack = 'none' WHERE image_id = ? AND stack = 'redo'`,
      ),
      topUndo: p(
        `SELECT * FROM label_operations WHERE image_id = ? AND stack = 'undo' ORDER BY id DESC LIMIT 1`,
      ),
      topRedo: p(
        `SELECT * FROM label_operations WHERE image_id = ? AND stack = 'redo' ORDER BY id ASC LIMIT 1`,
      ),
      imageOperations: p(
        `SELECT * FROM label_operations WHERE image_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
      ),
      datasetOperations: p(
        `SELECT * FROM label_operations WHERE dataset_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
      ),
      datasetOperationCount: p(`SELECT count(*) AS n FROM label_operations WHERE dataset_id = ?`),
      imageOperationCount: p(`SELECT count(*) AS n FROM label_operations WHERE image_id = ?`),
      insertEdit: p(
        `INSERT INTO annotation_edits (dataset_id, annotation_id, action, before, after, gt_version, note, operation_id, image_id, source)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      operationEdits: p(`SELECT * FROM annotation_edits WHERE operation_id = ? ORDER BY id`),
      imageEditsFrom: p(
        `SELECT * FROM annotation_edits WHERE image_id = ? AND operation_id >= ? ORDER BY id`,
      ),
      editsAfterVersion: p(
        `SELECT * FROM annotation_edits WHERE dataset_id = ? AND gt_version > ? ORDER BY id`,
      ),
      editsBetween: p(
        `SELECT * FROM annotation_edits WHERE dataset_id = ? AND gt_version > ? AND gt_version <= ? ORDER BY id`,
      ),
      insertLabelMap: p(
        `INSERT INTO label_maps (dataset_id, image_id, label_png, instance_png) VALUES (?, ?, ?, ?)`,
      ),
      labelMap: p(`SELECT id, label_png, instance_png FROM label_maps WHERE id = ?`),
      currentMapEdit: p(
        `SELECT * FROM label_map_edits WHERE image_id = ? ORDER BY id DESC LIMIT 1`,
      ),
      insertMapEdit: p(
        `INSERT INTO label_map_edits (operation_id, dataset_id, image_id, before_map, after_map, before_pixels, after_pixels, gt_version)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      operationMapEdits: p(`SELECT * FROM label_map_edits WHERE operation_id = ? ORDER BY id`),
      imageMapEditsFrom: p(
        `SELECT * FROM label_map_edits WHERE image_id = ? AND operation_id >= ? ORDER BY id`,
      ),
      mapEditsAfterVersion: p(
        `SELECT * FROM label_map_edits WHERE dataset_id = ? AND gt_version > ? ORDER BY id`,
      ),
      mapEditsBetween: p(
        `SELECT * FROM label_map_edits WHERE dataset_id = ? AND gt_version > ? AND gt_version <= ? ORDER BY id`,
      ),
      run: p(`SELECT id, dataset_id FROM runs WHERE id = ?`),
      evaluation: p(
        `SELECT id, run_id, dataset_id, gt_version, kind, status, primary_metric FROM evaluations WHERE id = ?`,
      ),
      evaluationImages: p(
        `SELECT image_id FROM evaluation_images WHERE evaluation_id = ? ORDER BY image_id`,
      ),
      categories: p(
        `SELECT id, name, supercategory FROM categories WHERE dataset_id = ? ORDER BY id`,
      ),
      imagePredictions: p(
        `SELECT id, run_id, image_id, category_id, score, bbox_x, bbox_y, bbox_w, bbox_h, mask_rle
         FROM predictions WHERE run_id = ? AND image_id = ? AND score >= ? ORDER BY score DESC, id`,
      ),
      runPredictions: p(
        `SELECT id, run_id, image_id, category_id, score, bbox_x, bbox_y, bbox_w, bbox_h, mask_rle
         FROM predictions WHERE run_id = ? AND score >= ? ORDER BY image_id, score DESC, id`,
      ),
      prediction: p(
        `SELECT id, run_id, image_id, category_id, score, bbox_x, bbox_y, bbox_w, bbox_h, mask_rle
         FROM predictions WHERE id = ?`,
      ),
      insertReview: p(
        `INSERT OR IGNORE INTO review_items (evaluation_id, dataset_id, image_id, kind, priority, prediction_id, annotation_id,
           category_id, predicted_category_id, score, iou)
         VALUES (@evaluation_id, @dataset_id, @image_id, @kind, @priority, @prediction_id, @annotation_id,
           @category_id, @predicted_category_id, @score, @iou)`,
      ),
      reviewCount: p(`SELECT count(*) AS n FROM review_items WHERE evaluation_id = ?`),
      reviewQueue: p(
        `SELECT * FROM review_items WHERE evaluation_id = @e AND (@status IS NULL OR status = @status)
         ORDER BY priority DESC, id LIMIT @limit OFFSET @offset`,
      ),
      reviewTotals: p(
        `SELECT status, count(*) AS n FROM review_items WHERE evaluation_id = ? GROUP BY status`,
      ),
      reviewItem: p(`SELECT * FROM review_items WHERE id = ?`),
      setReviewStatus: p(
        `UPDATE review_items SET status = ?, reviewed_at = CASE WHEN ? = 'open' THEN NULL ELSE ${NOW} END WHERE id = ?`,
      ),
    }
  }

  dataset(id: number): DatasetLabelRow | undefined {
    return this.#s.dataset!.get(id) as DatasetLabelRow | undefined
  }
  image(id: number): ImageLabelRow | undefined {
    return this.#s.image!.get(id) as ImageLabelRow | undefined
  }
  datasetImages(datasetId: number): ImageLabelRow[] {
    return this.#s.datasetImages!.all(datasetId) as ImageLabelRow[]
  }
  annotation(id: number): AnnotationRow | undefined {
    return this.#s.annotation!.get(id) as AnnotationRow | undefined
  }
  /** Every row of an image, deleted ones included (undo needs them). */
  imageAnnotations(imageId: number): AnnotationRow[] {
    return this.#s.imageAnnotations!.all(imageId) as AnnotationRow[]
  }
  datasetLiveAnnotations(datasetId: number): IterableIterator<AnnotationRow> {
    return this.#s.datasetLiveAnnotations!.iterate(datasetId) as IterableIterator<AnnotationRow>
  }
  insertAnnotation(row: AnnotationRow): void {
    this.#s.insertAnnotation!.run(row)
  }
  updateAnnotation(row: AnnotationRow): void {
    this.#s.updateAnnotation!.run(row)
  }
  removeAnnotation(id: number): void {
    this.#s.removeAnnotation!.run(id)
  }
  /** The id of the last edit of an annotation; 0 while it is as imported. */
  revision(annotationId: number): number {
    return (this.#s.revision!.get(annotationId) as { r: number }).r
  }
  imageRevisions(imageId: number): Map<number, number> {
    const rows = this.#s.imageRevisions!.all(imageId) as { annotationId: number; r: number }[]
    return new Map(rows.map((r) => [r.annotationId, r.r]))
  }
  /** Never reuses an id, even one whose creation was undone (its history keeps it). */
  nextAnnotationId(): number {
    return (this.#s.maxAnnotationId!.get() as { n: number }).n + 1
  }
  nextSourceId(datasetId: number): number {
    return (this.#s.maxSourceId!.get(datasetId) as { n: number }).n + 1
  }
  bumpAnnotationCounts(row: AnnotationRow, delta: number): void {
    this.#s.bumpImageCategory!.run(row.image_id, row.dataset_id, row.category_id, delta)
    if (delta < 0) this.#s.dropEmptyImageCategory!.run(row.image_id, row.category_id)
    this.#s.bumpImage!.run(delta, row.image_id)
    this.#s.bumpDataset!.run(delta, row.dataset_id)
  }
  setPixelCount(imageId: number, datasetId: number, categoryId: number, pixels: number): void {
    this.#s.setPixelCount!.run(imageId, datasetId, categoryId, pixels)
    if (pixels === 0) this.#s.dropEmptyImageCategory!.run(imageId, categoryId)
  }
  imagePixelCounts(imageId: number): Map<number, number> {
    const rows = this.#s.imagePixelCategories!.all(imageId) as {
      category_id: number
      pixel_count: number
    }[]
    return new Map(rows.map((r) => [r.category_id, r.pixel_count]))
  }
  categoryExists(datasetId: number, categoryId: number): boolean {
    return this.#s.categoryExists!.get(datasetId, categoryId) !== undefined
  }
  hasEvaluationAt(datasetId: number, version: number): boolean {
    return this.#s.evaluationAt!.get(datasetId, version) !== undefined
  }
  version(datasetId: number, version: number): VersionRow | undefined {
    return this.#s.version!.get(datasetId, version) as VersionRow | undefined
  }
  versions(datasetId: number): VersionRow[] {
    return this.#s.versions!.all(datasetId) as VersionRow[]
  }
  createVersion(datasetId: number, version: number): void {
    this.#s.insertVersion!.run(datasetId, version)
    this.#s.setDatasetVersion!.run(version, datasetId)
  }
  freezeVersion(datasetId: number, version: number, by: string): void {
    this.#s.freezeVersion!.run({ d: datasetId, v: version, by })
  }
  versionStats(datasetId: number): {
    operations: Map<number, { operations: number; first: string; last: string }>
    edits: Map<number, number>
    evaluations: Map<number, number>
  } {
    const ops = this.#s.versionStats!.all(datasetId) as {
      version: number
      operations: number
      first: string
      last: string
    }[]
    const count = (s: Statement) =>
      new Map((s.all(datasetId) as { version: number; n: number }[]).map((r) => [r.version, r.n]))
    return {
      operations: new Map(ops.map((o) => [o.version, o])),
      edits: count(this.#s.versionEdits!),
      evaluations: count(this.#s.versionEvaluations!),
    }
  }
  insertOperation(o: {
    datasetId: number
    imageId: number
    kind: OperationKind
    source: EditSource
    targetId: number | null
    stack: StackPlace
    version: number
  }): number {
    return Number(
      this.#s.insertOperation!.run(
        o.datasetId,
        o.imageId,
        o.kind,
        o.source,
        o.targetId,
        o.stack,
        o.version,
      ).lastInsertRowid,
    )
  }
  finishOperation(id: number, summary: string, warnings: string[]): void {
    this.#s.finishOperation!.run(summary, warnings.length ? JSON.stringify(warnings) : null, id)
  }
  operation(id: number): OperationRow | undefined {
    return this.#s.operation!.get(id) as OperationRow | undefined
  }
  setStack(id: number, stack: StackPlace): void {
    this.#s.setStack!.run(stack, id)
  }
  clearRedo(imageId: number): void {
    this.#s.clearRedo!.run(imageId)
  }
  topUndo(imageId: number): OperationRow | undefined {
    return this.#s.topUndo!.get(imageId) as OperationRow | undefined
  }
  topRedo(imageId: number): OperationRow | undefined {
    return this.#s.topRedo!.get(imageId) as OperationRow | undefined
  }
  imageOperations(imageId: number, beforeId: number, limit: number): OperationRow[] {
    return this.#s.imageOperations!.all(imageId, beforeId, limit) as OperationRow[]
  }
  datasetOperations(datasetId: number, beforeId: number, limit: number): OperationRow[] {
    return this.#s.datasetOperations!.all(datasetId, beforeId, limit) as OperationRow[]
  }
  operationCount(scope: { datasetId: number } | { imageId: number }): number {
    return 'datasetId' in scope
      ? (this.#s.datasetOperationCount!.get(scope.datasetId) as { n: number }).n
      : (this.#s.imageOperationCount!.get(scope.imageId) as { n: number }).n
  }
  insertEdit(e: {
    datasetId: number
    annotationId: number
    action: EditAction
    before: string | null
    after: string | null
    version: number
    note: string | null
    operationId: number
    imageId: number
    source: EditSource
  }): number {
    return Number(
      this.#s.insertEdit!.run(
        e.datasetId,
        e.annotationId,
        e.action,
        e.before,
        e.after,
        e.version,
        e.note,
        e.operationId,
        e.imageId,
        e.source,
      ).lastInsertRowid,
    )
  }
  operationEdits(operationId: number): AnnotationEditRow[] {
    return this.#s.operationEdits!.all(operationId) as AnnotationEditRow[]
  }
  imageEditsFrom(imageId: number, operationId: number): AnnotationEditRow[] {
    return this.#s.imageEditsFrom!.all(imageId, operationId) as AnnotationEditRow[]
  }
  editsAfterVersion(datasetId: number, version: number): AnnotationEditRow[] {
    return this.#s.editsAfterVersion!.all(datasetId, version) as AnnotationEditRow[]
  }
  editsBetween(datasetId: number, from: number, to: number): AnnotationEditRow[] {
    return this.#s.editsBetween!.all(datasetId, from, to) as AnnotationEditRow[]
  }
  insertLabelMap(datasetId: number, imageId: number, label: Buffer, instance: Buffer): number {
    return Number(this.#s.insertLabelMap!.run(datasetId, imageId, label, instance).lastInsertRowid)
  }
  labelMap(id: number): { id: number; label_png: Buffer; instance_png: Buffer } | undefined {
    return this.#s.labelMap!.get(id) as
      { id: number; label_png: Buffer; instance_png: Buffer } | undefined
  }
  /** The last map edit of an image: its after_map is the image's current map (NULL: the files). */
  currentMapEdit(imageId: number): LabelMapEditRow | undefined {
    return this.#s.currentMapEdit!.get(imageId) as LabelMapEditRow | undefined
  }
  insertMapEdit(e: Omit<LabelMapEditRow, 'id'>): number {
    return Number(
      this.#s.insertMapEdit!.run(
        e.operation_id,
        e.dataset_id,
        e.image_id,
        e.before_map,
        e.after_map,
        e.before_pixels,
        e.after_pixels,
        e.gt_version,
      ).lastInsertRowid,
    )
  }
  operationMapEdits(operationId: number): LabelMapEditRow[] {
    return this.#s.operationMapEdits!.all(operationId) as LabelMapEditRow[]
  }
  imageMapEditsFrom(imageId: number, operationId: number): LabelMapEditRow[] {
    return this.#s.imageMapEditsFrom!.all(imageId, operationId) as LabelMapEditRow[]
  }
  mapEditsAfterVersion(datasetId: number, version: number): LabelMapEditRow[] {
    return this.#s.mapEditsAfterVersion!.all(datasetId, version) as LabelMapEditRow[]
  }
  mapEditsBetween(datasetId: number, from: number, to: number): LabelMapEditRow[] {
    return this.#s.mapEditsBetween!.all(datasetId, from, to) as LabelMapEditRow[]
  }
  categories(datasetId: number): { id: number; name: string; supercategory: string | null }[] {
    return this.#s.categories!.all(datasetId) as {
      id: number
      name: string
      supercategory: string | null
    }[]
  }
  evaluation(id: number): EvaluationLabelRow | undefined {
    return this.#s.evaluation!.get(id) as EvaluationLabelRow | undefined
  }
  evaluationImageIds(id: number): number[] {
    return (this.#s.evaluationImages!.all(id) as { image_id: number }[]).map((r) => r.image_id)
  }
  run(id: number): { id: number; dataset_id: number } | undefined {
    return this.#s.run!.get(id) as { id: number; dataset_id: number } | undefined
  }
  imagePredictions(runId: number, imageId: number, minScore: number): PredictionRow[] {
    return this.#s.imagePredictions!.all(runId, imageId, minScore) as PredictionRow[]
  }
  runPredictions(runId: number, minScore: number): PredictionRow[] {
    return this.#s.runPredictions!.all(runId, minScore) as PredictionRow[]
  }
  prediction(id: number): PredictionRow | undefined {
    return this.#s.prediction!.get(id) as PredictionRow | undefined
  }
  insertReviewItem(item: NewReviewItem): void {
    this.#s.insertReview!.run(item)
  }
  reviewCount(evaluationId: number): number {
    return (this.#s.reviewCount!.get(evaluationId) as { n: number }).n
  }
  reviewQueue(
    evaluationId: number,
    status: ReviewItemRow['status'] | null,
    offset: number,
    limit: number,
  ): ReviewItemRow[] {
    return this.#s.reviewQueue!.all({ e: evaluationId, status, offset, limit }) as ReviewItemRow[]
  }
  reviewTotals(evaluationId: number): Map<string, number> {
    const rows = this.#s.reviewTotals!.all(evaluationId) as { status: string; n: number }[]
    return new Map(rows.map((r) => [r.status, r.n]))
  }
  reviewItem(id: number): ReviewItemRow | undefined {
    return this.#s.reviewItem!.get(id) as ReviewItemRow | undefined
  }
  setReviewStatus(id: number, status: ReviewItemRow['status']): void {
    this.#s.setReviewStatus!.run(status, status, id)
  }
}

const stores = new WeakMap<Db, LabelEditStore>()

/** One statement set per connection, prepared on first use. */
export function labelEditStore(db: Db): LabelEditStore {
  let s = stores.get(db)
  if (!s) stores.set(db, (s = new LabelEditStore(db)))
  return s
}
