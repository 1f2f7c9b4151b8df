/**
 * Edits of the ground truth. Every user action on an image is one *operation*: one transaction
 * that writes the changed annotation rows, one annotation_edits row per change (the full row
 * before and after), the per-class counts, and the dataset's ground-truth version. A failure
 * (read-only folder, full disk, a stale revision) rolls all of it back.
 *
 * Undo and redo are per image and unlimited: they are operations too (recorded with their own
 * before/after), and move the operation they act on between the image's undo and redo stacks.
 *
 * Versions: version 1 is the ground truth as imported. An edit goes into the current version
 * while that version is *open*; a version is frozen once something has used it (an evaluation
 * recorded at it, or an export), and the next edit then starts version N+1. So a burst of edits
 * between two evaluations is one version, every evaluation names the exact ground truth it
 * scored, and an evaluation whose version is older than the dataset's says so.
 */
import path from 'node:path'
import type { Annotation } from '../../common/api'
import type {
  EditResult,
  EditSource,
  GtDiff,
  GtVersion,
  LabelChange,
  LabelImageState,
  LabelOperation,
  LabelOperationDetail,
} from '../../common/api/labels'
import { AppError } from '../../common/errors'
import {
  labelEditStore,
  type AnnotationEditRow,
  type AnnotationRow,
  type DatasetLabelRow,
  type EditAction,
  type ImageLabelRow,
  type LabelEditStore,
  type LabelMapEditRow,
  type OperationRow,
} from '../store/labelEdits'
import { storeIoError, type Db } from '../store/store'
import { fitPolygons, polygonShape, boxShape, shapeFromApi, type StoredShape } from './geometry'
import { fromSnapshot, rowToAnnotation, rowToState, sameContent, snapshot } from './rows'

/** A change as the core passes it: Cityscapes instances also carry their instanceIds value. */
export type InternalChange = LabelChange & { instanceId?: number }

/** A label-map change inside an operation (Cityscapes painting), applied with the annotations. */
export interface MapChange {
  beforeMap: number | null
  afterMap: number | null
  beforePixels: Record<string, number>
  afterPixels: Record<string, number>
}

/** Cityscapes instance masks keep their instanceIds value in the stored JSON, as imported. */
function withInstance(shape: StoredShape, instanceId: number | undefined): StoredShape {
  if (instanceId === undefined || shape.segmKind !== 'rle') return shape
  const s = JSON.parse(shape.segmentation!) as Record<string, unknown>
  return { ...shape, segmentation: JSON.stringify({ ...s, instanceId }) }
}

const sameRow = (a: AnnotationRow | null | undefined, b: AnnotationRow | null) =>
  (a ?? null) === null ? b === null : b !== null && a!.id === b.id && sameContent(a!, b)

function actionBetween(current: AnnotationRow | null, target: AnnotationRow | null): EditAction {
  const live = (r: AnnotationRow | null) => r !== null && r.deleted === 0
  if (!live(current) && live(target)) return current === null ? 'create' : 'restore'
  if (live(current) && !live(target)) return 'delete'
  return 'update'
}

const inverse: Record<EditAction, EditAction> = {
  create: 'delete',
  delete: 'restore',
  restore: 'delete',
  update: 'update',
}

function toOperation(r: OperationRow): LabelOperation {
  return {
    id: r.id,
    datasetId: r.dataset_id,
    imageId: r.image_id,
    kind: r.kind,
    source: r.source,
    targetId: r.target_id,
    stack: r.stack,
    gtVersion: r.gt_version,
    summary: r.summary,
    warnings: r.warnings ? (JSON.parse(r.warnings) as string[]) : [],
    createdAt: r.created_at,
  }
}

export class LabelEditor {
  readonly store: LabelEditStore

  constructor(readonly db: Db) {
    this.store = labelEditStore(db)
  }

  /**
   * Runs `fn` as one IMMEDIATE transaction (the write lock is taken first, so two processes
   * never both read then fail to upgrade), mapping a read-only store or a full disk to an error
   * that says so. Nothing of `fn` remains when it throws.
   */
  write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate()
    } catch (err) {
      if (err instanceof AppError) throw err
      throw storeIoError(err, path.dirname(this.db.name))
    }
  }

  image(imageId: number): ImageLabelRow {
    const image = this.store.image(imageId)
    if (!image) throw new AppError('NOT_FOUND', `Image ${imageId} does not exist.`)
    return image
  }

  dataset(datasetId: number): DatasetLabelRow {
    const d = this.store.dataset(datasetId)
    if (!d) throw new AppError('NOT_FOUND', `Dataset ${datasetId} does not exist.`)
    return d
  }

  /** The version an edit made now belongs to: the current one if open, else a new one. */
  openVersion(datasetId: number): number {
    const v = this.dataset(datasetId).gt_version
    const frozen =
      v === 1 ||
      this.store.version(datasetId, v)?.frozen_at != null ||
      this.store.hasEvaluationAt(datasetId, v)
    if (!frozen) return v
    this.store.createVersion(datasetId, v + 1)
    return v + 1
  }

  /** Freezes the current version (an export used it): the next edit starts a new one. */
  freezeCurrent(datasetId: number, by: string): number {
    return this.write(() => {
      const v = this.dataset(datasetId).gt_version
      if (v > 1) this.store.freezeVersion(datasetId, v, by)
      return v
    })
  }

  /** Writes a row's new state (null: the row goes), keeping the per-class counts right. */
  #apply(current: AnnotationRow | null, target: AnnotationRow | null): void {
    const s = this.store
    if (current && current.deleted === 0) s.bumpAnnotationCounts(current, -1)
    if (target === null) {
      if (current) s.removeAnnotation(current.id)
    } else if (current) s.updateAnnotation(target)
    else s.insertAnnotation(target)
    if (target && target.deleted === 0) s.bumpAnnotationCounts(target, 1)
  }

  #record(
    op: { id: number; version: number; datasetId: number; imageId: number; source: EditSource },
    annotationId: number,
    current: AnnotationRow | null,
    target: AnnotationRow | null,
    action: EditAction = actionBetween(current, target),
    note: string | null = null,
  ): void {
    this.#apply(current, target)
    this.store.insertEdit({
      datasetId: op.datasetId,
      annotationId,
      action,
      before: snapshot(current),
      after: snapshot(target),
      version: op.version,
      note,
      operationId: op.id,
      imageId: op.imageId,
      source: op.source,
    })
  }

  /** Applies a label-map change (hooks set by the label-map module keep pixel counts right). */
  #applyMap(op: { id: number; version: number; datasetId: number; imageId: number }, m: MapChange) {
    this.store.insertMapEdit({
      operation_id: op.id,
      dataset_id: op.datasetId,
      image_id: op.imageId,
      before_map: m.beforeMap,
      after_map: m.afterMap,
      before_pixels: JSON.stringify(m.beforePixels),
      after_pixels: JSON.stringify(m.afterPixels),
      gt_version: op.version,
    })
    const classes = new Set([...Object.keys(m.beforePixels), ...Object.keys(m.afterPixels)])
    for (const c of classes)
      this.store.setPixelCount(op.imageId, op.datasetId, Number(c), m.afterPixels[c] ?? 0)
  }

  #checkCategory(datasetId: number, categoryId: number, where: string): void {
    if (!this.store.categoryExists(datasetId, categoryId))
      throw new AppError(
        'INVALID_INPUT',
        `${where}category ${categoryId} is not a category of this dataset (categories are never added by edits).`,
      )
  }

  #current(annotationId: number, imageId: number, revision: number, where: string): AnnotationRow {
    const row = this.store.annotation(annotationId)
    if (!row || row.image_id !== imageId)
      throw new AppError(
        'NOT_FOUND',
        `${where}annotation ${annotationId} is not on image ${imageId}.`,
      )
    const now = this.store.revision(annotationId)
    if (now !== revision)
      throw new AppError(
        'CONFLICT',
        `${where}annotation ${annotationId} was changed elsewhere (another window or the CLI) after you loaded it; your change was not saved. Reload the image to see the change, then edit again.`,
        { annotationId, revision: now, current: rowToState(row) },
      )
    return row
  }

  #shapeFor(
    c: Extract<LabelChange, { op: 'update' }>,
    current: AnnotationRow,
    image: ImageLabelRow,
  ): StoredShape | null {
    if (c.segmentation) return shapeFromApi(c.segmentation, c.bbox, image)
    if (!c.bbox) return null
    if (current.segm_kind === 'polygon') {
      const polygons = JSON.parse(current.segmentation!) as number[][]
      const from: [number, number, number, number] = [
        current.bbox_x,
        current.bbox_y,
        current.bbox_w,
        current.bbox_h,
      ]
      return polygonShape(fitPolygons(polygons, from, c.bbox), image)
    }
    if (current.segm_kind === 'rle')
      throw new AppError(
        'INVALID_INPUT',
        `Annotation ${current.id} is a mask: its box follows the mask, so edit the mask instead.`,
      )
    return boxShape(c.bbox, image)
  }

  /** One edit of an image (one undo step), from the editor or from accepted predictions. */
  edit(
    imageId: number,
    changes: readonly LabelChange[],
    source: EditSource = 'hand',
    note: string | null = null,
  ): EditResult {
    const warnings: string[] = []
    const opId = this.write(() =>
      this.applyChanges(this.image(imageId), changes, source, note, warnings),
    )
    return this.result(opId, imageId, warnings)
  }

  /** The body of `edit`, inside a caller's transaction (accepting predictions over many images). */
  applyChanges(
    image: ImageLabelRow,
    changes: readonly InternalChange[],
    source: EditSource,
    note: string | null,
    warnings: string[],
    mapChange?: MapChange,
    derived = false,
  ): number {
    const d = this.dataset(image.dataset_id)
    if (d.kind === 'cityscapes' && !derived)
      throw new AppError(
        'UNSUPPORTED',
        'Cityscapes instances come from the label maps: paint the label map (brush, eraser, polygon fill) instead.',
      )
    const version = this.openVersion(d.id)
    this.store.clearRedo(image.id)
    const id = this.store.insertOperation({
      datasetId: d.id,
      imageId: image.id,
      kind: 'edit',
      source,
      targetId: null,
      stack: 'undo',
      version,
    })
    const op = { id, version, datasetId: d.id, imageId: image.id, source }
    const said: string[] = []
    if (image.missing)
      warnings.push(
        `The image file ${image.file_name} is missing on disk; the edit is stored all the same.`,
      )
    changes.forEach((c, k) => {
      const where = changes.length > 1 ? `Change ${k + 1}: ` : ''
      let shape: StoredShape | null = null
      if (c.op === 'create') {
        this.#checkCategory(d.id, c.categoryId, where)
        shape = withInstance(shapeFromApi(c.segmentation, c.bbox, image), c.instanceId)
        const row: AnnotationRow = {
          id: this.store.nextAnnotationId(),
          dataset_id: d.id,
          image_id: image.id,
          source_id: this.store.nextSourceId(d.id),
          category_id: c.categoryId,
          iscrowd: c.iscrowd ? 1 : 0,
          area: shape.area,
          bbox_x: shape.bbox[0],
          bbox_y: shape.bbox[1],
          bbox_w: shape.bbox[2],
          bbox_h: shape.bbox[3],
          segm_kind: shape.segmKind,
          segmentation: shape.segmentation,
          deleted: 0,
        }
        this.#record(op, row.id, null, row, 'create', note)
        said.push(`created ${row.segm_kind === 'none' ? 'box' : row.segm_kind} ${row.id}`)
      } else {
        const current = this.#current(c.annotationId, image.id, c.revision, where)
        let target: AnnotationRow
        if (c.op === 'update') {
          if (current.deleted)
            throw new AppError(
              'CONFLICT',
              `${where}annotation ${current.id} is deleted; restore it first.`,
            )
          if (c.categoryId !== undefined) this.#checkCategory(d.id, c.categoryId, where)
          shape = this.#shapeFor(c, current, image)
          if (shape) shape = withInstance(shape, c.instanceId)
          target = {
            ...current,
            ...(c.categoryId !== undefined ? { category_id: c.categoryId } : {}),
            ...(c.iscrowd !== undefined ? { iscrowd: c.iscrowd ? 1 : 0 } : {}),
            ...(shape
              ? {
                  area: shape.area,
                  bbox_x: shape.bbox[0],
                  bbox_y: shape.bbox[1],
                  bbox_w: shape.bbox[2],
                  bbox_h: shape.bbox[3],
                  segm_kind: shape.segmKind,
                  segmentation: shape.segmentation,
                }
              : {}),
          }
          const what = [
            c.categoryId !== undefined && c.categoryId !== current.category_id ? 'class' : null,
            c.iscrowd !== undefined && (c.iscrowd ? 1 : 0) !== current.iscrowd ? 'iscrowd' : null,
            shape ? 'shape' : null,
          ].filter(Boolean)
          said.push(`changed ${what.join(', ') || 'nothing'} of ${current.id}`)
        } else if (c.op === 'delete') {
          if (current.deleted)
            throw new AppError('CONFLICT', `${where}annotation ${current.id} is already deleted.`)
          target = { ...current, deleted: 1 }
          said.push(`deleted ${current.id}`)
        } else {
          if (!current.deleted)
            throw new AppError('CONFLICT', `${where}annotation ${current.id} is not deleted.`)
          target = { ...current, deleted: 0 }
          said.push(`restored ${current.id}`)
        }
        this.#record(op, current.id, current, target, c.op, note)
      }
      for (const w of shape?.warnings ?? []) warnings.push(`${where}${w}`)
    })
    if (mapChange) this.#applyMap(op, mapChange)
    const summary = (mapChange ? ['painted the label map', ...said] : said).join('; ')
    this.store.finishOperation(id, summary.charAt(0).toUpperCase() + summary.slice(1), warnings)
    return id
  }

  /** Undoes the image's last edit (or revert). Refused if its annotations changed since. */
  undo(imageId: number): EditResult {
    const opId = this.write(() => {
      const top = this.store.topUndo(imageId)
      if (!top) return null
      return this.#replay(top, 'undo')
    })
    return this.result(opId, imageId, [])
  }

  redo(imageId: number): EditResult {
    const opId = this.write(() => {
      const top = this.store.topRedo(imageId)
      if (!top) return null
      return this.#replay(top, 'redo')
    })
    return this.result(opId, imageId, [])
  }

  #replay(target: OperationRow, kind: 'undo' | 'redo'): number {
    const edits = this.store.operationEdits(target.id)
    const maps = this.store.operationMapEdits(target.id)
    // What each annotation must be now for the replay to be safe: after the target (undo), or
    // before it (redo). Anything else means another window changed it since.
    const expected = new Map<number, AnnotationRow | null>()
    for (const e of kind === 'undo' ? edits : [...edits].reverse())
      expected.set(e.annotation_id, fromSnapshot(kind === 'undo' ? e.after : e.before))
    for (const [annotationId, want] of expected) {
      if (!sameRow(this.store.annotation(annotationId), want))
        throw new AppError(
          'CONFLICT',
          `Annotation ${annotationId} was changed by a later edit (another window?) so "${target.summary}" cannot be ${kind === 'undo' ? 'undone' : 'redone'}; revert it from the history instead.`,
        )
    }
    const mapNow = this.store.currentMapEdit(target.image_id)?.after_map ?? null
    const mapWant = maps.length
      ? kind === 'undo'
        ? maps[maps.length - 1]!.after_map
        : maps[0]!.before_map
      : mapNow
    if (mapNow !== mapWant)
      throw new AppError('CONFLICT', `The label map was painted again since "${target.summary}".`)
    const version = this.openVersion(target.dataset_id)
    const id = this.store.insertOperation({
      datasetId: target.dataset_id,
      imageId: target.image_id,
      kind,
      source: target.source,
      targetId: target.id,
      stack: 'none',
      version,
    })
    const op = {
      id,
      version,
      datasetId: target.dataset_id,
      imageId: target.image_id,
      source: target.source,
    }
    const ordered: AnnotationEditRow[] = kind === 'undo' ? [...edits].reverse() : edits
    for (const e of ordered) {
      const current = this.store.annotation(e.annotation_id) ?? null
      const to = fromSnapshot(kind === 'undo' ? e.before : e.after)
      this.#record(op, e.annotation_id, current, to, kind === 'undo' ? inverse[e.action] : e.action)
    }
    const orderedMaps: LabelMapEditRow[] = kind === 'undo' ? [...maps].reverse() : maps
    for (const m of orderedMaps) {
      const before = JSON.parse(m.before_pixels) as Record<string, number>
      const after = JSON.parse(m.after_pixels) as Record<string, number>
      this.#applyMap(
        op,
        kind === 'undo'
          ? {
              beforeMap: m.after_map,
              afterMap: m.before_map,
              beforePixels: after,
              afterPixels: before,
            }
          : {
              beforeMap: m.before_map,
              afterMap: m.after_map,
              beforePixels: before,
              afterPixels: after,
            },
      )
    }
    this.store.setStack(target.id, kind === 'undo' ? 'redo' : 'undo')
    this.store.finishOperation(id, `${kind === 'undo' ? 'Undo' : 'Redo'}: ${target.summary}`, [])
    return id
  }

  /**
   * Returns the image to how it was just before `operationId` (every later change of its
   * annotations and label map is reversed), as one new undoable operation.
   */
  revert(imageId: number, operationId: number): EditResult {
    const opId = this.write(() => {
      const image = this.image(imageId)
      const from = this.store.operation(operationId)
      if (!from || from.image_id !== imageId)
        throw new AppError(
          'NOT_FOUND',
          `Operation ${operationId} is not in the history of image ${imageId}.`,
        )
      const first = new Map<number, AnnotationRow | null>()
      for (const e of this.store.imageEditsFrom(imageId, operationId))
        if (!first.has(e.annotation_id)) first.set(e.annotation_id, fromSnapshot(e.before))
      const changes: [number, AnnotationRow | null, AnnotationRow | null][] = []
      for (const [annotationId, target] of first) {
        const current = this.store.annotation(annotationId) ?? null
        if (!sameRow(current, target)) changes.push([annotationId, current, target])
      }
      const mapEdits = this.store.imageMapEditsFrom(imageId, operationId)
      const mapNow = this.store.currentMapEdit(imageId)
      const mapChange: MapChange | null =
        mapEdits.length && mapNow && mapNow.after_map !== mapEdits[0]!.before_map
          ? {
              beforeMap: mapNow.after_map,
              afterMap: mapEdits[0]!.before_map,
              beforePixels: JSON.parse(mapNow.after_pixels) as Record<string, number>,
              afterPixels: JSON.parse(mapEdits[0]!.before_pixels) as Record<string, number>,
            }
          : null
      if (changes.length === 0 && !mapChange) return null
      const version = this.openVersion(image.dataset_id)
      this.store.clearRedo(imageId)
      const id = this.store.insertOperation({
        datasetId: image.dataset_id,
        imageId,
        kind: 'revert',
        source: 'hand',
        targetId: operationId,
        stack: 'undo',
        version,
      })
      const op = { id, version, datasetId: image.dataset_id, imageId, source: 'hand' as const }
      for (const [annotationId, current, target] of changes)
        this.#record(op, annotationId, current, target)
      if (mapChange) this.#applyMap(op, mapChange)
      this.store.finishOperation(
        id,
        `Reverted to before "${from.summary}" (${changes.length} annotation(s)${mapChange ? ', label map' : ''})`,
        [],
      )
      return id
    })
    return this.result(opId, imageId, [])
  }

  result(opId: number | null, imageId: number, warnings: string[]): EditResult {
    const op = opId === null ? null : this.store.operation(opId)
    return {
      operation: op ? toOperation(op) : null,
      image: this.imageState(imageId),
      warnings,
    }
  }

  imageState(imageId: number): LabelImageState {
    const image = this.image(imageId)
    const d = this.dataset(image.dataset_id)
    const revisions = this.store.imageRevisions(imageId)
    const undo = this.store.topUndo(imageId)
    const redo = this.store.topRedo(imageId)
    return {
      imageId,
      datasetId: d.id,
      gtVersion: d.gt_version,
      annotations: this.store
        .imageAnnotations(imageId)
        .filter((r) => r.deleted === 0)
        .map((r) => {
          const revision = revisions.get(r.id) ?? 0
          return { ...rowToAnnotation(r), revision, edited: revision > 0 }
        }),
      canUndo: undo !== undefined,
      canRedo: redo !== undefined,
      undoSummary: undo?.summary ?? null,
      redoSummary: redo?.summary ?? null,
      editedLabelMap: (this.store.currentMapEdit(imageId)?.after_map ?? null) !== null,
      operationCount: this.store.operationCount({ imageId }),
    }
  }

  history(q: { imageId?: number; datasetId?: number; beforeId?: number; limit: number }): {
    total: number
    items: LabelOperation[]
  } {
    const before = q.beforeId ?? Number.MAX_SAFE_INTEGER
    if (q.imageId !== undefined) {
      this.image(q.imageId)
      return {
        total: this.store.operationCount({ imageId: q.imageId }),
        items: this.store.imageOperations(q.imageId, before, q.limit).map(toOperation),
      }
    }
    if (q.datasetId === undefined)
      throw new AppError('INVALID_INPUT', 'Name an image (imageId) or a dataset (datasetId).')
    this.dataset(q.datasetId)
    return {
      total: this.store.operationCount({ datasetId: q.datasetId }),
      items: this.store.datasetOperations(q.datasetId, before, q.limit).map(toOperation),
    }
  }

  operation(id: number): LabelOperationDetail {
    const op = this.store.operation(id)
    if (!op) throw new AppError('NOT_FOUND', `Operation ${id} does not exist.`)
    const maps = this.store.operationMapEdits(id)
    return {
      ...toOperation(op),
      changes: this.store.operationEdits(id).map((e) => ({
        annotationId: e.annotation_id,
        action: e.action,
        before: rowToState(fromSnapshot(e.before)),
        after: rowToState(fromSnapshot(e.after)),
      })),
      labelMap: maps.length
        ? { before: maps[0]!.before_map, after: maps[maps.length - 1]!.after_map }
        : null,
    }
  }

  versions(datasetId: number): GtVersion[] {
    const d = this.dataset(datasetId)
    const stats = this.store.versionStats(datasetId)
    const rows = new Map(this.store.versions(datasetId).map((r) => [r.version, r]))
    const out: GtVersion[] = []
    for (let v = 1; v <= d.gt_version; v++) {
      const row = rows.get(v)
      const evaluations = stats.evaluations.get(v) ?? 0
      const frozenBy =
        v === 1 ? 'import' : (row?.frozen_by ?? (evaluations > 0 ? 'evaluation' : null))
      out.push({
        version: v,
        createdAt: row?.created_at ?? null,
        operations: stats.operations.get(v)?.operations ?? 0,
        annotationEdits: stats.edits.get(v) ?? 0,
        evaluations,
        frozen: frozenBy !== null,
        frozenBy,
        current: v === d.gt_version,
      })
    }
    return out
  }

  checkVersion(datasetId: number, version: number): DatasetLabelRow {
    const d = this.dataset(datasetId)
    if (version < 1 || version > d.gt_version)
      throw new AppError(
        'NOT_FOUND',
        `Dataset ${datasetId} has ground-truth versions 1..${d.gt_version}; there is no version ${version}.`,
      )
    return d
  }

  /**
   * Annotation rows that differ at `version` from now: for each annotation edited after it, the
   * state before its first later edit (null: it did not exist yet).
   */
  rowsAtVersion(datasetId: number, version: number): Map<number, AnnotationRow | null> {
    const out = new Map<number, AnnotationRow | null>()
    for (const e of this.store.editsAfterVersion(datasetId, version))
      if (!out.has(e.annotation_id)) out.set(e.annotation_id, fromSnapshot(e.before))
    return out
  }

  /** Per image, the label map id at `version` (null: the original files) where it differs from now. */
  mapsAtVersion(datasetId: number, version: number): Map<number, number | null> {
    const out = new Map<number, number | null>()
    for (const m of this.store.mapEditsAfterVersion(datasetId, version))
      if (!out.has(m.image_id)) out.set(m.image_id, m.before_map)
    return out
  }

  diff(datasetId: number, from: number, to: number): GtDiff {
    this.checkVersion(datasetId, from)
    this.checkVersion(datasetId, to)
    const [lo, hi] = from <= to ? [from, to] : [to, from]
    const atLo = new Map<number, AnnotationRow | null>()
    const atHi = new Map<number, AnnotationRow | null>()
    for (const e of this.store.editsBetween(datasetId, lo, hi)) {
      if (!atLo.has(e.annotation_id)) atLo.set(e.annotation_id, fromSnapshot(e.before))
      atHi.set(e.annotation_id, fromSnapshot(e.after))
    }
    const [a, b] = from <= to ? [atLo, atHi] : [atHi, atLo]
    const live = (r: AnnotationRow | null | undefined): r is AnnotationRow =>
      r !== null && r !== undefined && r.deleted === 0
    const out: GtDiff = { datasetId, from, to, added: [], removed: [], changed: [], labelMaps: [] }
    const ids = [...atLo.keys()].sort((x, y) => x - y)
    for (const id of ids) {
      const x = a.get(id)
      const y = b.get(id)
      if (!live(x) && live(y)) out.added.push(rowToAnnotation(y))
      else if (live(x) && !live(y)) out.removed.push(rowToAnnotation(x))
      else if (live(x) && live(y) && !sameContent(x, y)) {
        const fields: ('category' | 'iscrowd' | 'geometry')[] = []
        if (x.category_id !== y.category_id) fields.push('category')
        if (x.iscrowd !== y.iscrowd) fields.push('iscrowd')
        if (
          x.segmentation !== y.segmentation ||
          x.bbox_x !== y.bbox_x ||
          x.bbox_y !== y.bbox_y ||
          x.bbox_w !== y.bbox_w ||
          x.bbox_h !== y.bbox_h ||
          x.area !== y.area
        )
          fields.push('geometry')
        out.changed.push({ before: rowToAnnotation(x), after: rowToAnnotation(y), fields })
      }
    }
    const maps = new Map<number, { first: LabelMapEditRow; last: LabelMapEditRow }>()
    for (const m of this.store.mapEditsBetween(datasetId, lo, hi)) {
      const seen = maps.get(m.image_id)
      maps.set(m.image_id, { first: seen?.first ?? m, last: m })
    }
    for (const [imageId, { first, last }] of maps) {
      if (first.before_map === last.after_map) continue
      const lower = JSON.parse(first.before_pixels) as Record<string, number>
      const upper = JSON.parse(last.after_pixels) as Record<string, number>
      out.labelMaps.push({
        imageId,
        before: from <= to ? lower : upper,
        after: from <= to ? upper : lower,
      })
    }
    return out
  }
}

/** The annotations of an image in the API's form, deleted ones left out. */
export function liveAnnotations(rows: AnnotationRow[]): Annotation[] {
  return rows.filter((r) => r.deleted === 0).map(rowToAnnotation)
}
