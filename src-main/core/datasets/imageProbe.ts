import path from 'node:path'
import sharp from 'sharp'
import type { Db } from '../store/store'

export interface ImageProbe {
  format: string | null
  space: string | null
  channels: number | null
  /** Pixel size as stored, before EXIF orientation. */
  storedWidth: number
  storedHeight: number
  /**
   * Whether to apply the EXIF orientation when showing or running this image. Annotation tools
   * label what they display, so annotations are normally in the oriented frame; when the
   * annotation file's width/height match the stored (unrotated) size of a 90-degree orientation,
   * the annotations were made on the raw pixels and the orientation must be ignored.
   */
  applyOrientation: boolean
  /** Served as-is when the browser can show it and nothing needs converting. */
  passthrough: boolean
  error?: string
}

const webFormats = new Set(['jpeg', 'png', 'webp', 'gif'])

export async function probeImageFile(
  file: string,
  annotated: { width: number; height: number },
): Promise<{ probe: ImageProbe; orientation: number | null }> {
  try {
    const m = await sharp(file).metadata()
    const orientation = m.orientation && m.orientation !== 1 ? m.orientation : null
    const w = m.width ?? 0
    const h = m.height ?? 0
    const swaps = orientation !== null && orientation >= 5
    let applyOrientation = orientation !== null
    if (swaps && w === annotated.width && h === annotated.height && w !== h)
      applyOrientation = false
    const space = m.space ?? null
    const passthrough =
      webFormats.has(m.format ?? '') &&
      (space === 'srgb' || space === 'b-w') &&
      orientation === null
    return {
      orientation,
      probe: {
        format: m.format ?? null,
        space,
        channels: m.channels ?? null,
        storedWidth: w,
        storedHeight: h,
        applyOrientation,
        passthrough,
      },
    }
  } catch (err) {
    return {
      orientation: null,
      probe: {
        format: null,
        space: null,
        channels: null,
        storedWidth: 0,
        storedHeight: 0,
        applyOrientation: false,
        passthrough: false,
        error: err instanceof Error ? err.message : String(err),
      },
    }
  }
}

export async function probeImages(
  db: Db,
  root: string,
  rows: { id: number; file_name: string; width: number; height: number }[],
  signal: AbortSignal,
  onProgress: (done: number) => void,
): Promise<{ unreadable: string[]; sizeMismatch: string[]; oriented: string[] }> {
  const update = db.prepare('UPDATE images SET orientation = ?, probe = ? WHERE id = ?')
  const unreadable: string[] = []
  const sizeMismatch: string[] = []
  const oriented: string[] = []
  const concurrency = 8
  let next = 0
  let done = 0
  const results: { id: number; orientation: number | null; probe: ImageProbe }[] = []
  const worker = async () => {
    while (next < rows.length && !signal.aborted) {
      const row = rows[next++]!
      const { probe, orientation } = await probeImageFile(path.join(root, row.file_name), row)
      results.push({ id: row.id, orientation, probe })
      if (probe.error) unreadable.push(row.file_name)
      else {
        const swapped = probe.applyOrientation && orientation !== null && orientation >= 5
        const w = swapped ? probe.storedHeight : probe.storedWidth
        const h = swapped ? probe.storedWidth : probe.storedHeight
        if (w !== row.width || h !== row.height)
          sizeMismatch.push(
            `${row.file_name} (${w}x${h} on disk, ${row.width}x${row.height} annotated)`,
          )
        if (orientation !== null) oriented.push(row.file_name)
      }
      if (++done % 200 === 0) onProgress(done)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  db.transaction(() => {
    for (const r of results) update.run(r.orientation, JSON.stringify(r.probe), r.id)
  })()
  onProgress(done)
  return { unreadable, sizeMismatch, oriented }
}
