/**
 * What a host gives the renderer. Kept free of zod and other imports because the sandboxed
 * Electron preload bundles it.
 */
import type { AppEvent } from './api'

export const mediaKinds = ['image', 'thumb', 'semantic', 'report'] as const
export type MediaKind = (typeof mediaKinds)[number]

/** The Electron preload's `window.gcstudio`; the browser host's transport implements the same. */
export interface HostBridge {
  invoke(method: string, input: unknown): Promise<unknown>
  onEvent(listener: (event: AppEvent) => void): () => void
  /** URL of a media item served by id (image, thumbnail, semantic overlay). */
  mediaUrl(kind: MediaKind, id: number): string
}

/** Electron IPC channel names, declared once for the preload and the main process. */
export const ipcChannels = { invoke: 'gcstudio:invoke', event: 'gcstudio:event' } as const
/** The Electron host's custom protocol for media by id: `gcstudio-media://media/<kind>/<id>`. */
export const mediaProtocol = 'gcstudio-media'
