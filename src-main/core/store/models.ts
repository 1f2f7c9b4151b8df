/**
 * The models table: one row per imported ONNX model (by sha256), with its resolved
 * configuration and the card read from its graph. Both JSON columns are parsed here, once per
 * read, into the API's types; services never see a raw row.
 */
import type { Model } from '../../common/api'
import { ModelConfig } from '../../common/models'
import { perDb } from './sql'
import type { Db } from './store'

type ModelCard = Model['card']

interface RawRow {
  id: number
  sha256: string
  name: string
  task: Model['task']
  format: Model['format']
  path: string
  source: string
  file_size: number
  file_mtime: number
  config: string
  card: string
  created_at: string
}

const toModel = (r: RawRow): Model => ({
  id: r.id,
  sha256: r.sha256,
  name: r.name,
  task: r.task,
  format: r.format,
  path: r.path,
  source: r.source,
  config: ModelConfig.parse(JSON.parse(r.config)),
  card: JSON.parse(r.card) as ModelCard,
  createdAt: r.created_at,
})

/** What an import stores: the model, and the file's size and mtime to notice a changed file. */
export interface NewModel {
  sha256: string
  name: string
  path: string
  source: string
  fileSize: number
  fileMtime: number
  config: ModelConfig
  card: ModelCard
}

/** The size and mtime recorded for a model's file when it was last checked. */
export interface FileStamp {
  size: number
  mtimeMs: number
}

/** A model as a user may name it (id, name or sha256 prefix). */
export interface ModelName {
  id: number
  name: string
  sha256: string
}

export class ModelStore {
  readonly #insert
  readonly #get
  readonly #bySha
  readonly #list
  readonly #names
  readonly #shas
  readonly #stamp
  readonly #setStamp
  readonly #setConfig
  readonly #remove

  constructor(db: Db) {
    this.#insert = db.prepare<unknown[], RawRow>(
      `INSERT INTO models (sha256, name, task, format, path, source, file_size, file_mtime, config, card)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    )
    this.#get = db.prepare<[number], RawRow>('SELECT * FROM models WHERE id = ?')
    this.#bySha = db.prepare<[string], RawRow>('SELECT * FROM models WHERE sha256 = ?')
    this.#list = db.prepare<[], RawRow>('SELECT * FROM models ORDER BY id DESC')
    this.#names = db.prepare<[], ModelName>('SELECT id, name, sha256 FROM models')
    this.#shas = db.prepare<[], string>('SELECT sha256 FROM models').pluck()
    this.#stamp = db.prepare<[number], FileStamp>(
      'SELECT file_size AS size, file_mtime AS mtimeMs FROM models WHERE id = ?',
    )
    this.#setStamp = db.prepare<[number, number, number]>(
      'UPDATE models SET file_size = ?, file_mtime = ? WHERE id = ?',
    )
    this.#setConfig = db.prepare<[string, number]>('UPDATE models SET config = ? WHERE id = ?')
    this.#remove = db.prepare<[number]>('DELETE FROM models WHERE id = ?')
  }

  add(m: NewModel): Model {
    return toModel(
      this.#insert.get(
        m.sha256,
        m.name,
        m.config.task,
        m.config.format,
        m.path,
        m.source,
        m.fileSize,
        m.fileMtime,
        JSON.stringify(m.config),
        JSON.stringify(m.card),
      )!,
    )
  }

  get(id: number): Model | null {
    const row = this.#get.get(id)
    return row ? toModel(row) : null
  }

  bySha256(sha256: string): Model | null {
    const row = this.#bySha.get(sha256)
    return row ? toModel(row) : null
  }

  /** Newest first. */
  list(): Model[] {
    return this.#list.all().map(toModel)
  }

  names(): ModelName[] {
    return this.#names.all()
  }

  /** The sha256 of every stored model (an import skips decoding a file the store has). */
  sha256s(): string[] {
    return this.#shas.all()
  }

  fileStamp(id: number): FileStamp | null {
    return this.#stamp.get(id) ?? null
  }

  setFileStamp(id: number, stamp: FileStamp): void {
    this.#setStamp.run(stamp.size, stamp.mtimeMs, id)
  }

  setConfig(id: number, config: ModelConfig): void {
    this.#setConfig.run(JSON.stringify(config), id)
  }

  remove(id: number): boolean {
    return this.#remove.run(id).changes > 0
  }
}

export const modelStore = perDb((db: Db) => new ModelStore(db))
