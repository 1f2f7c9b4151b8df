import fs from 'node:fs'
import path from 'node:path'
import sharp, { type Sharp } from 'sharp'
import type { MediaKind } from '../common/bridge'
import { AppError } from '../common/errors'
import { cityscapesLabels } from '../common/cityscapesLabels'
import type { Db } from './store/store'
import { isInside } from './paths'
import { probeImageFile } from './datasets/imageProbe'
import { imageStore, type ImageFile, type ImageProbe } from './store/images'
import { readLabelMap } from './datasets/labelMaps'
import { readLabels } from './labels/labelMaps'
import { labelEditStore } from './store/labelEdits'
import { reportStore } from './store/reports'

export interface MediaResponse {
  contentType: string
  body: Buffer
}

const contentTypes: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
}
export const THUMB_SIZE = 256

// Every image and thumbnail is decoded once and then cached on disk, so libvips' own operation
// cache (up to 50 MB by default) only held memory: the server's RSS grew by 40+ MB under a burst
// of thumbnails and never came back.
sharp.cache(false)

/**
 * A counting semaphore with a bounded first-in-first-out queue: sharp runs on libuv's pool, and
 * unbounded thumbnail work starves the API. Served in order, so no request waits out a whole
 * burst behind newer ones (newest-first made the oldest wait 13-15 s under 20 clients); the grid
 * cancels what scrolled away (the client closes the request, the server aborts it here), and a
 * full queue answers at once with a retryable error rather than growing without bound.
 */
export class Limiter {
  #active = 0
  #queue: { start: () => void; fail: (err: Error) => void }[] = []
  constructor(
    private readonly max: number,
    private readonly maxWaiting = 256,
  ) {}

  get waiting(): number {
    return this.#queue.length
  }

  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw new AppError('CANCELLED', 'The request was cancelled.')
    if (this.#active >= this.max) {
      if (this.#queue.length >= this.maxWaiting)
        throw new AppError('IO_ERROR', 'Too many thumbnails are waiting; try again.', {
          retryable: true,
        })
      await new Promise<void>((resolve, reject) => {
        const entry = {
          start: () => {
            signal?.removeEventListener('abort', onAbort)
            resolve()
          },
          fail: reject,
        }
        const onAbort = () => {
          const k = this.#queue.indexOf(entry)
          if (k >= 0) this.#queue.splice(k, 1)
          reject(new AppError('CANCELLED', 'The request was cancelled.'))
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        this.#queue.push(entry)
      })
    }
    this.#active++
    try {
      return await task()
    } finally {
      this.#active--
      this.#queue.shift()?.start()
    }
  }
}

/**
 * Serves images, thumbnails and ground-truth overlays by id. The renderer never names a file:
 * ids resolve to paths through the store, and paths are checked to stay inside their dataset.
 * Derived files are cached on disk under the data folder, per dataset.
 */
export class MediaService {
  #limiter = new Limiter(3)
  #inflight = new Map<
    string,
    { promise: Promise<MediaResponse>; waiters: number; abort: AbortController }
  >()

  constructor(
    private readonly db: Db,
    private readonly dataDir: string,
  ) {}

  /**
   * One image, thumbnail or overlay. Requests for the same one share the work; `signal` is the
   * client going away, and the work waiting in the queue is dropped once every client that
   * asked for it has gone.
   */
  get(kind: MediaKind, id: number, signal?: AbortSignal): Promise<MediaResponse> {
    const key = `${kind}:${id}`
    let entry = this.#inflight.get(key)
    if (!entry) {
      const abort = new AbortController()
      const promise = (
        kind === 'image'
          ? this.#image(id)
          : kind === 'thumb'
            ? this.#thumb(id, abort.signal)
            : kind === 'report'
              ? this.#report(id)
              : this.#semantic(id)
      ).finally(() => this.#inflight.delete(key))
      entry = { promise, waiters: 0, abort }
      this.#inflight.set(key, entry)
    }
    const shared = entry
    shared.waiters++
    signal?.addEventListener(
      'abort',
      () => {
        if (--shared.waiters === 0) shared.abort.abort()
      },
      { once: true },
    )
    return shared.promise
  }

  /** Thumbnails waiting for a turn (the load benchmark reports it). */
  get thumbnailsWaiting(): number {
    return this.#limiter.waiting
  }

  cacheDir(datasetId: number): string {
    return path.join(this.dataDir, 'cache', String(datasetId))
  }

  #row(id: number): ImageFile {
    const row = imageStore(this.db).file(id)
    if (!row) throw new AppError('NOT_FOUND', `Image ${id} does not exist.`)
    return row
  }

  /** The file behind an image id (for the inference process; never handed to the renderer). */
  filePath(id: number): string {
    return this.#file(this.#row(id))
  }

  #file(row: ImageFile): string {
    return this.#inside(row.id, row.imagesRoot, row.fileName)
  }

  #realRoots = new Map<string, string>()

  /**
   * The file `rel` names under `root`, refused when it leaves the folder by `..` or by a
   * symbolic link (resolved with realpath, as at import): a link in an image folder must not
   * serve /etc/passwd. A file that is not there yet keeps its plain path (reported missing).
   */
  #inside(id: number, root: string, rel: string): string {
    const file = path.resolve(root, rel)
    const refuse = () =>
      new AppError(
        'INVALID_INPUT',
        `Image ${id}'s file resolves outside its dataset folder (a symbolic link to elsewhere?); it is not served.`,
      )
    if (!isInside(root, file)) throw refuse()
    let real: string
    try {
      real = fs.realpathSync(file)
    } catch {
      return file
    }
    let realRoot = this.#realRoots.get(root)
    if (realRoot === undefined) {
      try {
        realRoot = fs.realpathSync(root)
      } catch {
        realRoot = root
      }
      this.#realRoots.set(root, realRoot)
    }
    if (!isInside(realRoot, real)) throw refuse()
    return real
  }

  /** The image's probe, read on first use when the import did not do it (large datasets). */
  async probe(row: ImageFile): Promise<ImageProbe> {
    if (row.probe) return row.probe
    const file = this.#file(row)
    const images = imageStore(this.db)
    if (!fs.existsSync(file)) {
      images.setMissing(row.id, true)
      throw new AppError('NOT_FOUND', `The image file ${file} is missing.`)
    }
    const { probe, orientation } = await probeImageFile(file, row)
    images.setProbeRead(row.id, orientation, probe)
    return probe
  }

  /** A sharp pipeline of the image as the studio shows and runs it (oriented when that applies, sRGB). */
  async pipeline(id: number): Promise<{ image: Sharp; row: ImageFile; probe: ImageProbe }> {
    const row = this.#row(id)
    if (row.missing)
      throw new AppError(
        'NOT_FOUND',
        `The image file ${row.fileName} is missing from ${row.imagesRoot}.`,
      )
    const probe = await this.probe(row)
    if (probe.error)
      throw new AppError('IO_ERROR', `${row.fileName} cannot be decoded: ${probe.error}`)
    let image = sharp(this.#file(row), { failOn: 'error' })
    if (probe.applyOrientation) image = image.rotate()
    return { image: image.toColourspace('srgb'), row, probe }
  }

  async #image(id: number): Promise<MediaResponse> {
    const row = this.#row(id)
    const probe = await this.probe(row)
    if (probe.error)
      throw new AppError('IO_ERROR', `${row.fileName} cannot be decoded: ${probe.error}`)
    if (probe.passthrough) {
      return {
        contentType: contentTypes[probe.format!]!,
        body: await fs.promises.readFile(this.#file(row)),
      }
    }
    const cached = path.join(this.cacheDir(row.datasetId), 'display', `${id}.jpg`)
    return this.#cached(cached, 'image/jpeg', async () => {
      const { image } = await this.pipeline(id)
      return image.jpeg({ quality: 92 }).toBuffer()
    })
  }

  async #thumb(id: number, signal?: AbortSignal): Promise<MediaResponse> {
    const row = this.#row(id)
    const cached = path.join(this.cacheDir(row.datasetId), 'thumbs', `${id}.jpg`)
    return this.#cached(cached, 'image/jpeg', () =>
      this.#limiter.run(async () => {
        const { image } = await this.pipeline(id)
        return image
          .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside', withoutEnlargement: true })
          .jpeg({ quality: 78 })
          .toBuffer()
      }, signal),
    )
  }

  /** The ground-truth label map in the official Cityscapes colours, transparent where unlabeled. */
  async #semantic(id: number): Promise<MediaResponse> {
    const row = this.#row(id)
    if (!row.semanticPath)
      throw new AppError('NOT_FOUND', `Image ${id} has no semantic ground truth.`)
    const file = this.#inside(id, row.source, row.semanticPath)
    // An edited map (label editing) is its own cache entry, so the newest one is always shown.
    const edited = labelEditStore(this.db).currentMapEdit(id)?.after_map ?? null
    const name = edited === null ? `${id}.png` : `${id}-edit${edited}.png`
    const cached = path.join(this.cacheDir(row.datasetId), 'semantic', name)
    return this.#cached(cached, 'image/png', async () => {
      const map =
        edited === null
          ? await readLabelMap(file)
          : await readLabels(labelEditStore(this.db).labelMap(edited)!.label_png)
      return colorizeLabelIds(map.data, map.width, map.height)
    })
  }

  /** A report the studio wrote, by its id in the reports table (never by a path from outside). */
  async #report(id: number): Promise<MediaResponse> {
    const report = reportStore(this.db).get(id)
    if (!report) throw new AppError('NOT_FOUND', `Report ${id} does not exist.`)
    try {
      return {
        contentType: report.format === 'pdf' ? 'application/pdf' : 'text/html; charset=utf-8',
        body: await fs.promises.readFile(report.path),
      }
    } catch {
      throw new AppError('NOT_FOUND', `The file of report ${id} is gone: ${report.path}.`)
    }
  }

  async #cached(
    file: string,
    contentType: string,
    make: () => Promise<Buffer>,
  ): Promise<MediaResponse> {
    try {
      return { contentType, body: await fs.promises.readFile(file) }
    } catch {
      // Not cached yet.
    }
    const body = await make()
    try {
      await fs.promises.mkdir(path.dirname(file), { recursive: true })
      const tmp = `${file}.${process.pid}.tmp`
      await fs.promises.writeFile(tmp, body)
      await fs.promises.rename(tmp, file)
    } catch {
      // A full or read-only disk only costs the cache, not the answer.
    }
    return { contentType, body }
  }

  removeDatasetCache(datasetId: number): void {
    fs.rmSync(this.cacheDir(datasetId), { recursive: true, force: true })
  }
}

const labelPalette: Uint8Array = (() => {
  const p = new Uint8Array(256 * 4)
  for (const l of cityscapesLabels) {
    if (l.id < 0) continue
    p.set([...l.color, l.id <= 3 ? 0 : 255], l.id * 4)
  }
  return p
})()

export async function colorizeLabelIds(
  data: Uint8Array,
  width: number,
  height: number,
): Promise<Buffer> {
  const rgba = new Uint8Array(width * height * 4)
  const pal32 = new Uint32Array(labelPalette.buffer)
  const out32 = new Uint32Array(rgba.buffer)
  for (let i = 0; i < data.length; i++) out32[i] = pal32[data[i]!]!
  return sharp(rgba, { raw: { width, height, channels: 4 } })
    .png({ compressionLevel: 6 })
    .toBuffer()
}
