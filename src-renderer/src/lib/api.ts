/**
 * The only module that knows the transport. In the desktop app the preload provides
 * `window.gcstudio`; in the browser host the same bridge is built over fetch + WebSocket with the
 * session token from the URL. Everything else calls `api.call('domain:verb', input)` with types
 * derived from the contract.
 */
import type {
  AppEvent,
  EventName,
  EventPayload,
  Method,
  MethodInput,
  MethodOutput,
} from '../../../src-main/common/api'
import type { HostBridge, MediaKind } from '../../../src-main/common/bridge'
import type { ErrorShape, Result } from '../../../src-main/common/errors'

declare global {
  interface Window {
    gcstudio?: HostBridge
  }
}

export class ApiError extends Error {
  constructor(readonly shape: ErrorShape) {
    super(shape.message)
  }
  get code() {
    return this.shape.code
  }
}

function browserBridge(): HostBridge {
  const params = new URLSearchParams(location.search)
  const fromUrl = params.get('token')
  if (fromUrl) sessionStorage.setItem('gcstudio-token', fromUrl)
  const token = fromUrl ?? sessionStorage.getItem('gcstudio-token') ?? ''
  const listeners = new Set<(e: AppEvent) => void>()
  let socket: WebSocket | null = null
  let retry = 500
  const connect = () => {
    const ws = new WebSocket(`ws://${location.host}/events?t=${encodeURIComponent(token)}`)
    ws.onmessage = (m) => {
      const event = JSON.parse(String(m.data)) as AppEvent
      for (const l of listeners) l(event)
    }
    ws.onopen = () => (retry = 500)
    ws.onclose = () => {
      socket = null
      setTimeout(connect, (retry = Math.min(retry * 2, 10_000)))
    }
    socket = ws
  }
  connect()
  return {
    async invoke(method, input) {
      const res = await fetch(`/api/${encodeURIComponent(method)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-gcstudio-token': token },
        body: JSON.stringify(input ?? {}),
      })
      return res.json()
    },
    onEvent(listener) {
      listeners.add(listener)
      if (!socket) connect()
      return () => listeners.delete(listener)
    },
    mediaUrl: (kind: MediaKind, id: number) =>
      `/media/${kind}/${id}?t=${encodeURIComponent(token)}`,
  }
}

const bridge: HostBridge = window.gcstudio ?? browserBridge()

export const api = {
  async call<M extends Method>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>> {
    const result = (await bridge.invoke(method, input)) as Result<MethodOutput<M>>
    if (!result.ok) throw new ApiError(result.error)
    return result.value
  },
  on<E extends EventName>(name: E, listener: (payload: EventPayload<E>) => void): () => void {
    return bridge.onEvent((e) => {
      if (e.name === name) listener(e.payload as EventPayload<E>)
    })
  },
  mediaUrl: (kind: MediaKind, id: number) => bridge.mediaUrl(kind, id),
  isDesktop: window.gcstudio !== undefined,
}
