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

/** The next image's decode, started while the current one runs (possibly from the next batch). */
let prefetched: { item: InferItem; decoding: Promise<DecodedImage> } | null = null

function decodeAhead(item: InferItem | undefined): void {
  if (!item) return
  const decoding = decodeImage(item)
  decoding.catch(() => {})
  prefetched = { item, decoding }
}

function decoded(item: InferItem): Promise<DecodedImage> {
  if (prefetched?.item === item) {
    const { decoding } = prefetched
    prefetched = null
    return decoding
  }
  return decodeImage(item)
}

async function processBatches(): Promise<void> {
  if (busy) return
  busy = true
  try {
    while (queue.length) {
      const { seq, items } = queue.shift()!
      const fail = (imageId: number, err: unknown) =>
        port.post({ type: 'imageError', seq, imageId, message: toErrorShape(err).message })
      // Results whose last step (a label map's PNG encode) is still running beside the next
      // forward pass; all are posted before the batch is reported done.
      const finishing: Promise<void>[] = []
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!
        if (cancelled) break
        // Decode the next image while this one runs: sharp works on libuv's threads, so it
        // overlaps with onnxruntime's forward pass. At a batch's end, the next batch's first.
        const decoding = decoded(item)
        decodeAhead(i + 1 < items.length ? items[i + 1] : queue[0]?.items[0])
        try {
          const { finished } = await runner!.runDeferred(item, await decoding)
          finishing.push(
            finished.then(
              (result) => port.post({ type: 'result', seq, result }),
              (err) => fail(item.imageId, err),
            ),
          )
        } catch (err) {
          fail(item.imageId, err)
        }
      }
      await Promise.all(finishing)
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
