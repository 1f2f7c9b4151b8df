/**
 * The attention statistics of one run, computed from the store: every finished image's stored
 * maps, its resize/pad geometry and its ground truth, through the pure statistics of
 * `core/attention`. Runs on a worker thread with its own connection (`workers/attentionWorker`);
 * written as a job function `(ctx) => Promise` so the studio's job system can host it.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { AttentionParams, AttentionStats } from '../common/api/attention'
import { AppError } from '../common/errors'
import { BlockAccumulator, stageSummary, type BlockInfo } from './attention/aggregate'
import {
  cellGrid,
  contextCells,
  coverage,
  distanceField,
  imageRegions,
  labelMapClasses,
  type CellGrid,
  type DistanceField,
  type FrameGeometry,
  type ImageRegions,
} from './attention/grid'
import {
  dequantize,
  halfWeights,
  mapStats,
  quantizedEntropyTop,
  type GridRegions,
} from './attention/stats'
import { decodeLabelPng } from './eval/png'
import type { Rle } from './eval/rle'
import { fromFloat16 } from './inference/float16'
import {
  hasAttentionMaps,
  beginStats,
  datasetCategories,
  failStats,
  finishedRunImages,
  findStats,
  getStats,
  imageMaps,
  imageObjects,
  runForAttention,
  saveStats,
  type ImageStatRow,
  type RunForAttention,
  type RunImageRow,
  type StoredMapRow,
} from './store/attentionStats'
import type { Db } from './store/store'

export interface JobContext {
  signal: AbortSignal
  progress(done: number, total: number | null, phase?: string): void
}

/** Every half float's value: transform outputs are decoded by lookup (thousands per image). */
const HALF = Float64Array.from({ length: 65536 }, (_, h) => fromFloat16(h))

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`

/** Key under which blocks without a known stage are pooled (and named in a note). */
export const UNSTAGED = 'unstaged'

/**
 * Checks that a run can have attention statistics at all, with a message that says why not and
 * what to do. Cheap: the app calls it before starting a worker.
 */
export function checkRunForAttention(db: Db, runId: number): RunForAttention {
  const run = runForAttention(db, runId)
  if (!run) throw new AppError('NOT_FOUND', `Run ${runId} does not exist.`)
  if (run.gcBlocks.length === 0)
    throw new AppError(
      'UNSUPPORTED',
      `Run ${runId} used ${run.modelName}, which has no GC blocks: there is no attention to analyse.`,
    )
  if (run.imagesDone === 0)
    throw new AppError('CONFLICT', `Run ${runId} has no finished images yet.`)
  if (!hasAttentionMaps(db, runId))
    throw new AppError(
      'CONFLICT',
      run.taps
        ? `Run ${runId} stored no attention maps (its model's GC blocks gave no taps).`
        : `Run ${runId} was made without attention taps, so it has no attention maps. Compute attention for this run (Attention view, or gcstudio attention --run ${runId} --tap): only the taps run, its predictions stay.`,
    )
  return run
}

function blockInfos(run: RunForAttention): BlockInfo[] {
  return run.gcBlocks.map((b) => ({
    index: b.index,
    stage: b.stage,
    indexInStage: b.indexInStage,
    channels: b.channels,
    hidden: b.hidden,
    ratio: b.ratio,
  }))
}

/** Per image: its regions placed on each map size it has (blocks of a stage share a size). */
export class ImageContext {
  readonly #grids = new Map<string, { grid: CellGrid; regions: GridRegions }>()
  #field: DistanceField | null | undefined

  constructor(
    readonly geometry: FrameGeometry,
    readonly regions: ImageRegions,
    readonly classRegions: Map<number, Rle>,
    readonly contextDistance: number,
  ) {}

  on(h: number, w: number): { grid: CellGrid; regions: GridRegions } {
    const key = `${h}x${w}`
    let e = this.#grids.get(key)
    if (!e) {
      const grid = cellGrid(this.geometry, h, w)
      if (this.#field === undefined)
        this.#field = this.regions.objects
          ? distanceField(this.regions.objects, this.geometry.width, this.geometry.height)
          : null
      e = {
        grid,
        regions: {
          objects: this.regions.objects ? coverage(this.regions.objects, grid) : null,
          classes: [...this.classRegions].map(([id, rle]) => ({ id, cov: coverage(rle, grid) })),
          context: this.#field
            ? contextCells(grid, this.#field, this.contextDistance, this.geometry)
            : null,
        },
      }
      this.#grids.set(key, e)
    }
    return e
  }
}

/**
 * Computes (or finds) the statistics of a run for these parameters over its finished images.
 * Never computes the same run state twice: the row is keyed by run, ground-truth version,
 * parameters and number of finished images.
 */
export async function computeAttentionStats(
  db: Db,
  runId: number,
  params: AttentionParams,
  ctx: JobContext,
): Promise<AttentionStats> {
  const run = checkRunForAttention(db, runId)
  const existing = findStats(db, run, params)
  if (existing?.status === 'done') return existing
  const statsId = beginStats(db, run, params)
  try {
    await compute(db, run, params, statsId, ctx)
  } catch (err) {
    failStats(db, statsId, (err as Error).message)
    throw err
  }
  return getStats(db, statsId, run.modelName)!
}

/**
 * A stored map's probabilities into `out`, from its half-float weights when it has them (entropy
 * within 1e-4 of the float map), else from its uint8 codes; returns [entropy, top-1% mass].
 */
export function storedProbabilities(
  m: StoredMapRow,
  out: Float64Array,
  lut = new Float64Array(256),
): [number, number] {
  if (m.weights_f16) {
    const w = m.weights_f16
    const codes =
      w.byteOffset % 2 === 0
        ? new Uint16Array(w.buffer, w.byteOffset, w.byteLength / 2)
        : new Uint16Array(Uint8Array.from(w).buffer)
    return halfWeights(codes, out)
  }
  const data = new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength)
  dequantize({ data, min: m.min_value, max: m.max_value }, out, lut)
  return quantizedEntropyTop(data, lut)
}

/**
 * An image's ground truth, rasterised once: objects (masks, else boxes) and per-class regions
 * (Cityscapes: from the labelIds map when the image has one).
 */
export async function loadImageContext(
  db: Db,
  run: RunForAttention,
  img: RunImageRow & { geometry: FrameGeometry },
  params: AttentionParams,
): Promise<{ image: ImageContext; regions: ImageRegions; semantic: boolean }> {
  const regions = imageRegions(imageObjects(db, img.imageId), img.width, img.height)
  let classRegions = regions.classes
  let semantic = false
  if (run.datasetKind === 'cityscapes' && img.semanticPath) {
    const file = path.resolve(run.datasetSource, img.semanticPath)
    const label = await decodeLabelPng(fs.readFileSync(file), file)
    if (label.width === img.width && label.height === img.height) {
      classRegions = labelMapClasses(label.data, label.width, label.height)
      semantic = true
    }
  }
  return {
    image: new ImageContext(img.geometry, regions, classRegions, params.contextDistance),
    regions,
    semantic,
  }
}

async function compute(
  db: Db,
  run: RunForAttention,
  params: AttentionParams,
  statsId: number,
  ctx: JobContext,
): Promise<void> {
  const categories = datasetCategories(db, run.datasetId)
  const names = new Map(categories.map((c) => [c.id, c.name]))
  const infos = blockInfos(run)
  const acc = new Map(infos.map((b) => [b.index, new BlockAccumulator(b)]))
  const images = finishedRunImages(db, run.id)
  const rows: ImageStatRow[] = []
  const notes: string[] = []
  let withObjects = 0
  let withBoxes = 0
  let noGeometry = 0
  let noMaps = 0
  let semantic = 0
  let codesOnly = 0
  const p = new Float64Array(1 << 16)
  const lut = new Float64Array(256)
  ctx.progress(0, images.length, 'Reading attention maps')
  for (let k = 0; k < images.length; k++) {
    if (ctx.signal.aborted) throw new AppError('CANCELLED', 'Attention statistics were cancelled.')
    const img = images[k]!
    const geometry = img.geometry
    if (!geometry) {
      noGeometry++
      continue
    }
    const maps = imageMaps(db, run.id, img.imageId)
    if (maps.length === 0) {
      noMaps++
      continue
    }
    const {
      image,
      regions,
      semantic: fromLabelMap,
    } = await loadImageContext(db, run, { ...img, geometry }, params)
    if (regions.objects) withObjects++
    if (regions.usedBoxes) withBoxes++
    if (fromLabelMap) semantic++
    for (const m of maps) {
      const a = acc.get(m.block_index)
      if (!a) continue
      const n = m.height * m.width
      const probs = n <= p.length ? p.subarray(0, n) : new Float64Array(n)
      const { grid, regions: on } = image.on(m.height, m.width)
      const s = mapStats(probs, grid, on, storedProbabilities(m, probs, lut))
      if (!m.weights_f16) codesOnly++
      a.addMap(s)
      rows.push({
        imageId: img.imageId,
        block: m.block_index,
        entropy: s.entropy,
        top1Mass: s.top1Mass,
        inObjectRatio: s.inObjectRatio,
        contextMass: s.contextMass,
        paddingMass: s.paddingMass,
        centroidX: s.centroidX,
        centroidY: s.centroidY,
        dominantClass: regions.dominantClass,
      })
      if (m.transform_f16) {
        const t = m.transform_f16
        const values = new Float64Array(t.byteLength / 2)
        for (let i = 0; i < values.length; i++) values[i] = HALF[t[2 * i]! | (t[2 * i + 1]! << 8)]!
        a.addTransform(values, regions.dominantClass)
      }
    }
    if (k % 16 === 15) {
      ctx.progress(k + 1, images.length, 'Reading attention maps')
      // Lets a cancel message in between long runs of synchronous work.
      await new Promise((r) => setImmediate(r))
    }
  }
  ctx.progress(images.length, images.length, 'Aggregating')

  const covered = images.length - noGeometry - noMaps
  if (covered === 0)
    throw new AppError(
      'CONFLICT',
      `Run ${run.id}: none of its ${images.length} finished images has stored attention maps and geometry.`,
    )
  const partial = run.status !== 'done' || run.imagesDone < run.imagesTotal
  if (partial)
    notes.push(
      `Partial run: run ${run.id} is ${run.status}, statistics cover its ${run.imagesDone} finished of ${run.imagesTotal} images.`,
    )
  if (codesOnly > 0)
    notes.push(
      `${count(codesOnly, 'map was', 'maps were')} stored before half-float weights were kept: their statistics come from the 8-bit codes (entropy within about 0.01 on peaked maps).`,
    )
  if (noMaps > 0)
    notes.push(
      `${count(noMaps, 'finished image has', 'finished images have')} no attention maps and ${noMaps === 1 ? 'is' : 'are'} not counted.`,
    )
  if (noGeometry > 0)
    notes.push(
      `${count(noGeometry, 'finished image has', 'finished images have')} no stored geometry and ${noGeometry === 1 ? 'is' : 'are'} not counted.`,
    )
  const regions: AttentionStats['regions'] =
    withObjects === 0
      ? 'none'
      : withBoxes === 0
        ? 'masks'
        : withBoxes === withObjects
          ? 'boxes'
          : 'mixed'
  if (regions === 'none')
    notes.push(
      'No image has ground-truth objects: in-object ratio and context reach cannot be computed and are absent.',
    )
  else if (regions === 'boxes')
    notes.push('The dataset has no instance masks: object regions are the annotated boxes.')
  else if (regions === 'mixed')
    notes.push(
      `${withBoxes} of ${withObjects} images have objects without masks: their boxes stand in for the masks.`,
    )
  if (withObjects < covered && regions !== 'none')
    notes.push(
      `${count(covered - withObjects, 'image has', 'images have')} no objects: in-object ratio and context reach are over the other ${withObjects}.`,
    )
  const unstaged = infos.filter((b) => !b.stage)
  if (unstaged.length > 0)
    notes.push(
      `${unstaged.length === 1 ? 'GC block' : 'GC blocks'} ${unstaged.map((b) => b.index).join(', ')} ${unstaged.length === 1 ? 'has' : 'have'} no known stage (the input stride could not be read from the graph): listed per block and pooled under "${UNSTAGED}".`,
    )

  const blocks = [...acc.values()].filter((a) => a.entropy.length > 0)
  const byStage = new Map<string, BlockAccumulator[]>()
  for (const b of blocks) {
    const key = b.info.stage ?? UNSTAGED
    byStage.set(key, [...(byStage.get(key) ?? []), b])
  }
  saveStats(db, statsId, rows, {
    runImagesTotal: run.imagesTotal,
    partial,
    regions,
    semanticClasses: semantic > 0,
    notes,
    blocks: blocks.map((b) => b.summary(names)),
    stages: Object.fromEntries([...byStage].map(([s, bs]) => [s, stageSummary(s, bs)])),
  })
  ctx.progress(images.length, images.length, 'Done')
}
