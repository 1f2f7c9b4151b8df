import fs from 'node:fs'
import path from 'node:path'
import { AppError } from '../../common/errors'
import { DatasetImportStore } from '../store/datasetImport'
import { datasetStore } from '../store/datasets'
import { imageStore } from '../store/images'
import type { Db } from '../store/store'
import { isInside } from '../paths'
import type { ImportContext } from './importTypes'
import { countWithExamples } from './importTypes'
import { probeImages } from './imageProbe'
import { deleteDatasetTask } from './maintenance'

/**
 * One import's writer: the batched row writes of `DatasetImportStore`, plus what an import does
 * around them (file checks, header reads, removal on cancel). `abort()` removes what it wrote;
 * start-up sweeps rows a crash left in 'importing'.
 */
export class DatasetWriter extends DatasetImportStore {
  /**
   * Flags image files that are not on disk (researchers often import annotations before copying
   * every image): reported with a count and examples, shown in the grid, never fatal.
   */
  async markMissingFiles(
    ctx: ImportContext,
    root: string,
  ): Promise<{ missing: number; examples: string[]; outside: string[] }> {
    this.commit()
    return checkImageFiles(this.db, this.datasetId, root, ctx.signal, (done, total, missing) =>
      ctx.progress({
        phase: 'Checking image files',
        done,
        total,
        unit: 'images',
        detail: `${missing} missing`,
      }),
    )
  }

  /** Reads image headers (EXIF orientation, colour space) for datasets small enough to do it now. */
  async probe(ctx: ImportContext, root: string, warnings: string[]): Promise<void> {
    const rows = this.presentImages()
    if (rows.length > PROBE_AT_IMPORT_LIMIT) {
      warnings.push(
        `Image headers (EXIF orientation, colour space) of the ${rows.length.toLocaleString('en-US')} images are read when each is first shown.`,
      )
      return
    }
    const result = await probeImages(this.db, root, rows, ctx.signal, (done) =>
      ctx.progress({
        phase: 'Reading image headers',
        done,
        total: rows.length,
        unit: 'images',
        detail: '',
      }),
    )
    if (result.unreadable.length > 0) {
      warnings.push(
        `${countWithExamples(result.unreadable.length, rows.length, result.unreadable)} image files could not be decoded; they are flagged in the grid.`,
      )
    }
    if (result.sizeMismatch.length > 0) {
      warnings.push(
        `${countWithExamples(result.sizeMismatch.length, rows.length, result.sizeMismatch)} images have a different size on disk than in the annotations.`,
      )
    }
    if (result.oriented.length > 0) {
      warnings.push(
        `${countWithExamples(result.oriented.length, rows.length, result.oriented)} images carry an EXIF orientation; they are shown and run oriented to match their annotations.`,
      )
    }
  }

  /** Removes everything this import wrote (cancel or failure). */
  async abort(): Promise<void> {
    this.rollback()
    // In chunks of short transactions, like a removal: a cancelled train2017 import must not
    // hold the write lock for seconds while the app and the CLI wait for it.
    datasetStore(this.db).markDeleting(this.datasetId, process.pid)
    await deleteDatasetTask(
      this.db,
      this.datasetId,
    )({
      signal: new AbortController().signal,
      progress: () => {},
    })
  }
}

export const PROBE_AT_IMPORT_LIMIT = 20_000

/**
 * Sets every image's `missing` flag from the disk, both ways (files copied in after the import
 * are found), and the dataset's count. Async file checks in batches: never blocks the loop long.
 */
export async function checkImageFiles(
  db: Db,
  datasetId: number,
  root: string,
  signal: AbortSignal,
  onProgress: (done: number, total: number, missing: number) => void = () => {},
): Promise<{ missing: number; examples: string[]; outside: string[] }> {
  const images = imageStore(db)
  const rows = images.onDisk(datasetId)
  const examples: string[] = []
  const outside: string[] = []
  let realRoot = root
  try {
    realRoot = await fs.promises.realpath(root)
  } catch {
    // An images folder that is not there: every file is missing.
  }
  let missing = 0
  const step = 2000
  for (let start = 0; start < rows.length; start += step) {
    if (signal.aborted) throw new AppError('CANCELLED', 'Cancelled.')
    const slice = rows.slice(start, start + step)
    // A symbolic link that resolves outside the images folder counts as not there: the media
    // service refuses to serve it, as it refuses `..`.
    const exists = await Promise.all(
      slice.map((r) =>
        fs.promises.realpath(path.join(root, r.fileName)).then(
          (real) => {
            if (isInside(realRoot, real)) return true
            if (outside.length < 5) outside.push(r.fileName)
            return false
          },
          () => false,
        ),
      ),
    )
    db.transaction(() => {
      slice.forEach((r, i) => {
        const gone = !exists[i]
        if (gone) {
          missing++
          if (examples.length < 5) examples.push(r.fileName)
        }
        images.setMissing(r.id, gone)
      })
    }).immediate()
    onProgress(Math.min(start + step, rows.length), rows.length, missing)
  }
  datasetStore(db).setMissingCount(datasetId, missing)
  return { missing, examples, outside }
}

/**
 * Start-up: datasets a crashed import left behind are removed. An import still running in
 * another live process (a CLI import beside the app) is left alone.
 */
export function sweepUnfinishedImports(db: Db): number {
  const datasets = datasetStore(db)
  let swept = 0
  for (const r of datasets.inStatus('importing')) {
    if (r.importPid !== null && r.importPid !== process.pid && processAlive(r.importPid)) continue
    datasets.removeImportRows(r.id)
    swept++
  }
  return swept
}

/** Whether a process with this pid exists (EPERM: it does, as another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Resolves a file named by an annotation file, refusing names that escape the images folder. */
export function resolveInside(root: string, fileName: string, where: string): string {
  const full = path.resolve(root, fileName)
  if (!isInside(root, full)) {
    throw new AppError(
      'IMPORT_FAILED',
      `${where}: "${fileName}" points outside the images folder ${root}.`,
    )
  }
  return full
}
