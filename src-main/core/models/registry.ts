import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { AppError } from '../../common/errors'
import { ModelConfig, ModelSidecar, type LabelMapping } from '../../common/models'
import type { Model } from '../../common/api'
import { modelStore, type FileStamp } from '../store/models'
import type { Db } from '../store/store'
import { buildCard, type ModelCard } from './card'
import { formatSpec, type ModelFormat } from './formats'
import { isMmdeployFolder, readMmdeployFolder, type MmdeployInfo } from './mmdeploy'
import { decodeModel } from './onnx'
import { readJsonFile } from '../jsonFile'
import { matchByName } from '../names'

/** A stored model: the API's `Model` (config and card parsed by the store). */
export type ModelRecord = Model

export function sha256File(file: string): string {
  const h = crypto.createHash('sha256')
  const fd = fs.openSync(file, 'r')
  try {
    const buf = Buffer.allocUnsafe(1 << 20)
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null)
      if (n === 0) break
      h.update(buf.subarray(0, n))
    }
  } finally {
    fs.closeSync(fd)
  }
  return h.digest('hex')
}

/**
 * A model, and every file beside it, must be a regular file: reading a device (/dev/zero) or a
 * FIFO never ends, and would hold the thread reading it for ever.
 */
export function requireRegularFile(file: string, stat = fs.statSync(file)): void {
  if (stat.isFile()) return
  const what = stat.isFIFO()
    ? 'a named pipe (FIFO)'
    : stat.isCharacterDevice() || stat.isBlockDevice()
      ? 'a device'
      : stat.isSocket()
        ? 'a socket'
        : stat.isDirectory()
          ? 'a folder'
          : 'not a regular file'
  throw new AppError(
    'INVALID_INPUT',
    `${file} is ${what}, not a model file: choose the .onnx file itself (or its mmdeploy export folder).`,
  )
}

function readSidecar(file: string): ModelSidecar | null {
  if (!fs.existsSync(file)) return null
  requireRegularFile(file)
  return readJsonFile(file, ModelSidecar)
}

/** Resolves what a model import needs: the ONNX file, mmdeploy's description, a sidecar. */
function locate(source: string): {
  onnxFile: string
  mmdeploy: MmdeployInfo | null
  sidecar: ModelSidecar | null
  sidecarFile: string | null
} {
  const abs = path.resolve(source)
  if (!fs.existsSync(abs)) throw new AppError('NOT_FOUND', `${abs} does not exist.`)
  const kind = fs.statSync(abs)
  if (!kind.isDirectory()) requireRegularFile(abs, kind)
  if (kind.isDirectory()) {
    const sidecarFile = path.join(abs, 'gcstudio.json')
    if (isMmdeployFolder(abs)) {
      const mmdeploy = readMmdeployFolder(abs)
      requireRegularFile(mmdeploy.onnxFile)
      return {
        onnxFile: mmdeploy.onnxFile,
        mmdeploy,
        sidecar: readSidecar(sidecarFile),
        sidecarFile,
      }
    }
    const onnx = fs.readdirSync(abs).filter((f) => f.endsWith('.onnx'))
    if (onnx.length === 1) {
      const f = path.join(abs, onnx[0]!)
      requireRegularFile(f)
      return {
        onnxFile: f,
        mmdeploy: null,
        ...fileSidecar(f, sidecarFile),
      }
    }
    throw new AppError(
      'INVALID_INPUT',
      `${abs} is a folder without mmdeploy's deploy.json/pipeline.json${onnx.length ? ` and with ${onnx.length} .onnx files (${onnx.join(', ')}): choose one` : ' and without an .onnx file'}.`,
    )
  }
  return { onnxFile: abs, mmdeploy: null, ...fileSidecar(abs, null) }
}

/**
 * The sidecar of a lone .onnx: `gcstudio.json` in its folder when the folder was given, else
 * `model.gcstudio.json` or `model.onnx.gcstudio.json` beside `model.onnx`.
 */
function fileSidecar(
  onnxFile: string,
  folderSidecar: string | null,
): { sidecar: ModelSidecar | null; sidecarFile: string | null } {
  const candidates = [
    ...(folderSidecar ? [folderSidecar] : []),
    onnxFile.replace(/\.onnx$/i, '') + '.gcstudio.json',
    `${onnxFile}.gcstudio.json`,
  ]
  for (const file of candidates) {
    const sidecar = readSidecar(file)
    if (sidecar) return { sidecar, sidecarFile: file }
  }
  return { sidecar: null, sidecarFile: candidates.at(-1)! }
}

function defaultConfig(format: ModelFormat, card: ModelCard, mm: MmdeployInfo | null): ModelConfig {
  const input = card.inputs[0]!
  const shape = input.shape ?? []
  const staticHw =
    typeof shape[shape.length - 2] === 'number' && typeof shape[shape.length - 1] === 'number'
      ? ([shape[shape.length - 1] as number, shape[shape.length - 2] as number] as [number, number])
      : null
  const spec = formatSpec(format)
  const d = spec.defaults({ mmdeploy: mm, staticHw })
  return {
    format,
    task: spec.task,
    inputName: mm?.inputName ?? input.name,
    inputRank: shape.length === 3 ? 3 : 4,
    preprocess: d.preprocess,
    scoreThreshold: d.scoreThreshold,
    maskThreshold: mm?.maskThreshold ?? 0.5,
    labelMapping: d.labelMapping,
    sources: d.sources,
  }
}

function applySidecar(
  config: ModelConfig,
  sidecar: ModelSidecar | null,
  file: string | null,
): ModelConfig {
  if (!sidecar) return config
  return ModelConfig.parse({
    ...config,
    ...(sidecar.classNames ? { classNames: sidecar.classNames } : {}),
    ...(sidecar.labelMapping ? { labelMapping: sidecar.labelMapping } : {}),
    ...(sidecar.labelMap
      ? { labelMap: sidecar.labelMap, labelMapping: sidecar.labelMapping ?? 'explicit' }
      : {}),
    ...(sidecar.scoreThreshold !== undefined ? { scoreThreshold: sidecar.scoreThreshold } : {}),
    ...(sidecar.maskThreshold !== undefined ? { maskThreshold: sidecar.maskThreshold } : {}),
    preprocess: { ...config.preprocess, ...(sidecar.preprocess ?? {}) },
    sources: [...config.sources, `overrides from ${file}`],
  })
}

export interface AddModelOptions {
  name?: string
  labelMapping?: LabelMapping
  classNames?: string[]
}

/** What a model source holds once hashed: enough to tell whether the store has it already. */
export interface HashedSource {
  source: string
  onnxFile: string
  mmdeploy: MmdeployInfo | null
  sidecar: ModelSidecar | null
  sidecarFile: string | null
  sha256: string
  size: number
  mtimeMs: number
}

/** A model read from its graph and files, ready to store: the CPU-heavy part of an import. */
export interface InspectedModel {
  hashed: HashedSource
  name: string
  config: ModelConfig
  card: ModelCard
}

export function hashSource(source: string): HashedSource {
  const located = locate(source)
  const stat = fs.statSync(located.onnxFile)
  return {
    ...located,
    source: path.resolve(source),
    sha256: sha256File(located.onnxFile),
    size: stat.size,
    mtimeMs: stat.mtimeMs,
  }
}

/** Decodes the graph, builds the card and the configuration. No store access: runs in a worker. */
export function inspectSource(hashed: HashedSource, opts: AddModelOptions = {}): InspectedModel {
  const { onnxFile } = hashed
  const model = decodeModel(fs.readFileSync(onnxFile), onnxFile)
  const { card } = buildCard(
    model,
    hashed.mmdeploy?.resize
      ? [hashed.mmdeploy.resize.size[1], hashed.mmdeploy.resize.size[0]]
      : undefined,
  )
  if (!card.format) throw new AppError('UNSUPPORTED', `${onnxFile}: ${card.formatError}`)
  let config = applySidecar(
    defaultConfig(card.format, card, hashed.mmdeploy),
    hashed.sidecar,
    hashed.sidecarFile,
  )
  if (opts.labelMapping)
    config = {
      ...config,
      labelMapping: opts.labelMapping,
      sources: [...config.sources, `label mapping ${opts.labelMapping} chosen at import`],
    }
  if (opts.classNames) config = { ...config, classNames: opts.classNames }
  const name =
    opts.name ??
    hashed.sidecar?.name ??
    defaultName(hashed.mmdeploy ? path.dirname(onnxFile) : onnxFile, card)
  return { hashed, name, config, card }
}

/** The stored model with this file's sha256, if any. */
export function modelBySha(db: Db, sha256: string): ModelRecord | null {
  return modelStore(db).bySha256(sha256)
}

export function storeInspected(db: Db, m: InspectedModel): ModelRecord {
  return modelStore(db).add({
    sha256: m.hashed.sha256,
    name: m.name,
    path: m.hashed.onnxFile,
    source: m.hashed.source,
    fileSize: m.hashed.size,
    fileMtime: m.hashed.mtimeMs,
    config: m.config,
    card: m.card,
  })
}

/**
 * What a sidecar says that the stored model does not: the fields the user changed since the
 * import (the same ONNX with new class names or a new label map).
 */
export function sidecarChanges(stored: ModelConfig, sidecar: ModelSidecar | null): string[] {
  if (!sidecar) return []
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
  const changes: string[] = []
  if (sidecar.classNames && !same(sidecar.classNames, stored.classNames)) changes.push('classNames')
  const mapping = sidecar.labelMapping ?? (sidecar.labelMap ? 'explicit' : undefined)
  if (mapping && mapping !== stored.labelMapping) changes.push('labelMapping')
  if (sidecar.labelMap && !same(sidecar.labelMap, stored.labelMap)) changes.push('labelMap')
  if (sidecar.scoreThreshold !== undefined && sidecar.scoreThreshold !== stored.scoreThreshold)
    changes.push('scoreThreshold')
  if (sidecar.maskThreshold !== undefined && sidecar.maskThreshold !== stored.maskThreshold)
    changes.push('maskThreshold')
  if (
    sidecar.preprocess &&
    !same({ ...stored.preprocess, ...sidecar.preprocess }, stored.preprocess)
  )
    changes.push('preprocess')
  return changes
}

export interface AddModelResult {
  model: ModelRecord
  existed: boolean
  /** For an existing model: what its sidecar now says differently (`models:update` applies it). */
  sidecarChanges: string[]
}

export function existingResult(existing: ModelRecord, hashed: HashedSource): AddModelResult {
  return {
    model: existing,
    existed: true,
    sidecarChanges: sidecarChanges(existing.config, hashed.sidecar),
  }
}

/**
 * Reads a model (an .onnx file or an mmdeploy folder), builds its card from the graph and its
 * configuration from what the exporter wrote, and stores it by sha256. Importing the same file
 * twice returns the existing model, saying what a changed sidecar would change. Synchronous:
 * the CLI's; the studio adds models through `addModelInWorker`.
 */
export function addModel(db: Db, source: string, opts: AddModelOptions = {}): AddModelResult {
  const hashed = hashSource(source)
  const existing = modelBySha(db, hashed.sha256)
  if (existing) return existingResult(existing, hashed)
  return {
    model: storeInspected(db, inspectSource(hashed, opts)),
    existed: false,
    sidecarChanges: [],
  }
}

/**
 * Applies the sidecar beside an imported model again (class names, label mapping, label map,
 * thresholds, preprocessing): the same ONNX with a new sidecar. Earlier runs keep their results.
 */
export function updateModelFromSidecar(
  db: Db,
  id: number,
): { model: ModelRecord; changed: string[] } {
  const model = getModel(db, id)
  const located = locate(model.source)
  const changed = sidecarChanges(model.config, located.sidecar)
  if (changed.length === 0) return { model, changed }
  const base: ModelConfig = {
    ...model.config,
    sources: model.config.sources.filter((s) => !s.startsWith('overrides from ')),
  }
  const config = applySidecar(base, located.sidecar, located.sidecarFile)
  modelStore(db).setConfig(id, config)
  return { model: getModel(db, id), changed }
}

function defaultName(file: string, card: ModelCard): string {
  const base = path.basename(file).replace(/\.onnx$/, '')
  return card.gcRatioLabel ? `${base} (GC ${card.gcRatioLabel})` : base
}

export function getModel(db: Db, id: number): ModelRecord {
  const model = modelStore(db).get(id)
  if (!model) throw new AppError('NOT_FOUND', `Model ${id} does not exist.`)
  return model
}

export function listModels(db: Db): ModelRecord[] {
  return modelStore(db).list()
}

/** The model a user named: id, name, name without its " (GC r4)" tail, unique prefix, or sha256 prefix. */
export function findModel(db: Db, ref: string): ModelRecord {
  const rows = modelStore(db).names()
  const found = matchByName(rows, ref)
  if ('match' in found) return getModel(db, found.match.id)
  if (found.candidates.length === 0 && /^[0-9a-f]{6,64}$/i.test(ref)) {
    const bySha = rows.filter((r) => r.sha256.startsWith(ref.toLowerCase()))
    if (bySha.length === 1) return getModel(db, bySha[0]!.id)
  }
  throw new AppError(
    'NOT_FOUND',
    found.candidates.length
      ? `"${ref}" matches ${found.candidates.length} models: ${found.candidates.map((c) => `${c.id} "${c.name}"`).join(', ')}. Give its id or its full name.`
      : `No model "${ref}" (give its id, name or sha256 prefix; \`gcstudio model list\` shows them).`,
  )
}

/**
 * Checks that the model file is still the one imported: same size and mtime, or else the same
 * sha256. A researcher who re-exported into the same path must import it as a new model, or
 * earlier runs would silently describe a different network. Returns the file's size and mtime.
 */
export function verifyModelFile(db: Db, m: ModelRecord): FileStamp {
  let stat: fs.Stats
  try {
    stat = fs.statSync(m.path)
  } catch {
    throw new AppError(
      'NOT_FOUND',
      `The model file ${m.path} of "${m.name}" is gone. Put it back or import the model again from its new place.`,
    )
  }
  const now: FileStamp = { size: stat.size, mtimeMs: stat.mtimeMs }
  const stamp = modelStore(db).fileStamp(m.id)
  if (stamp?.size === now.size && stamp.mtimeMs === now.mtimeMs) return now
  const sha256 = sha256File(m.path)
  if (sha256 !== m.sha256) {
    throw new AppError(
      'CONFLICT',
      `The model file ${m.path} changed since "${m.name}" was imported (sha256 ${m.sha256.slice(0, 12)}… then, ${sha256.slice(0, 12)}… now). Import it again as a new model; earlier runs keep describing the old one.`,
    )
  }
  modelStore(db).setFileStamp(m.id, now)
  return now
}

export function removeModel(db: Db, id: number): boolean {
  return modelStore(db).remove(id)
}
