/**
 * The inference process: onnxruntime's run() blocks its thread for the whole forward pass, so
 * models run here, never in the Electron main process or the server's event loop. A crash here
 * fails the run with a message; the app keeps going and the next run starts a new process.
 * Runs as a Node child process (browser host, CLI) or an Electron utility process.
 */
import { toErrorShape } from '../common/errors'
import { decodeImage, ModelRunner, type DecodedImage } from '../core/inference/runner'
import type { FromWorker, InferItem, ToWorker } from '../core/inference/protocol'

type Port = { post(m: FromWorker): void; onMessage(cb: (m: ToWorker) => void): void }

const electronPort = (
  process as unknown as {
    parentPort?: {
      postMessage(m: unknown): void
      on(e: 'message', cb: (e: { data: unknown }) => void): void
    }
  }
).parentPort
const port: Port = electronPort
  ? {
      post: (m) => electronPort.postMessage(m),
      onMessage: (cb) => electronPort.on('message', (e) => cb(e.data as ToWorker)),
    }
  : {
      post: (m) => process.send!(m),
      onMessage: (cb) => process.on('message', (m) => cb(m as ToWorker)),
    }

let runner: ModelRunner | null = null
let cancelled = false
const queue: { seq: number; items: InferItem[] }[] = []
let busy = false

async function processBatches(): Promise<void> {
  if (busy) return
  busy = true
  try {
    while (queue.length) {
      const { seq, items } = queue.shift()!
      // Decode the next image while the current one runs: sharp works on libuv's threads, so
      // it overlaps with onnxruntime's forward pass.
      let next: Promise<DecodedImage> | null = items.length ? decodeImage(items[0]!) : null
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!
        const decoding = next!
        next = i + 1 < items.length ? decodeImage(items[i + 1]!) : null
        next?.catch(() => {})
        if (cancelled) break
        try {
          const decoded = await decoding
          const result = await runner!.run(item, decoded)
          port.post({ type: 'result', seq, result })
        } catch (err) {
          port.post({
            type: 'imageError',
            seq,
            imageId: item.imageId,
            message: toErrorShape(err).message,
          })
        }
      }
      port.post({ type: 'batchDone', seq, cancelled })
    }
  } finally {
    busy = false
  }
}

port.onMessage((m) => {
  switch (m.type) {
    case 'init':
      cancelled = false
      ModelRunner.create(m.modelPath, m.config, m.taps, m.ep, m.threads, m.labelTable).then(
        (r) => {
          runner = r
          port.post({
            type: 'ready',
            seq: m.seq,
            ep: r.ep,
            inputs: [...r.session.inputNames],
            outputs: [...r.session.outputNames],
            triedEps: r.triedEps,
          })
        },
        (err) => port.post({ type: 'fatal', seq: m.seq, error: toErrorShape(err) }),
      )
      break
    case 'infer':
      cancelled = false
      queue.push({ seq: m.seq, items: m.items })
      void processBatches()
      break
    case 'cancel':
      cancelled = true
      break
    case 'shutdown':
      void runner?.dispose().finally(() => process.exit(0))
      if (!runner) process.exit(0)
      break
  }
})
