/**
 * Cityscapes label maps under edit. The gtFine files on disk are never written: each paint
 * stroke stores the image's whole new labelIds (8-bit) and instanceIds (16-bit) PNGs in the
 * store (`label_maps`), and the operation records which map it replaced. The image's instance
 * annotations are derived again from the new instanceIds, in the same operation, so the grid's
 * counts, the viewer's instances and the COCO-style export follow the painted map.
 *
 * Instance ids stay consistent: painting an instance class (person, car ...) writes
 * labelId*1000+k into instanceIds, k being the chosen instance or the next free number of that
 * class; painting a class without instances writes the plain label id; the eraser writes 0
 * ("unlabeled") into both.
 */
import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import type { EditResult, PaintRequest } from '../../common/api/labels'
import { cityscapesLabelById } from '../../common/cityscapesLabels'
import { AppError } from '../../common/errors'
import { readInstanceMap, readLabelMap } from '../datasets/labelMaps'
import { encodeIdMap } from '../datasets/segmentation'
import { decodeRle, rleFromPolygon } from '../eval/rle'
import type { AnnotationRow, ImageLabelRow } from '../store/labelEdits'
import type { InternalChange, LabelEditor } from './editor'
import { storedRle } from './geometry'

export interface LabelMapPixels {
  width: number
  height: number
  labels: Uint8Array
  instances: Uint16Array
}

/** The PNGs of an image's map: an edited version from the store, or the original files. */
export function labelMapFiles(
  editor: LabelEditor,
  image: ImageLabelRow,
  mapId: number | null,
): { label: Buffer | string; instance: Buffer | string | null } {
  if (mapId !== null) {
    const m = editor.store.labelMap(mapId)
    if (!m) throw new AppError('INTERNAL', `Label map ${mapId} is missing from the store.`)
    return { label: m.label_png, instance: m.instance_png }
  }
  if (!image.semantic_path)
    throw new AppError('NOT_FOUND', `Image ${image.file_name} has no gtFine labelIds map to edit.`)
  const root = editor.dataset(image.dataset_id).source
  return {
    label: path.resolve(root, image.semantic_path),
    instance: image.instance_path ? path.resolve(root, image.instance_path) : null,
  }
}

export function currentMapId(editor: LabelEditor, imageId: number): number | null {
  return editor.store.currentMapEdit(imageId)?.after_map ?? null
}

async function decodeMaps(
  editor: LabelEditor,
  image: ImageLabelRow,
  mapId: number | null,
): Promise<LabelMapPixels> {
  const files = labelMapFiles(editor, image, mapId)
  for (const f of [files.label, files.instance])
    if (typeof f === 'string' && !fs.existsSync(f))
      throw new AppError('NOT_FOUND', `The ground-truth file ${f} is missing; it cannot be edited.`)
  const label = await readLabels(files.label)
  let instances: Uint16Array
  if (files.instance !== null) {
    const inst =
      typeof files.instance === 'string'
        ? await readInstanceMap(files.instance)
        : await decodeInstances(files.instance)
    instances = inst.data
  } else instances = Uint16Array.from(label.data)
  return { width: label.width, height: label.height, labels: label.data, instances }
}

/** A labelIds map from a file (the original) or a stored PNG (an edited version). */
export async function readLabels(
  source: string | Buffer,
): Promise<{ data: Uint8Array; width: number; height: number }> {
  if (typeof source === 'string') return readLabelMap(source)
  const { data, info } = await sharp(source)
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true })
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
  }
}

async function decodeInstances(
  png: Buffer,
): Promise<{ data: Uint16Array; width: number; height: number }> {
  const { data, info } = await sharp(png)
    .toColourspace('grey16')
    .raw({ depth: 'ushort' })
    .toBuffer({ resolveWithObject: true })
  const copy = new Uint16Array(data.length / 2)
  new Uint8Array(copy.buffer).set(data)
  return { data: copy, width: info.width, height: info.height }
}

export async function encodeMaps(m: LabelMapPixels): Promise<{ label: Buffer; instance: Buffer }> {
  // Typed arrays tell sharp their sample depth: 8-bit label ids, 16-bit instance ids.
  const raw = { width: m.width, height: m.height, channels: 1 as const }
  const [label, instance] = await Promise.all([
    sharp(m.labels, { raw }).toColourspace('b-w').png({ compressionLevel: 6 }).toBuffer(),
    sharp(m.instances, { raw }).toColourspace('grey16').png({ compressionLevel: 6 }).toBuffer(),
  ])
  return { label, instance }
}

/** The pixels a stroke covers: discs along the polyline (brush, eraser) or a filled polygon. */
export function strokeMask(
  req: Pick<PaintRequest, 'tool' | 'points' | 'radius'>,
  width: number,
  height: number,
): Uint8Array {
  const mask = new Uint8Array(width * height)
  const pts = req.points
  if (req.tool === 'polygon') {
    if (pts.length < 6)
      throw new AppError('INVALID_INPUT', 'A polygon fill needs at least 3 points.')
    // COCO's rasteriser, so a filled polygon covers the pixels its exported polygon would.
    const col = decodeRle(rleFromPolygon(pts, height, width), 'row-major')
    mask.set(col)
    return mask
  }
  const r = req.radius ?? 8
  const stamp = (cx: number, cy: number) => {
    const x0 = Math.max(0, Math.floor(cx - r))
    const x1 = Math.min(width - 1, Math.ceil(cx + r))
    const y0 = Math.max(0, Math.floor(cy - r))
    const y1 = Math.min(height - 1, Math.ceil(cy + r))
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - cx
        const dy = y + 0.5 - cy
        if (dx * dx + dy * dy <= r * r) mask[y * width + x] = 1
      }
  }
  stamp(pts[0]!, pts[1]!)
  for (let i = 2; i + 1 < pts.length; i += 2) {
    const [ax, ay, bx, by] = [pts[i - 2]!, pts[i - 1]!, pts[i]!, pts[i + 1]!]
    const steps = Math.max(1, Math.ceil(Math.hypot(bx - ax, by - ay) / Math.max(1, r / 2)))
    for (let s = 1; s <= steps; s++)
      stamp(ax + ((bx - ax) * s) / steps, ay + ((by - ay) * s) / steps)
  }
  return mask
}

export function histogram(labels: Uint8Array): Record<string, number> {
  const h = new Float64Array(256)
  for (let i = 0; i < labels.length; i++) h[labels[i]!]! += 1
  const out: Record<string, number> = {}
  for (let id = 0; id < 256; id++)
    if (h[id]! > 0 && cityscapesLabelById.has(id)) out[String(id)] = h[id]!
  return out
}

/** Paints one stroke into the maps (in place); returns the number of pixels changed. */
export function paint(m: LabelMapPixels, req: PaintRequest): number {
  const mask = strokeMask(req, m.width, m.height)
  const eraser = req.tool === 'eraser'
  const labelId = eraser ? 0 : (req.labelId ?? 0)
  const label = cityscapesLabelById.get(labelId)
  if (!label) throw new AppError('INVALID_INPUT', `${labelId} is not a Cityscapes label id.`)
  let value = labelId
  if (!eraser && label.hasInstances) {
    let k = req.instance ?? null
    if (k === null) {
      k = 0
      for (let i = 0; i < m.instances.length; i++) {
        const v = m.instances[i]!
        if (v >= 1000 && Math.floor(v / 1000) === labelId) k = Math.max(k, (v % 1000) + 1)
      }
    }
    value = labelId * 1000 + k
  }
  let changed = 0
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue
    if (m.labels[i] !== labelId || m.instances[i] !== value) changed++
    m.labels[i] = labelId
    m.instances[i] = value
  }
  return changed
}

/**
 * The instance annotations of the painted map against the image's current ones: updates for
 * instances whose mask changed, creations for new ones, deletions for those painted over.
 */
export function instanceChanges(
  editor: LabelEditor,
  image: ImageLabelRow,
  m: LabelMapPixels,
): InternalChange[] {
  const regions = encodeIdMap(m.instances, m.width, m.height, (v) => {
    const l = cityscapesLabelById.get(v >= 1000 ? Math.floor(v / 1000) : v)
    return l !== undefined && l.hasInstances
  })
  const revisions = editor.store.imageRevisions(image.id)
  const existing = new Map<number, AnnotationRow>()
  for (const row of editor.store.imageAnnotations(image.id)) {
    if (row.deleted || row.segm_kind !== 'rle' || !row.segmentation) continue
    const inst = (JSON.parse(row.segmentation) as { instanceId?: number }).instanceId
    if (inst !== undefined) existing.set(inst, row)
  }
  const changes: InternalChange[] = []
  for (const [v, r] of regions) {
    const seg = {
      kind: 'rle' as const,
      size: [m.height, m.width] as [number, number],
      counts: r.counts,
    }
    const row = existing.get(v)
    existing.delete(v)
    if (row && sameRuns(storedRle(row.segmentation!).counts, r.counts)) continue
    changes.push(
      row
        ? {
            op: 'update',
            annotationId: row.id,
            revision: revisions.get(row.id) ?? 0,
            segmentation: seg,
            instanceId: v,
          }
        : {
            op: 'create',
            categoryId: v >= 1000 ? Math.floor(v / 1000) : v,
            iscrowd: v < 1000,
            segmentation: seg,
            instanceId: v,
          },
    )
  }
  for (const row of existing.values())
    changes.push({ op: 'delete', annotationId: row.id, revision: revisions.get(row.id) ?? 0 })
  return changes
}

function sameRuns(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const queues = new Map<number, Promise<unknown>>()

/** Map rewrites of one image run one after another, so none reads a map another is replacing. */
function queued<T>(imageId: number, task: () => Promise<T>): Promise<T> {
  const prev = queues.get(imageId) ?? Promise.resolve()
  const next = prev.then(task, task)
  queues.set(imageId, next)
  next
    .finally(() => {
      if (queues.get(imageId) === next) queues.delete(imageId)
    })
    .catch(() => {
      // The caller gets the failure from `next`; this chain only tidies the queue.
    })
  return next
}

export function paintLabelMap(editor: LabelEditor, req: PaintRequest): Promise<EditResult> {
  return queued(req.imageId, () =>
    rewriteMap(editor, req.imageId, 'hand', (maps) => {
      const changed = paint(maps, req)
      return { changed, note: `${req.tool} ${changed} px` }
    }),
  )
}

/**
 * "Label with model" for label maps: the model's label-id map (as the studio stores semantic
 * outputs) replaces the image's map; instances get plain label ids, as Cityscapes writes
 * regions without instance numbers.
 */
export function labelMapFromModel(
  editor: LabelEditor,
  imageId: number,
  png: Buffer,
): Promise<EditResult> {
  return queued(imageId, async () => {
    const predicted = await readLabels(png)
    return rewriteMap(editor, imageId, 'prediction', (maps) => {
      if (predicted.width !== maps.width || predicted.height !== maps.height)
        throw new AppError(
          'INVALID_INPUT',
          `The model's map is ${predicted.width}x${predicted.height} but the image's is ${maps.width}x${maps.height}.`,
        )
      let changed = 0
      for (let i = 0; i < maps.labels.length; i++) {
        const v = predicted.data[i]!
        if (maps.labels[i] !== v || maps.instances[i] !== v) changed++
        maps.labels[i] = v
        maps.instances[i] = v
      }
      return { changed, note: `model label map, ${changed} px` }
    })
  })
}

async function rewriteMap(
  editor: LabelEditor,
  imageId: number,
  source: 'hand' | 'prediction',
  mutate: (maps: LabelMapPixels) => { changed: number; note: string },
): Promise<EditResult> {
  const image = editor.image(imageId)
  const d = editor.dataset(image.dataset_id)
  if (d.kind !== 'cityscapes')
    throw new AppError(
      'UNSUPPORTED',
      'Label maps are painted on Cityscapes datasets; edit COCO annotations as shapes.',
    )
  const beforeMap = currentMapId(editor, image.id)
  const maps = await decodeMaps(editor, image, beforeMap)
  const beforePixels = histogram(maps.labels)
  const { changed, note } = mutate(maps)
  if (changed === 0) return editor.result(null, image.id, ['The label map did not change.'])
  const afterPixels = histogram(maps.labels)
  const pngs = await encodeMaps(maps)
  const warnings: string[] = []
  const changes = instanceChanges(editor, image, maps)
  const opId = editor.write(() => {
    // Another process may have painted while this one was decoded: refuse rather than lose it.
    if (currentMapId(editor, image.id) !== beforeMap)
      throw new AppError(
        'CONFLICT',
        'The label map was changed elsewhere meanwhile; reload and paint again.',
      )
    const afterMap = editor.store.insertLabelMap(d.id, image.id, pngs.label, pngs.instance)
    return editor.applyChanges(
      image,
      changes,
      source,
      note,
      warnings,
      { beforeMap, afterMap, beforePixels, afterPixels },
      true,
    )
  })
  return editor.result(opId, image.id, warnings)
}
