import type { AppEvent, EventName, EventPayload } from '../common/api'

type Listener = (event: AppEvent) => void

/** Main-side events (job progress, dataset changes) that every host forwards to its renderers. */
export class EventBus {
  #listeners = new Set<Listener>()

  emit<E extends EventName>(name: E, payload: EventPayload<E>): void {
    const event = { name, payload } as AppEvent
    for (const l of this.#listeners) {
      try {
        l(event)
      } catch {
        // One broken subscriber (a closed socket) must not stop the others.
      }
    }
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}
