/**
 * Worker thread running one long dataset task (deleting a dataset, looking for its image files
 * again, exporting a ground-truth version) on its own SQLite connection, so the event loop serving the grid never waits for it.
 * Talks to the JobManager with the same messages as the import worker.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { toErrorShape } from '../common/errors'
import {
  checkFilesTask,
  deleteDatasetTask,
  type DatasetTaskRequest,
  type TaskWorkerMessage,
} from '../core/datasets/maintenance'
import { exportGtTask } from '../core/labels/exportGt'
import { openStoreAt, type StoreLocation, storeIoError } from '../core/store/store'
import type { ImportWorkerCommand } from '../core/jobs'

const data = workerData as StoreLocation & { task: DatasetTaskRequest }
const { dataDir, task } = data
const port = parentPort!
const post = (m: TaskWorkerMessage) => port.postMessage(m)
const controller = new AbortController()
port.on('message', (m: ImportWorkerCommand) => {
  if (m.type === 'cancel') controller.abort()
})

let lastPost = 0
const progress = (done: number, total: number | null, phase = '') => {
  const now = Date.now()
  if (now - lastPost >= 150 || done === total) {
    lastPost = now
    post({ type: 'progress', done, total, phase })
  }
}

async function main() {
  const db = openStoreAt(data)
  try {
    const run =
      task.kind === 'delete'
        ? deleteDatasetTask(db, task.datasetId)
        : task.kind === 'export-gt'
          ? exportGtTask(db, task)
          : checkFilesTask(db, task.datasetId, task.imagesRoot)
    const outcome = await run({ signal: controller.signal, progress })
    post({ type: 'task-done', outcome })
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
