/**
 * Exports of a ground-truth version: a COCO instances JSON (the file's own image, annotation and
 * category ids; annotations created in the studio get ids after the largest one; polygons and
 * RLE as edited), or Cityscapes gtFine labelIds / instanceIds PNGs (edited maps from the store,
 * the others copied). Written beside the target and renamed into place, so a failed export never
 * leaves a half-written file under the name asked for. Exporting the current version freezes it:
 * the file keeps matching the version it names.
 */
import fs from 'node:fs'
import path from 'node:path'
import { AppError } from '../../common/errors'
import type { DatasetTask, DatasetTaskRequest } from '../datasets/maintenance'
import type { AnnotationRow } from '../store/labelEdits'
import { storeIoError, type Db } from '../store/store'
import { LabelEditor } from './editor'
import { labelMapFiles } from './labelMaps'

export interface ExportContext {
  signal: AbortSignal
  progress(done: number, total: number | null, phase?: string): void
}

export interface GtExportResult {
  path: string
  version: number
  images: number
  annotations: number
  files: number
}

const noContext: ExportContext = { signal: new AbortController().signal, progress: () => {} }

/** The annotation as COCO writes it, with the file's own ids. */
function cocoAnnotation(r: AnnotationRow, imageSourceId: number): string {
  let seg = ''
  if (r.segm_kind === 'polygon' && r.segmentation) seg = `,"segmentation":${r.segmentation}`
  else if (r.segm_kind === 'rle' && r.segmentation) {
    // The studio's own fields (Cityscapes instanceId) stay out of the COCO file.
    const s = JSON.parse(r.segmentation) as { size: [number, number]; counts: unknown }
    seg = `,"segmentation":${JSON.stringify({ size: s.size, counts: s.counts })}`
  }
  return `{"id":${r.source_id},"image_id":${imageSourceId},"category_id":${r.category_id}${seg},"area":${JSON.stringify(r.area)},"bbox":${JSON.stringify([r.bbox_x, r.bbox_y, r.bbox_w, r.bbox_h])},"iscrowd":${r.iscrowd}}`
}

class ChunkWriter {
  #parts: string[] = []
  #size = 0
  constructor(readonly fd: number) {}
  write(s: string): void {
    this.#parts.push(s)
    this.#size += s.length
    if (this.#size > 1 << 20) this.flush()
  }
  flush(): void {
    if (this.#parts.length) fs.writeSync(this.fd, this.#parts.join(''))
    this.#parts = []
    this.#size = 0
  }
}

function resolveVersion(editor: LabelEditor, datasetId: number, version: number | undefined) {
  const d = editor.dataset(datasetId)
  const v = version ?? d.gt_version
  editor.checkVersion(datasetId, v)
  return { d, v }
}

export async function exportCocoGt(
  editor: LabelEditor,
  datasetId: number,
  version: number | undefined,
  out: string,
  ctx: ExportContext = noContext,
): Promise<GtExportResult> {
  const { v, d } = resolveVersion(editor, datasetId, version)
  if (v === d.gt_version) editor.freezeCurrent(datasetId, 'export')
  // Read everything in one snapshot (one read transaction), so an edit made meanwhile in
  // another window never lands half in the file.
  const { images, rows, categories } = editor.db.transaction(() => {
    const overrides = editor.rowsAtVersion(datasetId, v)
    const rows: AnnotationRow[] = []
    for (const r of editor.store.datasetLiveAnnotations(datasetId))
      if (!overrides.has(r.id)) rows.push(r)
    for (const r of overrides.values()) if (r && r.deleted === 0) rows.push(r)
    rows.sort((a, b) => a.id - b.id)
    return {
      images: editor.store.datasetImages(datasetId),
      rows,
      categories: editor.store.categories(datasetId),
    }
  })()
  const target = path.resolve(out)
  const tmp = `${target}.${process.pid}.part`
  let fd: number
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fd = fs.openSync(tmp, 'w')
  } catch (err) {
    throw storeIoError(err, path.dirname(target))
  }
  try {
    const w = new ChunkWriter(fd)
    const sourceOf = new Map<number, number>()
    w.write('{"images":[')
    images.forEach((im, i) => {
      sourceOf.set(im.id, im.source_id)
      w.write(
        `${i ? ',' : ''}{"id":${im.source_id},"file_name":${JSON.stringify(im.file_name)},"width":${im.width},"height":${im.height}}`,
      )
    })
    w.write('],"annotations":[')
    for (let i = 0; i < rows.length; i++) {
      if (i % 20_000 === 0) {
        if (ctx.signal.aborted) throw new AppError('CANCELLED', 'Export cancelled.')
        ctx.progress(i, rows.length, 'Writing annotations')
        w.flush()
        await new Promise((r) => setImmediate(r))
      }
      w.write((i ? ',' : '') + cocoAnnotation(rows[i]!, sourceOf.get(rows[i]!.image_id)!))
    }
    w.write('],"categories":[')
    categories.forEach((c, i) =>
      w.write(
        `${i ? ',' : ''}{"id":${c.id},"name":${JSON.stringify(c.name)}${c.supercategory !== null ? `,"supercategory":${JSON.stringify(c.supercategory)}` : ''}}`,
      ),
    )
    w.write(']}\n')
    w.flush()
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    fs.renameSync(tmp, target)
  } catch (err) {
    try {
      fs.closeSync(fd)
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true })
    throw err instanceof AppError ? err : storeIoError(err, path.dirname(target))
  }
  ctx.progress(rows.length, rows.length, 'Done')
  return { path: target, version: v, images: images.length, annotations: rows.length, files: 1 }
}

/** gtFine PNGs of a version under `outDir`, in the dataset's own layout (gtFine/split/city/...). */
export async function exportCityscapesGt(
  editor: LabelEditor,
  datasetId: number,
  version: number | undefined,
  outDir: string,
  ctx: ExportContext = noContext,
): Promise<GtExportResult> {
  const { v, d } = resolveVersion(editor, datasetId, version)
  if (d.kind !== 'cityscapes')
    throw new AppError('UNSUPPORTED', `Dataset ${d.name} is COCO: export it as COCO JSON.`)
  if (v === d.gt_version) editor.freezeCurrent(datasetId, 'export')
  const { images, atVersion, current } = editor.db.transaction(() => {
    const images = editor.store.datasetImages(datasetId).filter((i) => i.semantic_path)
    return {
      images,
      atVersion: editor.mapsAtVersion(datasetId, v),
      current: new Map(
        images.map((i) => [i.id, editor.store.currentMapEdit(i.id)?.after_map ?? null]),
      ),
    }
  })()
  const root = path.resolve(outDir)
  let files = 0
  try {
    for (let i = 0; i < images.length; i++) {
      if (ctx.signal.aborted) throw new AppError('CANCELLED', 'Export cancelled.')
      const image = images[i]!
      const mapId = atVersion.has(image.id) ? atVersion.get(image.id)! : current.get(image.id)!
      const src = labelMapFiles(editor, image, mapId)
      const labelOut = path.join(root, image.semantic_path!)
      const instanceOut = path.join(
        root,
        image.instance_path ?? image.semantic_path!.replace(/labelIds\.png$/, 'instanceIds.png'),
      )
      fs.mkdirSync(path.dirname(labelOut), { recursive: true })
      for (const [from, to] of [
        [src.label, labelOut],
        [src.instance, instanceOut],
      ] as const) {
        if (from === null) continue
        if (typeof from === 'string') {
          if (!fs.existsSync(from))
            throw new AppError('NOT_FOUND', `The ground-truth file ${from} is missing.`)
          fs.copyFileSync(from, to)
        } else fs.writeFileSync(to, from)
        files++
      }
      ctx.progress(i + 1, images.length, 'Writing label maps')
      if (i % 50 === 49) await new Promise((r) => setImmediate(r))
    }
  } catch (err) {
    throw err instanceof AppError ? err : storeIoError(err, root)
  }
  return { path: root, version: v, images: images.length, annotations: 0, files }
}

/**
 * A ground-truth export as a maintenance task, for the maintenance worker's own connection: at
 * train2017 scale reading a version's annotations takes seconds, which the thread serving the
 * UI must not spend.
 */
export function exportGtTask(
  db: Db,
  task: Extract<DatasetTaskRequest, { kind: 'export-gt' }>,
): DatasetTask {
  return async (ctx) => {
    const editor = new LabelEditor(db)
    const exported = await (task.format === 'coco' ? exportCocoGt : exportCityscapesGt)(
      editor,
      task.datasetId,
      task.version,
      task.out,
      ctx,
    )
    return {
      detail:
        task.format === 'coco'
          ? `v${exported.version}: ${exported.annotations.toLocaleString('en-US')} annotations`
          : `v${exported.version}: ${exported.files.toLocaleString('en-US')} PNGs`,
      exported,
    }
  }
}
