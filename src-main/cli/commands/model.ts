import { parseArgs } from 'node:util'
import { formatMagnitude } from '../../common/format'
import { LabelMapping } from '../../common/models'
import { buildCard, type ModelCard } from '../../core/models/card'
import {
  addModel,
  listModels,
  requireRegularFile,
  updateModelFromSidecar,
} from '../../core/models/registry'
import { readModelFile } from '../../core/models/onnx'
import { isMmdeployFolder, readMmdeployFolder } from '../../core/models/mmdeploy'
import { openCliStudio } from '../dataDir'
import { CliUsageError, type CliCommand, type CliIo } from '../command'
import fs from 'node:fs'
import path from 'node:path'

/** The `--json` shape of `gcstudio model inspect`: a stable interface for scripts. */
export function inspectJson(card: ModelCard) {
  return {
    format: card.format,
    opset: card.opset,
    params: card.params,
    flops: card.flops,
    gcBlocks: card.gcBlocks.map((b) => ({
      index: b.index,
      stage: b.stage,
      indexInStage: b.indexInStage,
      channels: b.channels,
      hidden: b.hidden,
      ratio: b.ratio,
      fusion: b.fusion,
    })),
  }
}

export function printCard(io: CliIo, name: string, card: ModelCard): void {
  const w = (s: string) => io.stdout.write(s + '\n')
  w(`${name}`)
  w(`  format   ${card.format ?? `unknown: ${card.formatError}`}`)
  w(`  opset    ${card.opset} (IR ${card.irVersion}${card.producer ? `, ${card.producer}` : ''})`)
  for (const i of card.inputs)
    w(`  input    ${i.name} ${i.elemType}[${i.shape?.map((d) => d ?? '?').join(', ') ?? '?'}]`)
  for (const o of card.outputs)
    w(`  output   ${o.name} ${o.elemType}[${o.shape?.map((d) => d ?? '?').join(', ') ?? '?'}]`)
  w(`  params   ${formatMagnitude(card.params)}`)
  w(
    `  FLOPs    ${formatMagnitude(card.flops)} multiply-adds at ${card.flopsInput[1]}x${card.flopsInput[0]}${card.flopsPerRoi ? ` + ${formatMagnitude(card.flopsPerRoi)} per RoI` : ''}`,
  )
  if (card.gcBlocks.length === 0) {
    w('  GC blocks: none (a model without global context blocks)')
    return
  }
  w(`  GC blocks: ${card.gcBlocks.length}, ${card.gcRatioLabel}`)
  w('    #  stage  C      P     r     fusion                    LayerNorm')
  for (const b of card.gcBlocks) {
    w(
      `    ${String(b.index).padEnd(3)}${`${b.stage ?? '?'}.${b.indexInStage}`.padEnd(7)}${String(b.channels).padEnd(7)}${String(b.hidden).padEnd(6)}${String(b.ratio).padEnd(6)}${b.fusion.join('+').padEnd(26)}${b.layerNorm}`,
    )
  }
}

export const modelCommand: CliCommand = {
  name: 'model',
  usage: `gcstudio model inspect PATH [--json]       the model card from the graph: format, opset, params, FLOPs, GC blocks
gcstudio model add PATH [--name NAME] [--labels index|index-from-1|category-id|train-id] [--update] [--data-dir DIR]
                                           --update: the model is imported already and its sidecar changed:
                                           apply the sidecar's class names / label mapping / label map
gcstudio model list [--data-dir DIR]

PATH is an .onnx file or an mmdeploy export folder (end2end.onnx + deploy.json, pipeline.json, detail.json).
What the graph cannot tell (class names, a label map) goes in a sidecar beside model.onnx:
model.gcstudio.json (or model.onnx.gcstudio.json), or gcstudio.json inside the folder, e.g.
  {"labelMapping": "index-from-1", "classNames": ["person", "car"]}`,
  async run(argv, io) {
    const [sub, ...rest] = argv
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        name: { type: 'string' },
        labels: { type: 'string' },
        update: { type: 'boolean', default: false },
        'data-dir': { type: 'string' },
        'no-demo': { type: 'boolean', default: false },
      },
      strict: true,
    })
    if (sub === 'inspect') {
      const target = positionals[0]
      if (!target) throw new CliUsageError('inspect needs a PATH.')
      const mm =
        fs.existsSync(target) && fs.statSync(target).isDirectory() && isMmdeployFolder(target)
          ? readMmdeployFolder(target)
          : null
      const file = mm?.onnxFile ?? target
      requireRegularFile(path.resolve(file))
      const { model } = readModelFile(file)
      const { card } = buildCard(
        model,
        mm?.resize ? [mm.resize.size[1], mm.resize.size[0]] : undefined,
      )
      if (values.json) io.stdout.write(JSON.stringify(inspectJson(card), null, 2) + '\n')
      else printCard(io, file, card)
      return 0
    }
    if (sub !== 'add' && sub !== 'list')
      throw new CliUsageError(sub ? `Unknown model command "${sub}".` : 'Say inspect, add or list.')
    const studio = await openCliStudio(values['data-dir'], io, { noDemo: values['no-demo'] })
    const db = studio.db
    try {
      if (sub === 'add') {
        const target = positionals[0]
        if (!target) throw new CliUsageError('add needs a PATH.')
        let labelMapping
        if (values.labels !== undefined) {
          const parsed = LabelMapping.safeParse(values.labels)
          if (!parsed.success)
            throw new CliUsageError(`--labels must be one of ${LabelMapping.options.join(', ')}.`)
          labelMapping = parsed.data
        }
        const added = addModel(db, target, {
          ...(values.name ? { name: values.name } : {}),
          ...(labelMapping ? { labelMapping } : {}),
        })
        let { model } = added
        if (!added.existed) io.stdout.write(`Imported model ${model.id}: ${model.name}\n`)
        else if (added.sidecarChanges.length === 0)
          io.stdout.write(`Already imported as model ${model.id} (same sha256).\n`)
        else if (values.update) {
          model = updateModelFromSidecar(db, model.id).model
          io.stdout.write(
            `Updated model ${model.id} (${model.name}) from its sidecar: ${added.sidecarChanges.join(', ')}.\n`,
          )
        } else {
          io.stdout.write(
            `Already imported as model ${model.id} (same sha256), but its sidecar now differs in ${added.sidecarChanges.join(', ')}; the stored model still uses the old values.\nApply the sidecar with: gcstudio model add ${target} --update\n`,
          )
        }
        printCard(io, model.name, model.card)
        for (const s of model.config.sources) io.stdout.write(`  config: ${s}\n`)
        return 0
      }
      if (sub === 'list') {
        const models = listModels(db)
        if (models.length === 0) io.stdout.write('No models yet: gcstudio model add PATH\n')
        for (const m of models) {
          io.stdout.write(
            `${String(m.id).padStart(4)}  ${m.name}  ${m.format}  ${m.card.gcRatioLabel ? `GC ${m.card.gcRatioLabel} x${m.card.gcBlocks.length}` : 'no GC'}  ${formatMagnitude(m.card.params)} params  ${m.sha256.slice(0, 12)}\n`,
          )
        }
        return 0
      }
      throw new CliUsageError(sub ? `Unknown model command "${sub}".` : 'Say inspect, add or list.')
    } finally {
      await studio.close()
    }
  },
}
