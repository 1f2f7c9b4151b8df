/**
 * Worker thread running one dataset import: parsing a 450 MB COCO file or decoding thousands
 * of Cityscapes label maps is CPU work that must not stall the Electron main thread or the
 * browser host's event loop. It writes through its own SQLite connection (WAL lets the app keep
 * reading) and talks to the JobManager with the messages below.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { toErrorShape } from '../common/errors'
import { runImport, type ParsedImportRequest } from '../core/datasets/importer'
import type { ImportProgress } from '../core/datasets/importTypes'
import { openStoreAt, type StoreLocation, storeIoError } from '../core/store/store'
import type { ImportWorkerMessage, ImportWorkerCommand } from '../core/jobs'

const data = workerData as StoreLocation & { request: ParsedImportRequest; isDemo: boolean }
const { dataDir, request, isDemo } = data
const port = parentPort!
const post = (m: ImportWorkerMessage) => port.postMessage(m)
const controller = new AbortController()
port.on('message', (m: ImportWorkerCommand) => {
  if (m.type === 'cancel') controller.abort()
})

let lastPost = 0
let latest: ImportProgress | null = null
const progress = (p: ImportProgress) => {
  latest = p
  const now = Date.now()
  if (now - lastPost >= 150) {
    lastPost = now
    post({ type: 'progress', progress: p })
  }
}

async function main() {
  const db = openStoreAt(data)
  try {
    const outcome = await runImport(
      {
        db,
        signal: controller.signal,
        progress,
        isDemo,
        onDataset: (id) => post({ type: 'dataset', datasetId: id }),
      },
      request,
    )
    if (latest) post({ type: 'progress', progress: latest })
    post({ type: 'done', outcome })
  } catch (err) {
    const shape = toErrorShape(err)
    post({
      type: 'error',
      error: shape.code === 'INTERNAL' ? storeIoError(err, dataDir).toShape() : shape,
    })
  } finally {
    db.close()
  }
}

void main()
