/**
 * Writing a report's files: always to a temporary file beside the target, renamed over it once
 * complete, so an unwritable folder or a full disk leaves nothing half-written under the final
 * name, and the error says which path and what to do.
 */
import fs from 'node:fs'
import path from 'node:path'
import { AppError } from '../../common/errors'

/** A temporary name in the target's folder (rename is atomic only within one file system). */
export const temporaryPath = (target: string): string =>
  path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}.${Date.now().toString(36)}.tmp`,
  )

export function writeFailure(target: string, err: unknown): AppError {
  const code = (err as NodeJS.ErrnoException).code
  const dir = path.dirname(target)
  const why =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? `the disk holding ${dir} is full; free some space or choose another folder`
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? `${dir} is not writable; choose a folder you can write to`
        : code === 'ENOENT' || code === 'ENOTDIR'
          ? `the folder ${dir} does not exist`
          : code === 'EISDIR'
            ? `${target} is a folder; give a file name`
            : (err as Error).message
  return new AppError('IO_ERROR', `Cannot write ${target}: ${why}. Nothing was written there.`)
}

/** Writes `data` to `target` atomically; on any failure removes the temporary file. */
export async function writeFileAtomically(target: string, data: string | Buffer): Promise<void> {
  const tmp = temporaryPath(target)
  try {
    await fs.promises.writeFile(tmp, data)
    await fs.promises.rename(tmp, target)
  } catch (err) {
    await fs.promises.rm(tmp, { force: true }).catch(() => {})
    throw writeFailure(target, err)
  }
}

/**
 * Fails early, before minutes of work, when `target` cannot be written: makes its folder and
 * writes (then removes) a probe file beside it. Root passes `access()` on read-only places.
 */
export async function checkWritable(target: string): Promise<void> {
  const probe = temporaryPath(target)
  try {
    await fs.promises.mkdir(path.dirname(target), { recursive: true })
    await fs.promises.writeFile(probe, '')
  } catch (err) {
    throw writeFailure(target, err)
  } finally {
    await fs.promises.rm(probe, { force: true }).catch(() => {})
  }
}

/** Makes (or checks) an output folder, with the same messages. */
export async function ensureFolder(dir: string): Promise<void> {
  try {
    await fs.promises.mkdir(dir, { recursive: true })
    await fs.promises.access(dir, fs.constants.W_OK)
  } catch (err) {
    throw writeFailure(path.join(dir, '.'), err)
  }
}
