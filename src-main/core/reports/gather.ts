/**
 * What a report shows, read from the store through the services that own it (evaluations,
 * comparisons, attention statistics) and turned into a `ReportDocument`. Nothing is recomputed
 * here: every number is the stored one, formatted by `format.ts`. Sections the data does not
 * support (no TIDE, no confusion matrix, no attention) are left out.
 */
import os from 'node:os'
import sharp from 'sharp'
import { createRequire } from 'node:module'
import type { Dataset, EvaluationDetail, Model, Run } from '../../common/api'
import type { AttentionGrid, AttentionStats } from '../../common/api/attention'
import type { ComparisonDetail } from '../../common/api/compare'
import { PUBLISHED_GCNET_R50 } from '../../common/api/compare'
import {
  parseCityscapesConfusion,
  parseCocoMetrics,
  TIDE_MAIN_ERROR_NAMES,
  TIDE_SPECIAL_ERROR_NAMES,
  type TideErrors,
} from '../../common/api/evaluationViews'
import { COCO_STAT_NAMES } from '../../common/cocoStats'
import { AppError } from '../../common/errors'
import { getCategories, getDataset, getImage } from '../datasets/queries'
import { storedInference } from '../inference/results'
import { getModel } from '../models/registry'
import type { Studio } from '../studio'
import { deltaPts, intervalPts, magnitude, pts } from './format'
import type { Block, Cell, FigureBlock, ReportDocument, ReportSection, TableBlock } from './html'
import { attentionOverlay, stripImage } from './images'
import { barChart, heatmap, lineChart } from './svg'

export type ReportTarget =
  | { kind: 'run'; runId: number }
  | { kind: 'compare'; runIds: number[] }
  | { kind: 'comparison'; comparisonId: number }
  | { kind: 'attention'; runId: number }

export interface GatherContext {
  signal?: AbortSignal
  progress?: (done: number, total: number | null, phase: string) => void
  /** Images per strip (worst, fixed, broken). */
  stripSize?: number
}

/** Paper Table 12 (Cityscapes val, R-101): the published segmentation reference. */
const PUBLISHED_CITYSCAPES = [
  { name: 'FCN baseline (published, R-101)', mIoU: 75.42 },
  { name: 'GC head (published, R-101)', mIoU: 78.55 },
  { name: 'GC backbone + head (published, R-101)', mIoU: 78.67 },
] as const
const PUBLISHED_SOURCE =
  'Published GCNet numbers (mmdetection README, Mask R-CNN R-50 1x on COCO val2017; paper Table 12 for Cityscapes val): a reference row from a different dataset and model size, not comparable one to one.'

const AP_COLUMNS = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'] as const

function onnxruntimeVersion(): string {
  try {
    return (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string })
      .version
  } catch {
    return 'unknown'
  }
}

export function environmentFacts(): [string, string][] {
  const cpus = os.cpus()
  return [
    ['onnxruntime-node', onnxruntimeVersion()],
    ['CPU', cpus.length ? `${cpus[0]!.model.trim()} × ${cpus.length}` : 'unknown'],
    ['Operating system', `${os.type()} ${os.release()} (${os.arch()})`],
    ['Node.js', process.versions.node],
  ]
}

function stagesText(model: Model): string {
  const blocks = model.card.gcBlocks
  if (blocks.length === 0) return 'none'
  const stages = new Map<string, { n: number; ratios: Set<string> }>()
  for (const b of blocks) {
    const key = b.stage ?? 'unstaged'
    const s = stages.get(key) ?? { n: 0, ratios: new Set<string>() }
    s.n++
    s.ratios.add(`r${Math.round(b.ratio)}`)
    stages.set(key, s)
  }
  return [...stages]
    .map(([stage, s]) => `${stage}: ${s.n} block${s.n === 1 ? '' : 's'} ${[...s.ratios].join('/')}`)
    .join(', ')
}

function modelCard(model: Model, runLabel: string): Block {
  const c = model.card
  return {
    type: 'facts',
    title: `${model.name} — ${runLabel}`,
    facts: [
      ['Format', `${model.format} (ONNX opset ${c.opset}, ${c.producer || 'unknown producer'})`],
      ['GC blocks', `${c.gcBlocks.length} — ${stagesText(model)}`],
      ['Parameters', magnitude(c.params) ?? '–'],
      ['FLOPs', `${magnitude(c.flops) ?? '–'} at ${c.flopsInput[0]}×${c.flopsInput[1]}`],
      ['sha256', model.sha256],
    ],
  }
}

function runFacts(run: Run): Block {
  const s = run.settings
  return {
    type: 'facts',
    title: `Run ${run.id}: ${run.modelName}`,
    facts: [
      ['Dataset', run.datasetName],
      ['Images', `${run.imagesDone} of ${run.imagesTotal} done, ${run.imagesFailed} failed`],
      [
        'Score threshold',
        s.scoreThreshold === undefined ? 'model default' : String(s.scoreThreshold),
      ],
      ['Execution provider', `${run.executionProvider ?? '–'} (asked: ${s.ep})`],
      ['onnxruntime threads', s.threads === 0 ? 'onnxruntime default' : String(s.threads)],
      ['Attention taps', s.taps ? 'on' : 'off'],
      [
        'Mean forward pass',
        run.meanInferenceMs === null ? '–' : `${run.meanInferenceMs.toFixed(1)} ms`,
      ],
      ['Finished', run.finishedAt ?? run.status],
    ],
  }
}

function datasetFacts(d: Dataset, gtVersion: number, imagesEvaluated: number | null): Block {
  return {
    type: 'facts',
    facts: [
      ['Dataset', `${d.name} (${d.kind}${d.split ? `, ${d.split}` : ''})`],
      [
        'Images',
        `${d.imageCount}${imagesEvaluated !== null ? `, ${imagesEvaluated} evaluated` : ''}`,
      ],
      ['Annotations', String(d.annotationCount)],
      [
        'Ground-truth version',
        `v${gtVersion}${gtVersion === d.gtVersion ? '' : ` (now v${d.gtVersion})`}`,
      ],
    ],
  }
}

const kindLabel = (kind: EvaluationDetail['kind']): string =>
  kind === 'coco-bbox' ? 'box' : kind === 'coco-segm' ? 'mask' : 'Cityscapes'

/** The latest finished evaluation of each kind of a run, against its dataset's ground truth. */
export function latestEvaluations(studio: Studio, runId: number): EvaluationDetail[] {
  const seen = new Set<string>()
  const out: EvaluationDetail[] = []
  for (const e of studio.evaluations.list(runId)) {
    if (e.status !== 'done' || seen.has(e.kind)) continue
    seen.add(e.kind)
    out.push(studio.evaluations.get(e.id))
  }
  return out.sort((a, b) => a.kind.localeCompare(b.kind))
}

function publishedRows(kind: EvaluationDetail['kind'], width: number): Cell[][] {
  const pad = (row: Cell[]) => [...row, ...Array<Cell>(width - row.length).fill(null)]
  if (kind === 'cityscapes')
    return PUBLISHED_CITYSCAPES.map((p) => pad([p.name, p.mIoU.toFixed(1)]))
  return PUBLISHED_GCNET_R50.map((p) =>
    pad([p.name, (kind === 'coco-bbox' ? p.boxAP : p.maskAP).toFixed(1)]),
  )
}

function tideFigure(name: string, title: string, series: { name: string; errors: TideErrors }[]) {
  return {
    type: 'figure',
    name,
    caption:
      'TIDE error breakdown (tidecv 1.0.1): the AP50 points each error type costs; FalsePos/FalseNeg are the special errors.',
    svg: barChart({
      title,
      categories: [...TIDE_MAIN_ERROR_NAMES, ...TIDE_SPECIAL_ERROR_NAMES],
      series: series.map((s) => ({
        name: s.name,
        values: [
          ...TIDE_MAIN_ERROR_NAMES.map((k) => s.errors.main[k]),
          ...TIDE_SPECIAL_ERROR_NAMES.map((k) => s.errors.special[k]),
        ],
      })),
      valueLabel: 'dAP50 (points)',
    }),
  } satisfies FigureBlock
}

function tideTable(series: { name: string; errors: TideErrors }[]): TableBlock {
  return {
    type: 'table',
    testId: 'tide',
    caption: 'TIDE: AP50 and the dAP50 of each error type (points)',
    columns: ['run', 'AP50', ...TIDE_MAIN_ERROR_NAMES, ...TIDE_SPECIAL_ERROR_NAMES],
    rows: series.map((s) => [
      s.name,
      s.errors.ap50.toFixed(2),
      ...TIDE_MAIN_ERROR_NAMES.map((k) => s.errors.main[k].toFixed(2)),
      ...TIDE_SPECIAL_ERROR_NAMES.map((k) => s.errors.special[k].toFixed(2)),
    ]),
  }
}

/** The run report: one run's evaluations with everything stored about them. */
async function runReport(
  studio: Studio,
  runId: number,
  ctx: GatherContext,
  title?: string,
): Promise<ReportDocument> {
  const run = studio.runs.get(runId)
  const model = getModel(studio.db, run.modelId)
  const dataset = getDataset(studio.db, run.datasetId)
  const evaluations = latestEvaluations(studio, runId)
  if (evaluations.length === 0)
    throw new AppError(
      'CONFLICT',
      `Run ${runId} has no finished evaluation: evaluate it first (Runs → Evaluate, or gcstudio eval --run ${runId}).`,
    )
  const categories = new Map(getCategories(studio.db, run.datasetId).map((c) => [c.id, c]))
  const catName = (id: number | string) =>
    id === 'background' ? 'background' : (categories.get(Number(id))?.name ?? String(id))
  const sections: ReportSection[] = []
  sections.push({
    id: 'dataset',
    title: 'Dataset',
    blocks: [datasetFacts(dataset, evaluations[0]!.gtVersion, evaluations[0]!.imageCount)],
  })
  sections.push({
    id: 'model',
    title: 'Model and run',
    blocks: [
      modelCard(model, `run ${run.id}`),
      runFacts(run),
      {
        type: 'facts',
        title: 'Environment (this machine, when the report was made)',
        facts: environmentFacts(),
      },
    ],
  })

  // Metrics: one row per evaluation kind, the published numbers apart.
  const metrics: Block[] = []
  const coco = evaluations.filter((e) => e.kind !== 'cityscapes')
  if (coco.length) {
    const columns = ['evaluation', ...COCO_STAT_NAMES]
    metrics.push({
      type: 'table',
      testId: 'metrics',
      caption: `COCO metrics of run ${run.id} (points; – where COCOeval gives -1)`,
      columns,
      rows: coco.map((e) => [
        `${kindLabel(e.kind)} (evaluation ${e.id})`,
        ...(parseCocoMetrics(e.metrics).stats ?? []).map(pts),
      ]),
      referenceRows: coco.flatMap((e) =>
        publishedRows(e.kind, columns.length).map((r) => [
          `${kindLabel(e.kind)}: ${r[0]}`,
          ...r.slice(1),
        ]),
      ),
    })
  }
  for (const e of evaluations.filter((e) => e.kind === 'cityscapes')) {
    const m = e.metrics ?? {}
    metrics.push({
      type: 'table',
      testId: 'metrics',
      caption: `Cityscapes metrics of run ${run.id} (points)`,
      columns: ['evaluation', 'mIoU', 'iIoU', 'category mIoU', 'category iIoU'],
      rows: [
        [
          `Cityscapes (evaluation ${e.id})`,
          pts(m.mIoU as number | null),
          pts(m.iIoU as number | null),
          pts(m.categoryMIoU as number | null),
          pts(m.categoryIIoU as number | null),
        ],
      ],
      referenceRows: publishedRows('cityscapes', 5),
    })
  }
  metrics.push({ type: 'text', tone: 'note', text: PUBLISHED_SOURCE })
  sections.push({ id: 'metrics', title: 'Metrics', blocks: metrics })

  // Per category.
  const perCategory: Block[] = []
  for (const e of evaluations) {
    if (e.kind === 'cityscapes') {
      perCategory.push({
        type: 'table',
        testId: `categories-${e.kind}`,
        caption: 'Per class (points)',
        columns: ['class', 'IoU', 'iIoU'],
        rows: e.categories.map((c) => [
          String(c.name ?? c.trainId),
          pts(c.iou as number | null),
          pts(c.iiou as number | null),
        ]),
      })
    } else {
      perCategory.push({
        type: 'table',
        testId: `categories-${e.kind}`,
        caption: `Per category, ${kindLabel(e.kind)} AP (points)`,
        columns: ['category', 'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'GT', 'detections'],
        rows: e.categories.map((c) => [
          String(c.name ?? c.categoryId),
          pts(c.ap as number | null),
          pts(c.ap50 as number | null),
          pts(c.ap75 as number | null),
          pts(c.apSmall as number | null),
          pts(c.apMedium as number | null),
          pts(c.apLarge as number | null),
          Number(c.groundTruth),
          Number(c.detections),
        ]),
      })
    }
  }
  sections.push({ id: 'categories', title: 'Per category', blocks: perCategory })

  // Charts.
  const charts: Block[] = []
  const errors: Block[] = []
  const confusion: Block[] = []
  for (const e of evaluations) {
    if (e.kind === 'cityscapes') {
      const cm = parseCityscapesConfusion(e.metrics)
      if (cm) {
        const labels = cm.matrix.map((_, i) => cm.classNames[String(i)] ?? String(i))
        confusion.push({
          type: 'figure',
          name: 'confusion-cityscapes',
          caption:
            'Pixels by train id (rows ground truth, columns prediction), shaded by share of the row.',
          svg: heatmap({
            title: 'Confusion matrix (pixels)',
            rowLabels: labels,
            columnLabels: labels,
            matrix: cm.matrix,
            rowTitle: 'ground truth',
            columnTitle: 'prediction',
            rowNormalise: true,
          }),
        })
      }
      continue
    }
    const view = parseCocoMetrics(e.metrics)
    const label = kindLabel(e.kind)
    if (view.prCurves?.overall) {
      const o = view.prCurves.overall
      charts.push({
        type: 'figure',
        name: `pr-curves-${label}`,
        caption: `Precision-recall of all categories (${label}, area all, 100 detections): mean over IoU .50:.95 and at .50 and .75; each curve's mean is the AP.`,
        svg: lineChart({
          title: `Precision-recall, ${label}`,
          xLabel: 'recall',
          yLabel: 'precision',
          series: [
            {
              name: `IoU .50:.95 (AP ${pts(view.stats?.[0])})`,
              x: view.prCurves.recall,
              y: o.mean.precision,
            },
            {
              name: `IoU .50 (AP50 ${pts(view.stats?.[1])})`,
              x: view.prCurves.recall,
              y: o.iou50.precision,
            },
            {
              name: `IoU .75 (AP75 ${pts(view.stats?.[2])})`,
              x: view.prCurves.recall,
              y: o.iou75.precision,
              dash: true,
            },
          ],
        }),
      })
      if (view.prCurves.categories.length > 1 && view.prCurves.categories.length <= 8)
        charts.push({
          type: 'figure',
          name: `pr-curves-${label}-per-category`,
          caption: `Precision-recall per category at IoU .50 (${label}).`,
          svg: lineChart({
            title: `Per category at IoU .50, ${label}`,
            xLabel: 'recall',
            yLabel: 'precision',
            series: view.prCurves.categories.map((c) => ({
              name: c.name ?? catName(c.categoryId),
              x: view.prCurves!.recall,
              y: c.iou50.precision,
            })),
          }),
        })
    }
    if (view.errors) {
      const series = [{ name: `run ${run.id}`, errors: view.errors }]
      errors.push(tideFigure(`tide-${label}`, `TIDE errors, ${label}`, series), tideTable(series))
    }
    if (view.confusion && e.kind === 'coco-bbox') {
      const labels = view.confusion.labels.map(catName)
      confusion.push({
        type: 'figure',
        name: `confusion-${label}`,
        caption: `Confusion at IoU ${view.confusion.iouThreshold}, detections scoring ≥ ${view.confusion.scoreThreshold}: rows ground truth (last: unmatched detections), columns prediction (last: missed).`,
        svg: heatmap({
          title: `Confusion matrix, ${label}`,
          rowLabels: labels,
          columnLabels: labels,
          matrix: view.confusion.matrix,
          rowTitle: 'ground truth',
          columnTitle: 'prediction',
        }),
      })
    }
  }
  sections.push({ id: 'pr-curves', title: 'Precision-recall curves', blocks: charts })
  sections.push({ id: 'tide', title: 'Error breakdown (TIDE)', blocks: errors })
  sections.push({ id: 'confusion', title: 'Confusion matrix', blocks: confusion })

  // Worst images with their ground truth and predictions drawn in.
  const first = evaluations[0]!
  const size = ctx.stripSize ?? 8
  const worst = studio.evaluations.images(
    first.id,
    first.kind === 'cityscapes' ? 'miou' : 'ap',
    'asc',
    0,
    size,
  )
  const threshold = run.settings.scoreThreshold ?? model.config.scoreThreshold
  const strip = []
  for (const [i, w] of worst.entries()) {
    ctx.signal?.throwIfAborted()
    ctx.progress?.(i, worst.length, 'Drawing images')
    const image = getImage(studio.db, w.imageId)
    const result = storedInference(studio.db, runId, w.imageId, [], run.executionProvider)
    const boxes = [
      ...image.annotations.map((a) => ({ bbox: a.bbox, color: '#ffffff', dash: true, width: 1.5 })),
      ...(result?.predictions ?? [])
        .filter((p) => p.score >= threshold)
        .map((p) => {
          const color = categories.get(p.categoryId)?.color ?? [255, 200, 0]
          return {
            bbox: p.bbox,
            color: `rgb(${color.join(',')})`,
            label: `${catName(p.categoryId)} ${p.score.toFixed(2)}`,
          }
        }),
    ]
    const img = await stripImage(studio.media, w.imageId, image.width, {
      boxes: first.kind === 'cityscapes' ? [] : boxes,
      labelMapPng: result?.semanticPng ? Buffer.from(result.semanticPng, 'base64') : null,
    })
    const score =
      first.kind === 'cityscapes'
        ? `mIoU ${pts(w.miou) ?? '–'}`
        : `AP ${pts(w.ap) ?? '–'}, TP ${w.tp} FP ${w.fp} FN ${w.fn}`
    strip.push({ ...img, caption: `${w.fileName}: ${score}` })
  }
  sections.push({
    id: 'worst',
    title: 'Worst images',
    blocks: strip.length
      ? [
          {
            type: 'strip',
            caption:
              first.kind === 'cityscapes'
                ? `The ${strip.length} images with the lowest mIoU; the predicted label map drawn over each.`
                : `The ${strip.length} images with the lowest ${kindLabel(first.kind)} AP: ground truth dashed white, predictions scoring ≥ ${threshold} in their category's colour.`,
            images: strip,
          },
        ]
      : [],
  })
  const attention = studio.attention.stats(runId)
  if (attention?.status === 'done') sections.push(...attentionSections(attention))
  const grid = await gridSection(studio, [run], ctx)
  if (grid) sections.push(grid)

  return {
    title: title ?? `Evaluation report: ${run.modelName} on ${run.datasetName}`,
    subtitle: `Run ${run.id} · ${evaluations.map((e) => `${kindLabel(e.kind)} evaluation ${e.id}`).join(' · ')}`,
    createdAt: new Date().toISOString(),
    studioVersion: studio.version,
    sections,
  }
}

/** A comparison stored by the comparison service, found again or made for these runs. */
export async function comparisonFor(
  studio: Studio,
  runIds: number[],
  ctx: GatherContext,
  iouType: 'bbox' | 'segm' = 'bbox',
): Promise<number> {
  const same = studio.comparisons
    .list()
    .find(
      (c) =>
        c.status === 'done' &&
        (c.iouType === null || c.iouType === iouType) &&
        c.runIds.length === runIds.length &&
        c.runIds.every((id, i) => id === runIds[i]),
    )
  if (same) return same.id
  const made = await studio.comparisons.create(
    { runIds, iouType },
    {
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      onProgress: (done, total, phase) => ctx.progress?.(done, total, `Comparing: ${phase}`),
    },
  )
  return made.id
}

async function compareReport(
  studio: Studio,
  comparisonId: number,
  ctx: GatherContext,
  title?: string,
): Promise<ReportDocument> {
  const detail: ComparisonDetail = studio.comparisons.get(comparisonId)
  if (detail.problems.length)
    throw new AppError(
      'CONFLICT',
      `Comparison ${comparisonId} cannot be reported: ${detail.problems.join(' ')}`,
    )
  const summary = detail.summary
  if (!summary) throw new AppError('CONFLICT', `Comparison ${comparisonId} has no results yet.`)
  const db = studio.db
  const runs = detail.runIds.map((id) => studio.runs.get(id))
  const names = summary.runs.map((r) => `${r.modelName} (run ${r.runId})`)
  const dataset = getDataset(db, detail.datasetId)
  const sections: ReportSection[] = []
  sections.push({
    id: 'dataset',
    title: 'Dataset',
    blocks: [datasetFacts(dataset, detail.gtVersion, summary.imageCount)],
  })
  sections.push({
    id: 'models',
    title: 'Models and runs',
    blocks: [
      ...runs.flatMap((r) => [modelCard(getModel(db, r.modelId), `run ${r.id}`), runFacts(r)]),
      {
        type: 'facts',
        title: 'Environment (this machine, when the report was made)',
        facts: environmentFacts(),
      },
    ],
  })
  const ref = summary.vsReference
  const deltaOf = (runId: number) => ref.find((v) => v.runId === runId)
  const metrics: Block[] = []
  if (summary.kind === 'coco') {
    const label = summary.iouType === 'segm' ? 'mask' : 'box'
    const columns = [
      'run',
      ...AP_COLUMNS,
      'ΔAP',
      '95% interval',
      'fixed',
      'broken',
      'params',
      'FLOPs',
    ]
    metrics.push({
      type: 'table',
      testId: 'metrics',
      caption: `${label} AP (points) of ${summary.imageCount} images; Δ against ${names[0]}, with a paired bootstrap 95% interval (${summary.resamples} resamples, seed ${summary.seed}); fixed/broken: ground-truth objects found/lost at score ≥ ${summary.scoreThreshold}.`,
      columns,
      rows: summary.runs.map((r, i) => {
        const v = deltaOf(r.runId)
        return [
          names[i]!,
          ...AP_COLUMNS.map((_, k) => pts(r.stats?.[k])),
          i === 0 ? 'reference' : deltaPts(v?.delta),
          i === 0 ? null : intervalPts(v?.ci95),
          i === 0 ? null : (v?.fixed ?? null),
          i === 0 ? null : (v?.broken ?? null),
          magnitude(r.params),
          magnitude(r.flops),
        ]
      }),
      referenceRows: publishedRows(
        summary.iouType === 'segm' ? 'coco-segm' : 'coco-bbox',
        columns.length,
      ),
    })
    metrics.push({
      type: 'table',
      testId: 'deltas',
      caption: 'Differences against the reference run, all twelve COCO numbers (points)',
      columns: ['run', ...COCO_STAT_NAMES],
      rows: ref.map((v) => [
        names[summary.runs.findIndex((r) => r.runId === v.runId)]!,
        ...(v.deltaStats ?? []).map(deltaPts),
      ]),
    })
  } else {
    metrics.push({
      type: 'table',
      testId: 'metrics',
      caption: `Cityscapes (points) of ${summary.imageCount} images; Δ mIoU against ${names[0]} with a paired bootstrap 95% interval; fixed/broken in pixels.`,
      columns: [
        'run',
        'mIoU',
        'iIoU',
        'category mIoU',
        'ΔmIoU',
        '95% interval',
        'fixed px',
        'broken px',
        'params',
        'FLOPs',
      ],
      rows: summary.runs.map((r, i) => {
        const v = deltaOf(r.runId)
        return [
          names[i]!,
          pts(r.mIoU),
          pts(r.iIoU),
          pts(r.categoryMIoU),
          i === 0 ? 'reference' : deltaPts(v?.delta),
          i === 0 ? null : intervalPts(v?.ci95),
          i === 0 ? null : (v?.fixed ?? null),
          i === 0 ? null : (v?.broken ?? null),
          magnitude(r.params),
          magnitude(r.flops),
        ]
      }),
      referenceRows: publishedRows('cityscapes', 10),
    })
  }
  metrics.push({ type: 'text', tone: 'note', text: PUBLISHED_SOURCE })
  for (const w of summary.warnings) metrics.push({ type: 'text', tone: 'warning', text: w })
  sections.push({ id: 'metrics', title: 'Metrics', blocks: metrics })

  const valueName = summary.kind === 'coco' ? 'AP' : 'IoU'
  sections.push({
    id: 'categories',
    title: 'Per category',
    blocks: summary.categories.length
      ? [
          {
            type: 'table',
            testId: 'categories',
            caption: `Per category ${valueName} (points) and Δ against run ${summary.runs[0]!.runId}; runs: ${names.join(', ')}`,
            columns: [
              'category',
              ...summary.runs.map((r) => `${valueName} run ${r.runId}`),
              ...summary.runs.slice(1).map((r) => `Δ run ${r.runId}`),
              'GT',
            ],
            rows: summary.categories.map((c) => [
              c.name,
              ...c.values.map(pts),
              ...c.values
                .slice(1)
                .map((v) =>
                  v === null || c.values[0] === null ? null : deltaPts(v - c.values[0]!),
                ),
              c.groundTruth,
            ]),
          },
        ]
      : [],
  })
  const overall = summary.prCurves.find((p) => p.categoryId === null)
  const recall = Array.from({ length: 101 }, (_, i) => i / 100)
  sections.push({
    id: 'pr-curves',
    title: 'Precision-recall curves',
    blocks: overall
      ? [
          {
            type: 'figure',
            name: 'pr-curves-compare',
            caption: 'Precision-recall of all categories at IoU .50, one curve per run.',
            svg: lineChart({
              title: 'Precision-recall at IoU .50',
              xLabel: 'recall',
              yLabel: 'precision',
              series: overall.curves.map((y, i) => ({ name: names[i]!, x: recall, y: y ?? [] })),
            }),
          },
        ]
      : [],
  })
  const tide = detail.tide
    .map((t, i) => (t ? { name: names[i]!, errors: t as TideErrors } : null))
    .filter((t): t is { name: string; errors: TideErrors } => t !== null)
  sections.push({
    id: 'tide',
    title: 'Error breakdown (TIDE)',
    blocks: tide.length
      ? [tideFigure('tide-compare', 'TIDE errors per run', tide), tideTable(tide)]
      : [],
  })
  sections.push({
    id: 'confusion',
    title: 'Confusion matrices',
    blocks: summary.confusion
      ? summary.confusion.matrices.map((m, i) => ({
          type: 'figure' as const,
          name: `confusion-run-${summary.runs[i]!.runId}`,
          caption: `Confusion of ${names[i]} (rows ground truth, columns prediction).`,
          svg: heatmap({
            title: names[i]!,
            rowLabels: summary.confusion!.labels,
            columnLabels: summary.confusion!.labels,
            matrix: m,
            rowTitle: 'ground truth',
            columnTitle: 'prediction',
            rowNormalise: summary.kind === 'cityscapes',
            cell: Math.min(26, Math.floor(300 / Math.max(1, m.length))),
          }),
        }))
      : [],
  })

  // Fixed and broken: per run after the reference, the images that changed most.
  const strips: Block[] = []
  const size = ctx.stripSize ?? 8
  for (const [j, r] of summary.runs.slice(1).entries()) {
    const listed = studio.comparisons.images({
      id: comparisonId,
      runId: r.runId,
      order: summary.kind === 'coco' ? 'net' : 'delta',
      changedOnly: true,
      offset: 0,
      limit: size,
    })
    const images = []
    for (const [i, im] of listed.images.entries()) {
      ctx.signal?.throwIfAborted()
      ctx.progress?.(j * size + i, (summary.runs.length - 1) * size, 'Drawing images')
      const image = getImage(db, im.imageId)
      let boxes: { bbox: [number, number, number, number]; color: string; label: string }[] = []
      if (summary.kind === 'coco') {
        const inst = studio.comparisons.imageInstances(comparisonId, im.imageId)
        const mine = inst.runs.find((x) => x.runId === r.runId)
        boxes = [
          ...(mine?.fixed ?? []).map((f) => ({ bbox: f.bbox, color: '#22c55e', label: 'fixed' })),
          ...(mine?.broken ?? []).map((b) => ({ bbox: b.bbox, color: '#ef4444', label: 'broken' })),
        ]
      }
      const result =
        summary.kind === 'cityscapes' ? storedInference(db, r.runId, im.imageId, [], null) : null
      const img = await stripImage(studio.media, im.imageId, image.width, {
        boxes,
        labelMapPng: result?.semanticPng ? Buffer.from(result.semanticPng, 'base64') : null,
      })
      images.push({
        ...img,
        caption: `${im.fileName}: ${im.fixed[j]} fixed, ${im.broken[j]} broken, Δ ${deltaPts(im.delta[j]) ?? '–'}`,
      })
    }
    if (images.length)
      strips.push({
        type: 'strip',
        caption:
          summary.kind === 'coco'
            ? `${names[j + 1]} against ${names[0]}: the images with the most objects fixed (green) net of broken (red).`
            : `${names[j + 1]} against ${names[0]}: the images whose mIoU changed most, with ${names[j + 1]}'s label map.`,
        images,
      })
  }
  sections.push({ id: 'fixed-broken', title: 'Fixed and broken', blocks: strips })
  for (const r of runs) {
    const a = studio.attention.stats(r.id)
    if (a?.status === 'done')
      sections.push(
        ...attentionSections(a).map((s) => ({
          ...s,
          id: `${s.id}-run-${r.id}`,
          title: `${s.title}: ${r.modelName} (run ${r.id})`,
        })),
      )
  }
  const grid = await gridSection(studio, runs, ctx)
  if (grid) sections.push(grid)
  return {
    title: title ?? `Comparison: ${detail.title}`,
    subtitle: `Comparison ${detail.id} of runs ${detail.runIds.join(', ')} on ${detail.datasetName} (reference: run ${detail.referenceRunId})`,
    createdAt: new Date().toISOString(),
    studioVersion: studio.version,
    sections,
  }
}

const fmt3 = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? null : v.toFixed(3)

/** Per-stage and per-block statistics of a run's attention (computed by core/attention). */
export function attentionSections(a: AttentionStats): ReportSection[] {
  const stages = Object.values(a.stages)
  const blocks: Block[] = []
  if (a.notes.length)
    blocks.push(...a.notes.map((n) => ({ type: 'text' as const, tone: 'note' as const, text: n })))
  if (stages.length)
    blocks.push({
      type: 'table',
      testId: 'attention-stages',
      caption: `Per stage, means over ${a.images} images (regions from ${a.regions}; context: farther than ${a.params.contextDistance} px from every object)`,
      columns: [
        'stage',
        'blocks',
        'r',
        'entropy',
        'top-1% mass',
        'in-object ratio',
        'context mass',
        'padding mass',
        'selectivity',
      ],
      rows: stages.map((s) => [
        s.stage,
        s.blocks.length,
        s.ratio === null ? null : `r${Math.round(s.ratio)}`,
        fmt3(s.entropy.mean),
        fmt3(s.top1Mass.mean),
        fmt3(s.inObjectRatio?.mean),
        fmt3(s.contextMass?.mean),
        fmt3(s.paddingMass.mean),
        fmt3(s.selectivity?.mean),
      ]),
    })
  blocks.push({
    type: 'table',
    testId: 'attention-blocks',
    caption: 'Per block: medians [5th–95th percentile]',
    columns: [
      'block',
      'stage',
      'C',
      'P',
      'entropy',
      'top-1% mass',
      'in-object ratio',
      'context mass',
    ],
    rows: a.blocks.map((b) => [
      String(b.index),
      b.stage ? `${b.stage}.${b.indexInStage}` : null,
      b.channels,
      b.hidden,
      `${fmt3(b.entropy.p50)} [${fmt3(b.entropy.p05)}–${fmt3(b.entropy.p95)}]`,
      `${fmt3(b.top1Mass.p50)} [${fmt3(b.top1Mass.p05)}–${fmt3(b.top1Mass.p95)}]`,
      b.inObjectRatio ? `${fmt3(b.inObjectRatio.p50)}` : null,
      b.contextMass ? `${fmt3(b.contextMass.p50)}` : null,
    ]),
  })
  const entropy = stages.length
    ? barChart({
        title: 'Attention per stage (means)',
        categories: stages.map((s) => s.stage),
        series: [
          { name: 'entropy (1 = uniform)', values: stages.map((s) => s.entropy.mean) },
          { name: 'top-1% mass', values: stages.map((s) => s.top1Mass.mean) },
          { name: 'context mass', values: stages.map((s) => s.contextMass?.mean ?? null) },
        ],
        valueLabel: 'share',
      })
    : null
  if (entropy)
    blocks.push({
      type: 'figure',
      name: `attention-stages-run-${a.runId}`,
      caption:
        'Entropy of the softmax map (1 = uniform), mass on the top 1% of positions and mass on context, per stage.',
      svg: entropy,
    })
  return [{ id: 'attention', title: 'Attention statistics', blocks }]
}

/** The attention grid in the paper's Fig. 5 layout: one row per image, one column per block. */
export async function attentionGridBlock(
  studio: Studio,
  grid: AttentionGrid,
  ctx: GatherContext,
  cellWidth = 320,
): Promise<{ block: Block; png: { name: string; buffer: Buffer }[] } | null> {
  const images: { src: string; width: number; height: number; caption: string }[] = []
  const png: { name: string; buffer: Buffer }[] = []
  const span = Math.max(1e-9, grid.scale.hi - grid.scale.lo)
  for (const [i, img] of grid.images.entries()) {
    ctx.signal?.throwIfAborted()
    ctx.progress?.(i, grid.images.length, 'Drawing attention')
    const plain = await stripImage(studio.media, img.imageId, img.width, {}, cellWidth)
    images.push({ ...plain, caption: img.fileName })
    for (const row of grid.rows) {
      const cell = row.cells[i]
      if (!cell) continue
      for (const m of cell.maps) {
        // Codes span each map's own range; re-code them to the grid's shared scale.
        const codes = Buffer.from(m.data, 'base64')
        for (let k = 0; k < codes.length; k++) {
          const rel = m.low + (codes[k]! / 255) * (m.high - m.low)
          codes[k] = Math.round(Math.min(1, Math.max(0, (rel - grid.scale.lo) / span)) * 255)
        }
        const buffer = await attentionOverlay(
          studio.media,
          img.imageId,
          img.width,
          img.height,
          {
            width: m.width,
            height: m.height,
            data: codes,
            frameWidth: cell.frameWidth,
            frameHeight: cell.frameHeight,
          },
          cellWidth,
        )
        const meta = await sharp(buffer).metadata()
        const stage = m.stage ? `${m.stage}.${m.indexInStage}` : `block ${m.block}`
        png.push({ name: `${img.fileName}-run-${row.runId}-${stage}`, buffer })
        const jpeg = await sharp(buffer).jpeg({ quality: 80 }).toBuffer()
        images.push({
          src: `data:image/jpeg;base64,${jpeg.toString('base64')}`,
          width: meta.width ?? cellWidth,
          height: meta.height ?? cellWidth,
          caption: `${row.label}, ${stage}`,
        })
      }
    }
  }
  if (images.length === grid.images.length) return null
  return {
    block: {
      type: 'strip',
      columns: images.length / grid.images.length,
      caption: `Attention maps (the paper's Fig. 5 layout): each image, then its GC blocks' softmax attention; colour from ${grid.scale.lo.toFixed(2)}× to ${grid.scale.hi.toFixed(2)}× uniform (viridis), one scale for all.`,
      images,
    },
    png,
  }
}

/** The attention grid of the runs that stored attention maps, when any did. */
async function gridSection(
  studio: Studio,
  runs: Run[],
  ctx: GatherContext,
): Promise<ReportSection | null> {
  const withMaps = runs.filter((r) => r.gcBlocks > 0 && r.settings.taps)
  if (withMaps.length === 0 || ctx.stripSize === 0) return null
  let grid: AttentionGrid
  try {
    grid = studio.attention.grid(
      withMaps.map((r) => r.id),
      { mode: 'random', seed: 1 },
      Math.min(4, ctx.stripSize ?? 4),
      'stages',
    )
  } catch (err) {
    // Runs that cannot share a grid (another dataset) simply have none in the report.
    if (err instanceof AppError) return null
    throw err
  }
  const drawn = await attentionGridBlock(studio, grid, ctx)
  return drawn ? { id: 'attention-grid', title: 'Attention grid', blocks: [drawn.block] } : null
}

async function attentionReport(
  studio: Studio,
  runId: number,
  ctx: GatherContext,
  title?: string,
): Promise<ReportDocument> {
  const run = studio.runs.get(runId)
  const model = getModel(studio.db, run.modelId)
  const dataset = getDataset(studio.db, run.datasetId)
  ctx.progress?.(0, null, 'Attention statistics')
  const stats = await studio.attention.compute(runId, undefined, {
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  })
  const sections: ReportSection[] = [
    {
      id: 'dataset',
      title: 'Dataset',
      blocks: [datasetFacts(dataset, stats.gtVersion, stats.images)],
    },
    {
      id: 'model',
      title: 'Model and run',
      blocks: [
        modelCard(model, `run ${run.id}`),
        runFacts(run),
        {
          type: 'facts',
          title: 'Environment (this machine, when the report was made)',
          facts: environmentFacts(),
        },
      ],
    },
    ...attentionSections(stats),
  ]
  const grid = studio.attention.grid(
    [runId],
    { mode: 'random', seed: 1 },
    ctx.stripSize ?? 6,
    'stages',
  )
  const drawn = await attentionGridBlock(studio, grid, ctx)
  sections.push({
    id: 'attention-grid',
    title: 'Attention grid',
    blocks: drawn ? [drawn.block] : [],
  })
  return {
    title: title ?? `Attention report: ${run.modelName} on ${run.datasetName}`,
    subtitle: `Run ${run.id} · ${model.card.gcBlocks.length} GC blocks · statistics ${stats.id}`,
    createdAt: new Date().toISOString(),
    studioVersion: studio.version,
    sections,
  }
}

/** Builds the document of any report target. */
export async function gatherReport(
  studio: Studio,
  target: ReportTarget,
  ctx: GatherContext = {},
  title?: string,
): Promise<ReportDocument> {
  switch (target.kind) {
    case 'run':
      return runReport(studio, target.runId, ctx, title)
    case 'compare':
      return compareReport(studio, await comparisonFor(studio, target.runIds, ctx), ctx, title)
    case 'comparison':
      return compareReport(studio, target.comparisonId, ctx, title)
    case 'attention':
      return attentionReport(studio, target.runId, ctx, title)
  }
}
