import { fork } from 'node:child_process'
import { AppError } from '../../common/errors'
import type { ModelConfig } from '../../common/models'
import type { BlockTaps } from '../models/taps'
import { builtWorkerPath } from '../paths'
import type {
  EpChoice,
  ExecutionProvider,
  FromWorker,
  InferItem,
  ItemResult,
  ToWorker,
} from './protocol'

/** A process that speaks the inference protocol: a Node child process or an Electron utility process. */
export interface ProcessChannel {
  send(m: ToWorker): void
  onMessage(cb: (m: FromWorker) => void): void
  onExit(cb: (code: number | null, signal: string | null) => void): void
  kill(): void
}
export type ProcessLauncher = (script: string) => ProcessChannel

/** Node's child_process.fork with structured-clone messages (typed arrays cross as they are). */
export const forkLauncher: ProcessLauncher = (script) => {
  const child = fork(script, [], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return {
    send: (m) => {
      if (child.connected) child.send(m)
    },
    onMessage: (cb) => child.on('message', (m) => cb(m as FromWorker)),
    onExit: (cb) => child.on('exit', (code, signal) => cb(code, signal)),
    kill: () => child.kill('SIGKILL'),
  }
}

export interface EngineInit {
  modelPath: string
  config: ModelConfig
  taps: BlockTaps[] | null
  ep: EpChoice
  threads: number
  labelTable: (number | null)[]
}

export interface EngineCallbacks {
  onResult(r: ItemResult): void
  onImageError(imageId: number, message: string): void
}

/**
 * The main side's handle on one inference process. Every request carries a sequence number;
 * a process that exits, or stays silent on one image longer than `imageTimeoutMs`, fails the
 * pending request with a message instead of hanging the run.
 */
export class InferenceEngine {
  #channel: ProcessChannel
  #seq = 0
  #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: AppError) => void; callbacks?: EngineCallbacks }
  >()
  #dead: AppError | null = null
  #timer: ReturnType<typeof setTimeout> | null = null
  ep: ExecutionProvider | null = null
  triedEps: string[] = []

  constructor(
    launcher: ProcessLauncher = forkLauncher,
    private readonly imageTimeoutMs = 120_000,
  ) {
    this.#channel = launcher(builtWorkerPath('inferenceProcess'))
    this.#channel.onMessage((m) => this.#onMessage(m))
    this.#channel.onExit((code, signal) => {
      this.#fail(
        new AppError(
          'INFERENCE_FAILED',
          `The inference process stopped unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}).`,
        ),
      )
    })
  }

  get alive(): boolean {
    return this.#dead === null
  }

  #fail(err: AppError): void {
    if (this.#dead) return
    this.#dead = err
    this.#clearTimer()
    for (const p of this.#pending.values()) p.reject(err)
    this.#pending.clear()
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }

  #armTimer(): void {
    this.#clearTimer()
    this.#timer = setTimeout(() => {
      this.#channel.kill()
      this.#fail(
        new AppError(
          'INFERENCE_FAILED',
          `The inference process did not answer for ${Math.round(this.imageTimeoutMs / 1000)} s on one image and was stopped.`,
        ),
      )
    }, this.imageTimeoutMs)
  }

  #onMessage(m: FromWorker): void {
    const p = this.#pending.get(m.seq)
    switch (m.type) {
      case 'ready':
        this.ep = m.ep
        this.triedEps = m.triedEps
        this.#pending.delete(m.seq)
        p?.resolve(m)
        break
      case 'fatal':
        this.#pending.delete(m.seq)
        p?.reject(new AppError(m.error.code, m.error.message))
        break
      case 'result':
        this.#armTimer()
        p?.callbacks?.onResult(m.result)
        break
      case 'imageError':
        this.#armTimer()
        p?.callbacks?.onImageError(m.imageId, m.message)
        break
      case 'batchDone':
        this.#pending.delete(m.seq)
        // Another batch may already be queued in the process: keep watching for a hang.
        if ([...this.#pending.values()].some((q) => q.callbacks)) this.#armTimer()
        else this.#clearTimer()
        p?.resolve(m.cancelled)
        break
    }
  }

  #request<T>(build: (seq: number) => ToWorker, callbacks?: EngineCallbacks): Promise<T> {
    if (this.#dead) return Promise.reject(this.#dead)
    const seq = ++this.#seq
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(seq, {
        resolve: resolve as (v: unknown) => void,
        reject,
        ...(callbacks ? { callbacks } : {}),
      })
      this.#channel.send(build(seq))
    })
  }

  init(init: EngineInit): Promise<{ ep: ExecutionProvider; outputs: string[] }> {
    return this.#request((seq) => ({ type: 'init', seq, ...init }))
  }

  /** Runs a batch; results stream through the callbacks. Resolves to true when cancelled. */
  infer(items: InferItem[], callbacks: EngineCallbacks): Promise<boolean> {
    const p = this.#request<boolean>((seq) => ({ type: 'infer', seq, items }), callbacks)
    this.#armTimer()
    return p
  }

  cancel(): void {
    this.#channel.send({ type: 'cancel' })
  }

  /**
   * Shuts the process down. Requests still waiting for it are rejected at once with `reason`
   * (they used to wait for ever on a process that would never answer them).
   */
  dispose(reason = 'The inference process was shut down before it answered.'): void {
    this.#clearTimer()
    if (!this.#dead) {
      this.#channel.send({ type: 'shutdown' })
      const t = setTimeout(() => this.#channel.kill(), 2000)
      t.unref()
    }
    this.#fail(new AppError('CANCELLED', reason))
  }
}
