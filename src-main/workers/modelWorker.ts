/**
 * Worker thread entry for model imports and tapped copies (see `core/models/workerClient.ts`):
 * hashing and decoding a model file is seconds of CPU for a large model.
 */
import { parentPort } from 'node:worker_threads'
import { toErrorShape } from '../common/errors'
import { hashSource, inspectSource } from '../core/models/registry'
import { cachedTappedCopy } from '../core/models/taps'
import type { ModelWorkerReply, ModelWorkerRequest } from '../core/models/workerClient'

if (!parentPort) throw new Error('modelWorker must run as a worker thread')
const port = parentPort
const reply = (m: ModelWorkerReply) => port.postMessage(m)

port.on('message', (request: ModelWorkerRequest) => {
  try {
    if (request.type === 'add') {
      const hashed = hashSource(request.source)
      if (request.known.includes(hashed.sha256)) reply({ type: 'known', hashed })
      else reply({ type: 'inspected', inspected: inspectSource(hashed, request.opts) })
    } else {
      reply({ type: 'tapped', ...cachedTappedCopy(request.dataDir, request.sha256, request.path) })
    }
  } catch (err) {
    reply({ type: 'error', error: toErrorShape(err) })
  }
})
