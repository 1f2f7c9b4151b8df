import fs from 'node:fs'
import path from 'node:path'
import { AppError } from '../../common/errors'
import { classColor } from '../../common/colors'
import { CocoAnnotation, CocoCategory, CocoImage, describeIssue } from './cocoSchema'
import { PendingAnnotations } from '../store/datasetImport'
import { DatasetWriter, resolveInside } from './datasetWriter'
import type { ImportContext, ImportOutcome } from './importTypes'
import { countWithExamples } from './importTypes'
import { streamTopLevelArrays } from './jsonStream'
import { normalizeSegmentation } from './segmentation'

export interface CocoImportOptions {
  annotations: string
  images: string
  name?: string
}

interface ImageEntry {
  rowId: number
  width: number
  height: number
  index: number
}

function checkInputs(opts: CocoImportOptions): { annotations: string; images: string } {
  const annotations = path.resolve(opts.annotations)
  const images = path.resolve(opts.images)
  let st: fs.Stats
  try {
    st = fs.statSync(annotations)
  } catch {
    throw new AppError('NOT_FOUND', `The annotations file ${annotations} does not exist.`)
  }
  if (st.isDirectory()) {
    // Names the expected file, never what the folder holds: the browser client must not be
    // able to list arbitrary folders through error messages.
    throw new AppError(
      'INVALID_INPUT',
      `${annotations} is a folder; choose the COCO instances JSON file itself (such as annotations/instances_val2017.json).`,
    )
  }
  if (!st.isFile()) {
    // A FIFO or a device would be read for ever (and a read stuck in libuv's pool keeps the
    // process from exiting on Ctrl-C).
    throw new AppError(
      'INVALID_INPUT',
      `${annotations} is not a regular file (a pipe, socket or device); choose the COCO instances JSON file.`,
    )
  }
  try {
    if (!fs.statSync(images).isDirectory()) {
      throw new AppError(
        'INVALID_INPUT',
        `The images path ${images} is a file; choose the folder that holds the images.`,
      )
    }
  } catch (err) {
    if (err instanceof AppError) throw err
    throw new AppError('NOT_FOUND', `The images folder ${images} does not exist.`)
  }
  return { annotations, images }
}

/**
 * Imports a COCO instances file by streaming it (bounded memory at train2017 scale). Images
 * are referenced in place. Category ids are checked once the whole file is read, because COCO
 * files list categories after the annotations that use them.
 */
export async function importCoco(
  ctx: ImportContext,
  opts: CocoImportOptions,
): Promise<ImportOutcome> {
  const { annotations: annFile, images: imagesRoot } = checkInputs(opts)
  const name = opts.name ?? defaultCocoName(annFile)
  const warnings: string[] = []
  const writer = new DatasetWriter(ctx.db, {
    name,
    kind: 'coco',
    split: /_(train|val|test)\d*\.json$/.exec(path.basename(annFile))?.[1] ?? null,
    imagesRoot,
    source: annFile,
    isDemo: ctx.isDemo ?? false,
  })
  ctx.onDataset?.(writer.datasetId)
  let pending: PendingAnnotations | undefined
  try {
    const parked = (pending = new PendingAnnotations(ctx.db))
    const images = new Map<number, ImageEntry>()
    const categories = new Map<number, number>()
    let imageCount = 0
    let annotationCount = 0
    let pendingCount = 0
    let areaFromBox = 0
    const started = Date.now()

    const addAnnotation = (raw: unknown, index: number) => {
      const where = `annotations[${index}]`
      const parsed = CocoAnnotation.safeParse(raw)
      if (!parsed.success) throw new AppError('IMPORT_FAILED', describeIssue(where, parsed.error))
      const a = parsed.data
      const image = images.get(a.image_id)
      if (!image) {
        parked.add(index, JSON.stringify(raw))
        pendingCount++
        return
      }
      const label = `${where} (id ${a.id})`
      const seg = normalizeSegmentation(a.segmentation as never, label, image)
      let bbox = a.bbox
      if (!bbox) {
        if (seg.kind === 'polygon') bbox = seg.bbox
        else throw new AppError('IMPORT_FAILED', `${label} has no bbox.`)
      }
      if (!(bbox[2] >= 0 && bbox[3] >= 0)) {
        throw new AppError(
          'IMPORT_FAILED',
          `${label}: bbox [${bbox.join(', ')}] has a negative width or height.`,
        )
      }
      let area = a.area
      if (area === undefined) {
        area = bbox[2] * bbox[3]
        areaFromBox++
      }
      try {
        writer.annotation({
          imageId: image.rowId,
          sourceId: a.id,
          categoryId: a.category_id,
          iscrowd: a.iscrowd === 1 || a.iscrowd === true,
          area,
          bbox,
          segmKind: seg.kind,
          segmentation: seg.kind === 'none' ? null : seg.json,
        })
      } catch (err) {
        // The UNIQUE (dataset_id, source_id) index finds duplicates without an id set in memory.
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new AppError('IMPORT_FAILED', `${label}: duplicate annotation id ${a.id}.`)
        }
        throw err
      }
      annotationCount++
    }

    const { keysSeen } = await streamTopLevelArrays(
      annFile,
      new Set(['images', 'annotations', 'categories']),
      {
        onElement(key, index, value) {
          if (key === 'images') {
            const parsed = CocoImage.safeParse(value)
            if (!parsed.success)
              throw new AppError('IMPORT_FAILED', describeIssue(`images[${index}]`, parsed.error))
            const im = parsed.data
            const first = images.get(im.id)
            if (first) {
              throw new AppError(
                'IMPORT_FAILED',
                `images[${index}]: duplicate image id ${im.id} (first at images[${first.index}]).`,
              )
            }
            resolveInside(imagesRoot, im.file_name, `images[${index}].file_name`)
            const rowId = writer.image(im.id, im.file_name, im.width, im.height)
            images.set(im.id, { rowId, width: im.width, height: im.height, index })
            imageCount++
          } else if (key === 'annotations') {
            addAnnotation(value, index)
          } else {
            const parsed = CocoCategory.safeParse(value)
            if (!parsed.success)
              throw new AppError(
                'IMPORT_FAILED',
                describeIssue(`categories[${index}]`, parsed.error),
              )
            const c = parsed.data
            if (categories.has(c.id)) {
              throw new AppError(
                'IMPORT_FAILED',
                `categories[${index}]: duplicate category id ${c.id} (first at categories[${categories.get(c.id)}]).`,
              )
            }
            categories.set(c.id, index)
            writer.category({
              id: c.id,
              name: c.name,
              supercategory: c.supercategory ?? null,
              trainId: null,
              color: classColor(categories.size - 1),
            })
          }
        },
        onProgress(bytes, total) {
          const seconds = (Date.now() - started) / 1000
          ctx.progress({
            phase: 'Reading annotations',
            done: bytes,
            total,
            unit: 'bytes',
            detail: `${imageCount.toLocaleString('en-US')} images, ${annotationCount.toLocaleString('en-US')} annotations${seconds > 1 ? `, ${Math.round(annotationCount / seconds).toLocaleString('en-US')} annotations/s` : ''}`,
          })
        },
      },
      ctx.signal,
    )
    for (const key of ['images', 'annotations', 'categories']) {
      if (!keysSeen.includes(key)) {
        throw new AppError(
          'IMPORT_FAILED',
          `${annFile} has no "${key}" list; a COCO instances file has "images", "annotations" and "categories" (found: ${keysSeen.join(', ') || 'nothing'}).`,
        )
      }
    }
    // Annotations that came before their image in the file.
    if (pendingCount > 0) {
      writer.commit()
      const unknown: string[] = []
      let unknownCount = 0
      for (const row of parked.all()) {
        const raw = JSON.parse(row.json) as { image_id: number; id: number }
        if (!images.has(raw.image_id)) {
          unknownCount++
          if (unknown.length < 5)
            unknown.push(`annotations[${row.idx}] (id ${raw.id}) -> image_id ${raw.image_id}`)
          continue
        }
        addAnnotation(raw, row.idx)
      }
      if (unknownCount > 0) {
        throw new AppError(
          'IMPORT_FAILED',
          `${unknownCount.toLocaleString('en-US')} annotations point at image ids that are not in "images": ${unknown.join('; ')}.`,
        )
      }
    }
    const { examples: badCats, count } = writer.unknownCategories()
    if (badCats.length > 0) {
      throw new AppError(
        'IMPORT_FAILED',
        `${count.toLocaleString('en-US')} annotations use category ids that are not in "categories": ${badCats.map((b) => `annotation id ${b.id} -> category_id ${b.cat}`).join('; ')}.`,
      )
    }
    if (areaFromBox > 0)
      warnings.push(
        `${areaFromBox.toLocaleString('en-US')} annotations had no "area"; their box area was used.`,
      )
    if (imageCount === 0) warnings.push(`${annFile} lists no images.`)

    const { missing, examples, outside } = await writer.markMissingFiles(ctx, imagesRoot)
    if (outside.length > 0) {
      warnings.push(
        `Some image files are symbolic links that resolve outside ${imagesRoot} (e.g. ${outside.join(', ')}); they are treated as missing and never served.`,
      )
    }
    if (missing > 0) {
      warnings.push(
        `${countWithExamples(missing, imageCount, examples)} image files are missing under ${imagesRoot}; they are flagged in the grid and can be copied in later.`,
      )
    }
    await writer.probe(ctx, imagesRoot, warnings)
    if (ctx.signal.aborted) throw new AppError('CANCELLED', 'Import cancelled.')
    writer.finish()
    return {
      datasetId: writer.datasetId,
      images: imageCount,
      annotations: annotationCount,
      missingImages: missing,
      warnings,
    }
  } catch (err) {
    await writer.abort()
    throw err
  } finally {
    pending?.close()
  }
}

function defaultCocoName(annFile: string): string {
  const base = path.basename(annFile, '.json')
  const parent = path.basename(path.dirname(path.dirname(annFile)))
  return parent && parent !== '.' && parent !== '/' ? `${parent} ${base}` : base
}
