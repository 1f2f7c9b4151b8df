import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { AppError } from '../../common/errors'
import { cityscapesLabelById, cityscapesLabels } from '../../common/cityscapesLabels'
import { DatasetWriter } from './datasetWriter'
import type { ImportContext, ImportOutcome } from './importTypes'
import { countWithExamples } from './importTypes'
import { readInstanceMap, readLabelMap } from './labelMaps'
import { encodeIdMap } from './segmentation'
import { isInside } from '../paths'

export interface CityscapesImportOptions {
  root: string
  split: string
  name?: string
}

interface Frame {
  city: string
  stem: string
  image: string
}

const IMAGE_SUFFIX = '_leftImg8bit.png'

/** A split is one folder name (train, val, test, train_extra ...), never a path. */
const SPLIT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/

/**
 * Lists `leftImg8bit/{split}/{city}/*_leftImg8bit.png`. Errors name the expected layout, not
 * what an arbitrary folder holds. Entries that cannot be read (dangling links) or that resolve
 * outside the root (links elsewhere) are skipped and returned as `skipped`, for a warning.
 */
export function listCityscapesFrames(
  root: string,
  split: string,
): { frames: Frame[]; skipped: string[] } {
  const abs = path.resolve(root)
  if (!SPLIT_NAME.test(split)) {
    throw new AppError(
      'INVALID_INPUT',
      `"${split}" is not a Cityscapes split name: use the name of a folder under leftImg8bit/ (train, val or test).`,
    )
  }
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
    throw new AppError('NOT_FOUND', `The Cityscapes root ${abs} does not exist or is not a folder.`)
  }
  const isDir = (p: string) => {
    try {
      return fs.statSync(p).isDirectory()
    } catch {
      return false
    }
  }
  const layout = `a Cityscapes root holds leftImg8bit/${split}/<city>/*${IMAGE_SUFFIX} and gtFine/${split}/<city>/*_gtFine_labelIds.png`
  if (!isDir(path.join(abs, 'leftImg8bit')) || !isDir(path.join(abs, 'gtFine'))) {
    const hint =
      path.basename(abs) === 'leftImg8bit' || path.basename(abs) === 'gtFine'
        ? ` Choose its parent folder ${path.dirname(abs)}.`
        : ''
    throw new AppError('INVALID_INPUT', `${abs} is not a Cityscapes root: ${layout}.${hint}`)
  }
  const imagesDir = path.join(abs, 'leftImg8bit', split)
  if (!isDir(imagesDir)) {
    throw new AppError(
      'INVALID_INPUT',
      `${abs}/leftImg8bit has no "${split}" split folder: ${layout}.`,
    )
  }
  const realRoot = fs.realpathSync(abs)
  const frames: Frame[] = []
  const skipped: string[] = []
  const readable = (rel: string, wantDir: boolean): boolean => {
    try {
      const real = fs.realpathSync(path.join(imagesDir, rel))
      if (!isInside(realRoot, real)) {
        skipped.push(`${rel} (links outside ${abs})`)
        return false
      }
      const st = fs.statSync(real)
      return wantDir ? st.isDirectory() : st.isFile()
    } catch (err) {
      skipped.push(`${rel} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`)
      return false
    }
  }
  for (const city of fs.readdirSync(imagesDir).sort()) {
    if (!readable(city, true)) continue
    for (const f of fs.readdirSync(path.join(imagesDir, city)).sort()) {
      if (!f.endsWith(IMAGE_SUFFIX)) continue
      const rel = `${city}/${f}`
      if (readable(rel, false))
        frames.push({ city, stem: f.slice(0, -IMAGE_SUFFIX.length), image: rel })
    }
  }
  if (frames.length === 0) {
    throw new AppError(
      'INVALID_INPUT',
      `${imagesDir} holds no readable *${IMAGE_SUFFIX} images in city folders: ${layout}.`,
    )
  }
  return { frames, skipped }
}

/**
 * Imports a Cityscapes split: images from leftImg8bit, the semantic ground truth from gtFine
 * labelIds (kept on disk, counted per class for the class filter), and the instances recovered
 * from instanceIds as COCO-style RLE annotations (group regions without an instance number,
 * e.g. a crowd of cars, become iscrowd annotations). polygons.json is validated and counted.
 */
export async function importCityscapes(
  ctx: ImportContext,
  opts: CityscapesImportOptions,
): Promise<ImportOutcome> {
  const root = path.resolve(opts.root)
  const split = opts.split
  const { frames, skipped } = listCityscapesFrames(root, split)
  const imagesRoot = path.join(root, 'leftImg8bit', split)
  const warnings: string[] = []
  if (skipped.length > 0)
    warnings.push(
      `${countWithExamples(skipped.length, skipped.length + frames.length, skipped)} entries of leftImg8bit/${split} could not be read or point outside the dataset and were skipped.`,
    )
  const writer = new DatasetWriter(ctx.db, {
    name: opts.name ?? `${path.basename(root)} ${split}`,
    kind: 'cityscapes',
    split,
    imagesRoot,
    source: root,
    isDemo: ctx.isDemo ?? false,
  })
  ctx.onDataset?.(writer.datasetId)
  try {
    for (const l of cityscapesLabels) {
      if (l.id < 0) continue
      writer.category({
        id: l.id,
        name: l.name,
        supercategory: l.category,
        trainId: l.trainId,
        color: l.color,
      })
    }
    const noGt: string[] = []
    const badIds: string[] = []
    const badPolygons: string[] = []
    let annotationCount = 0
    let instanceSource = 0
    const started = Date.now()
    for (let i = 0; i < frames.length; i++) {
      if (ctx.signal.aborted) throw new AppError('CANCELLED', 'Import cancelled.')
      const f = frames[i]!
      const gtBase = path.join('gtFine', split, f.city, `${f.stem}_gtFine_`)
      const labelRel = `${gtBase}labelIds.png`
      const instRel = `${gtBase}instanceIds.png`
      const polyRel = `${gtBase}polygons.json`
      const imageFile = path.join(imagesRoot, f.image)
      let width: number
      let height: number
      try {
        const m = await sharp(imageFile).metadata()
        width = m.width ?? 0
        height = m.height ?? 0
      } catch (err) {
        throw new AppError(
          'IMPORT_FAILED',
          `${imageFile} cannot be read as an image (${(err as Error).message}).`,
        )
      }
      const hasLabels = fs.existsSync(path.join(root, labelRel))
      const hasInstances = fs.existsSync(path.join(root, instRel))
      const imageId = writer.image(
        i + 1,
        f.image,
        width,
        height,
        hasLabels ? labelRel : null,
        hasInstances ? instRel : null,
      )
      if (!hasLabels) noGt.push(f.stem)
      if (hasLabels) {
        const map = await readLabelMap(path.join(root, labelRel))
        if (map.width !== width || map.height !== height) {
          throw new AppError(
            'IMPORT_FAILED',
            `${labelRel} is ${map.width}x${map.height} but its image is ${width}x${height}.`,
          )
        }
        const hist = new Float64Array(256)
        for (let p = 0; p < map.data.length; p++) hist[map.data[p]!]! += 1
        for (let id = 0; id < 256; id++) {
          if (hist[id] === 0) continue
          if (!cityscapesLabelById.has(id)) {
            if (badIds.length < 5) badIds.push(`${f.stem}: label id ${id}`)
            continue
          }
          writer.pixelCount(imageId, id, hist[id]!)
        }
      }
      if (hasInstances) {
        const inst = await readInstanceMap(path.join(root, instRel))
        if (inst.width !== width || inst.height !== height) {
          throw new AppError(
            'IMPORT_FAILED',
            `${instRel} is ${inst.width}x${inst.height} but its image is ${width}x${height}.`,
          )
        }
        const regions = encodeIdMap(inst.data, width, height, (v) => {
          const label = cityscapesLabelById.get(v >= 1000 ? Math.floor(v / 1000) : v)
          return label !== undefined && label.hasInstances
        })
        const ids = [...regions.keys()].sort((a, b) => a - b)
        for (const v of ids) {
          const r = regions.get(v)!
          writer.annotation({
            imageId,
            sourceId: ++instanceSource,
            categoryId: v >= 1000 ? Math.floor(v / 1000) : v,
            iscrowd: v < 1000,
            area: r.area,
            bbox: r.bbox,
            segmKind: 'rle',
            segmentation: JSON.stringify({
              size: [height, width],
              counts: r.counts,
              instanceId: v,
            }),
          })
          annotationCount++
        }
      }
      const polyFile = path.join(root, polyRel)
      if (fs.existsSync(polyFile)) {
        const problem = checkPolygons(polyFile, width, height)
        if (problem && badPolygons.length < 5) badPolygons.push(`${polyRel}: ${problem}`)
      }
      const seconds = (Date.now() - started) / 1000
      ctx.progress({
        phase: 'Reading ground truth',
        done: i + 1,
        total: frames.length,
        unit: 'images',
        detail: `${annotationCount.toLocaleString('en-US')} instances${seconds > 1 ? `, ${((i + 1) / seconds).toFixed(1)} images/s` : ''}`,
      })
    }
    if (noGt.length > 0)
      warnings.push(
        `${countWithExamples(noGt.length, frames.length, noGt)} images have no gtFine labelIds.`,
      )
    if (badIds.length > 0)
      warnings.push(
        `Some label maps hold ids that are not Cityscapes labels and were not counted: ${badIds.join('; ')}.`,
      )
    if (badPolygons.length > 0)
      warnings.push(`Some polygons.json files are malformed: ${badPolygons.join('; ')}.`)
    await writer.probe(ctx, imagesRoot, warnings)
    writer.finish()
    return {
      datasetId: writer.datasetId,
      images: frames.length,
      annotations: annotationCount,
      missingImages: 0,
      warnings,
    }
  } catch (err) {
    await writer.abort()
    throw err
  }
}

function checkPolygons(file: string, width: number, height: number): string | null {
  let doc: unknown
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (err) {
    return `not valid JSON (${(err as Error).message})`
  }
  const d = doc as { imgWidth?: unknown; imgHeight?: unknown; objects?: unknown }
  if (d.imgWidth !== width || d.imgHeight !== height)
    return `imgWidth/imgHeight ${String(d.imgWidth)}x${String(d.imgHeight)} differ from the image's ${width}x${height}`
  if (!Array.isArray(d.objects)) return 'no "objects" list'
  for (let i = 0; i < d.objects.length; i++) {
    const o = d.objects[i] as { label?: unknown; polygon?: unknown }
    if (typeof o.label !== 'string' || !Array.isArray(o.polygon))
      return `objects[${i}] needs "label" and "polygon"`
  }
  return null
}
