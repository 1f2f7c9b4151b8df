/**
 * Worker thread for attention analytics (`core/attentionJob.ts`, the PCA of context vectors):
 * reading thousands of maps and projecting thousands of C-dimensional vectors is CPU work that
 * must not stall the Electron main thread or the browser host's event loop. It reads and
 * writes through its own SQLite connection (WAL lets the app keep going).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { toErrorShape } from '../common/errors'
import { computeAttentionStats } from '../core/attentionJob'
import { contextSpace } from '../core/attentionSpace'
import type { AttentionWorkerData, AttentionWorkerMessage } from '../core/attentionAnalytics'
import { openStoreAt } from '../core/store/store'

const data = workerData as AttentionWorkerData
const port = parentPort!
const post = (m: AttentionWorkerMessage) => port.postMessage(m)
const controller = new AbortController()
port.on('message', (m: { type: 'cancel' }) => {
  if (m.type === 'cancel') controller.abort()
})

let lastPost = 0
async function main() {
  const db = openStoreAt(data)
  try {
    const ctx = {
      signal: controller.signal,
      progress(done: number, total: number | null, phase?: string) {
        const now = Date.now()
        if (now - lastPost < 100 && done !== total) return
        lastPost = now
        post({ type: 'progress', done, total, phase: phase ?? '' })
      },
    }
    const request = data.request
    const result =
      request.type === 'stats'
        ? await computeAttentionStats(db, request.runId, request.params, ctx)
        : contextSpace(db, request.runId, request.block)
    post({ type: 'result', result })
  } finally {
    db.close()
  }
}

main().catch((err: unknown) => post({ type: 'error', error: toErrorShape(err) }))
