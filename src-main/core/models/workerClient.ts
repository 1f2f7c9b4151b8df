/**
 * Model work that reads whole files (hashing, decoding, the card, the tapped copy) on a worker
 * thread: a 1 GB model takes seconds of CPU, which must never stall the Electron main thread or
 * the server's event loop. One worker per task, terminated when it answers.
 */
import { Worker } from 'node:worker_threads'
import { AppError, type ErrorShape } from '../../common/errors'
import { builtWorkerPath } from '../paths'
import { modelStore } from '../store/models'
import type { Db } from '../store/store'
import {
  existingResult,
  modelBySha,
  storeInspected,
  type AddModelOptions,
  type AddModelResult,
  type HashedSource,
  type InspectedModel,
  type ModelRecord,
} from './registry'
import type { BlockTaps } from './taps'

export type ModelWorkerRequest =
  | { type: 'add'; source: string; opts: AddModelOptions; known: string[] }
  | { type: 'tap'; dataDir: string; sha256: string; path: string }

export type ModelWorkerReply =
  | { type: 'known'; hashed: HashedSource }
  | { type: 'inspected'; inspected: InspectedModel }
  | { type: 'tapped'; file: string; taps: BlockTaps[] }
  | { type: 'error'; error: ErrorShape }

function inWorker(request: ModelWorkerRequest): Promise<ModelWorkerReply> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(builtWorkerPath('modelWorker'))
    let settled = false
    const finish = (action: () => void) => {
      if (settled) return
      settled = true
      void worker.terminate()
      action()
    }
    worker.on('message', (m: ModelWorkerReply) =>
      finish(() =>
        m.type === 'error' ? reject(new AppError(m.error.code, m.error.message)) : resolve(m),
      ),
    )
    worker.on('error', (err) =>
      finish(() => reject(new AppError('INTERNAL', `The model worker crashed: ${err.message}`))),
    )
    worker.on('exit', (code) =>
      finish(() =>
        reject(
          new AppError('INTERNAL', `The model worker exited (code ${code}) before answering.`),
        ),
      ),
    )
    worker.postMessage(request)
  })
}

/** `addModel` with the reading off this thread; only the store's lookups and insert stay here. */
export async function addModelInWorker(
  db: Db,
  source: string,
  opts: AddModelOptions = {},
): Promise<AddModelResult> {
  const known = modelStore(db).sha256s()
  const reply = await inWorker({ type: 'add', source, opts, known })
  const hashed =
    reply.type === 'known'
      ? reply.hashed
      : reply.type === 'inspected'
        ? reply.inspected.hashed
        : null
  if (!hashed) throw new AppError('INTERNAL', `Unexpected model worker reply ${reply.type}.`)
  // Another import of the same file may have finished meanwhile.
  const existing = modelBySha(db, hashed.sha256)
  if (existing) return existingResult(existing, hashed)
  if (reply.type !== 'inspected')
    throw new AppError('CONFLICT', `The model ${hashed.onnxFile} was removed during its import.`)
  return { model: storeInspected(db, reply.inspected), existed: false, sidecarChanges: [] }
}

/** The tapped copy of a model (see `taps.ts`), built on a worker when it is not cached yet. */
export async function tappedModelInWorker(
  dataDir: string,
  m: ModelRecord,
): Promise<{ file: string; taps: BlockTaps[] }> {
  const reply = await inWorker({ type: 'tap', dataDir, sha256: m.sha256, path: m.path })
  if (reply.type !== 'tapped') throw new AppError('INTERNAL', `Unexpected reply ${reply.type}.`)
  return { file: reply.file, taps: reply.taps }
}
