import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import ort from 'onnxruntime-node'
import sharp from 'sharp'
import { AppError } from '../../common/errors'
import type { ModelConfig } from '../../common/models'
import type { BlockTaps } from '../models/taps'
import { probeImageFile } from '../datasets/imageProbe'
import type { OutTensor } from './adapters'
import { formatSpec, type ModelFormatSpec } from '../models/formats'
import { toFloat16 } from './float16'
import { geometry, resizeBilinearRgb, toTensor, type Geometry } from './preprocess'
import {
  executionProviders,
  type AttentionTap,
  type EpChoice,
  type ExecutionProvider,
  type InferItem,
  type ItemResult,
} from './protocol'

const requireCjs = createRequire(import.meta.url)

export interface DecodedImage {
  rgb: Uint8Array
  width: number
  height: number
}

/** Decodes an image as the studio shows it: oriented when that applies, sRGB, 3 channels. */
export async function decodeImage(item: InferItem): Promise<DecodedImage> {
  let img = sharp(item.file, { failOn: 'error' })
  const orient =
    item.applyOrientation ?? (await probeImageFile(item.file, item)).probe.applyOrientation
  if (orient) img = img.rotate()
  const { data, info } = await img
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
  if (info.channels !== 3)
    throw new AppError('IO_ERROR', `${item.file} decoded to ${info.channels} channels.`)
  return {
    rgb: new Uint8Array(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
  }
}

/**
 * onnxruntime-node ships the CPU provider; CUDA's provider library is installed beside it only
 * when its install script fetched it. Trying CUDA without it just logs a load failure.
 */
function cudaInstalled(): boolean {
  const bin = path.join(
    path.dirname(requireCjs.resolve('onnxruntime-node')),
    '..',
    'bin',
    'napi-v6',
    process.platform,
    process.arch,
  )
  // On Linux the CUDA provider also needs the shared provider bridge beside it.
  return process.platform === 'win32'
    ? fs.existsSync(path.join(bin, 'onnxruntime_providers_cuda.dll'))
    : ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'].every((f) =>
        fs.existsSync(path.join(bin, f)),
      )
}

function platformEps(tried: string[]): ExecutionProvider[] {
  return executionProviders.filter((ep) => {
    if (ep === 'dml') return process.platform === 'win32'
    if (ep === 'coreml') return process.platform === 'darwin'
    if (ep === 'cuda') {
      if (process.platform === 'darwin') return false
      if (!cudaInstalled()) {
        tried.push(
          'cuda: provider library not installed (onnxruntime-node installs it when its install script may download)',
        )
        return false
      }
    }
    return true
  })
}

/**
 * One model loaded in onnxruntime with its adapter: image in, stored-ready result out.
 * Used inside the inference process (and directly by tests).
 */
export class ModelRunner {
  private readonly format: ModelFormatSpec

  private constructor(
    readonly session: ort.InferenceSession,
    readonly ep: ExecutionProvider,
    readonly triedEps: string[],
    private readonly config: ModelConfig,
    private readonly taps: BlockTaps[] | null,
    private readonly labelTable: (number | null)[],
  ) {
    this.format = formatSpec(config.format)
  }

  static async create(
    model: string | Uint8Array,
    config: ModelConfig,
    taps: BlockTaps[] | null,
    choice: EpChoice,
    threads: number,
    labelTable: (number | null)[],
  ): Promise<ModelRunner> {
    const tried: string[] = []
    const order = choice === 'auto' ? platformEps(tried) : [choice]
    for (const ep of order) {
      try {
        // Probing a provider that is not there is expected: keep onnxruntime's logger quiet.
        const options: ort.InferenceSession.SessionOptions = {
          executionProviders: [ep],
          graphOptimizationLevel: 'all',
          logSeverityLevel: ep === 'cpu' ? 2 : 4,
        }
        if (threads > 0) options.intraOpNumThreads = threads
        const session =
          typeof model === 'string'
            ? await ort.InferenceSession.create(model, options)
            : await ort.InferenceSession.create(model, options)
        return new ModelRunner(session, ep, tried, config, taps, labelTable)
      } catch (err) {
        tried.push(`${ep}: ${(err as Error).message.split('\n')[0]}`)
      }
    }
    throw new AppError(
      'INFERENCE_FAILED',
      `No execution provider could load the model. ${tried.join('; ')}`,
    )
  }

  async run(item: InferItem, decoded: DecodedImage): Promise<ItemResult> {
    return (await this.runDeferred(item, decoded)).finished
  }

  /**
   * Preprocessing, the forward pass and the adapters; a label map's PNG encode (sharp, on
   * libuv's threads) is left to finish in `finished`, so the next forward pass can start
   * while it runs.
   */
  async runDeferred(
    item: InferItem,
    decoded: DecodedImage,
  ): Promise<{ finished: Promise<ItemResult> }> {
    const t0 = performance.now()
    const spec = this.config.preprocess
    // The annotated size wins over the decoded one for the geometry only when they agree in
    // orientation; a mismatch is the image's truth, so use what was decoded.
    const g: Geometry = geometry(decoded.width, decoded.height, spec)
    const resized = resizeBilinearRgb(
      decoded.rgb,
      decoded.width,
      decoded.height,
      g.resizedWidth,
      g.resizedHeight,
    )
    const data = toTensor(resized, g, spec)
    const dims =
      this.config.inputRank === 3
        ? [3, g.inputHeight, g.inputWidth]
        : [1, 3, g.inputHeight, g.inputWidth]
    const feeds = { [this.config.inputName]: new ort.Tensor('float32', data, dims) }
    const t1 = performance.now()
    let outputs: Record<string, OutTensor>
    let note: string | null = null
    try {
      outputs = (await this.session.run(feeds)) as unknown as Record<string, OutTensor>
    } catch (err) {
      const message = (err as Error).message
      if (this.format.emptyResultFailure?.(message)) {
        // The exporter's known failure on an image with nothing detected (torchvision's
        // postprocessing on an empty detection list): an empty result, not a failed image.
        outputs = {}
        note = `no detections (the exported graph fails on an empty detection list: ${message.split('\n')[0]!.slice(0, 160)})`
      } else {
        throw new AppError(
          'INFERENCE_FAILED',
          `onnxruntime failed on a ${dims.join('x')} input: ${message.replace(/\s+/g, ' ').trim()}`,
        )
      }
    }
    const t2 = performance.now()
    const labelToCategory = (label: number) =>
      label >= 0 && label < this.labelTable.length ? (this.labelTable[label] ?? null) : null
    const adapterOptions = {
      scoreThreshold: this.config.scoreThreshold,
      maskThreshold: this.config.maskThreshold,
      labelToCategory,
    }
    let detections = null
    let encoding: Promise<Buffer> | null = null
    if (!note) {
      const primary = outputs[this.session.outputNames.find((n) => !this.isTap(n))!]
      const adapted = this.format.adapt(outputs, primary, g, adapterOptions)
      detections = adapted.detections
      if (adapted.labels) {
        const ids = adapted.labels
        for (let i = 0; i < ids.length; i++) ids[i] = labelToCategory(ids[i]!) ?? 0
        encoding = sharp(ids, { raw: { width: g.width, height: g.height, channels: 1 } })
          .toColourspace('b-w')
          .png({ compressionLevel: 6 })
          .toBuffer()
      }
    } else detections = []
    const attention = this.taps && !note ? this.collectTaps(outputs) : null
    const t3 = performance.now()
    const result = (semanticPng: Uint8Array | null, encodeMs: number): ItemResult => ({
      imageId: item.imageId,
      geometry: g,
      detections,
      semanticPng,
      attention,
      timings: { preprocessMs: t1 - t0, inferenceMs: t2 - t1, postprocessMs: t3 - t2 + encodeMs },
      note,
    })
    if (!encoding) return { finished: Promise.resolve(result(null, 0)) }
    return {
      finished: encoding.then((png) => result(new Uint8Array(png), performance.now() - t3)),
    }
  }

  private isTap(name: string): boolean {
    return (
      this.taps?.some((t) => t.attention === name || t.mask === name || t.transform === name) ??
      false
    )
  }

  private collectTaps(outputs: Record<string, OutTensor>): AttentionTap[] {
    return this.taps!.map((t) => {
      const att = outputs[t.attention]
      const mask = outputs[t.mask]
      if (!att || !mask)
        throw new AppError(
          'INFERENCE_FAILED',
          `GC block ${t.block}: its attention outputs are missing from the tapped model.`,
        )
      const h = mask.dims[2]!
      const w = mask.dims[3]!
      const v = att.data as Float32Array
      let min = Infinity
      let max = -Infinity
      for (let i = 0; i < h * w; i++) {
        if (v[i]! < min) min = v[i]!
        if (v[i]! > max) max = v[i]!
      }
      const range = max - min || 1
      const data = new Uint8Array(h * w)
      for (let i = 0; i < h * w; i++) data[i] = Math.round(((v[i]! - min) / range) * 255)
      const tr = outputs[t.transform]?.data as Float32Array | undefined
      const transform = tr ? Uint16Array.from(tr, toFloat16) : null
      // Relative to uniform (p * N): values near 1 keep half precision's 11 significant bits,
      // where raw weights of a large map would fall among the subnormals.
      const weights = new Uint16Array(h * w)
      for (let i = 0; i < h * w; i++) weights[i] = toFloat16(v[i]! * h * w)
      return { block: t.block, height: h, width: w, min, max, data, transform, weights }
    })
  }

  async dispose(): Promise<void> {
    await this.session.release()
  }
}
