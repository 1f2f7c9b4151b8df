import path from 'node:path'
import sharp from 'sharp'
import { imageStore, type ImageProbe } from '../store/images'
import type { Db } from '../store/store'

export type { ImageProbe }

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
  rows: { id: number; fileName: string; width: number; height: number }[],
  signal: AbortSignal,
  onProgress: (done: number) => void,
): Promise<{ unreadable: string[]; sizeMismatch: string[]; oriented: string[] }> {
  const images = imageStore(db)
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
      const { probe, orientation } = await probeImageFile(path.join(root, row.fileName), row)
      results.push({ id: row.id, orientation, probe })
      if (probe.error) unreadable.push(row.fileName)
      else {
        const swapped = probe.applyOrientation && orientation !== null && orientation >= 5
        const w = swapped ? probe.storedHeight : probe.storedWidth
        const h = swapped ? probe.storedWidth : probe.storedHeight
        if (w !== row.width || h !== row.height)
          sizeMismatch.push(
            `${row.fileName} (${w}x${h} on disk, ${row.width}x${row.height} annotated)`,
          )
        if (orientation !== null) oriented.push(row.fileName)
      }
      if (++done % 200 === 0) onProgress(done)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  db.transaction(() => {
    for (const r of results) images.setProbe(r.id, r.orientation, r.probe)
  })()
  onProgress(done)
  return { unreadable, sizeMismatch, oriented }
}
