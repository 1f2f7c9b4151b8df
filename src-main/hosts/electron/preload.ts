/**
 * The preload bridge: one small typed object, `window.gcstudio`, never ipcRenderer itself.
 * Runs sandboxed, so it is built as CommonJS and imports only 'electron'.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import type { AppEvent } from '../../common/api'
import { ipcChannels, mediaProtocol, type HostBridge, type MediaKind } from '../../common/bridge'

const bridge: HostBridge = {
  invoke: (method, input) => ipcRenderer.invoke(ipcChannels.invoke, method, input),
  onEvent(listener) {
    const wrapped = (_e: IpcRendererEvent, event: AppEvent) => listener(event)
    ipcRenderer.on(ipcChannels.event, wrapped)
    return () => ipcRenderer.off(ipcChannels.event, wrapped)
  },
  mediaUrl: (kind: MediaKind, id: number) => `${mediaProtocol}://media/${kind}/${id}`,
}

contextBridge.exposeInMainWorld('gcstudio', bridge)
