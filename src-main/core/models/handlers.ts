import type { Handlers } from '../dispatcher'
import type { Studio } from '../studio'
import { doctorReport } from '../inference/doctor'
import { updateModelFromSidecar } from './registry'

/** Model maintenance and the inference set-up report. */
export function modelHandlers(
  studio: Studio,
): Pick<Handlers, 'models:update' | 'inference:doctor'> {
  return {
    'models:update': ({ id }) => {
      const { changed } = updateModelFromSidecar(studio.db, id)
      if (changed.length) {
        // Warm engines hold the old label table.
        studio.interactive.pool.forget(id, 'The model was updated.')
        studio.bus.emit('model:changed', { modelId: id })
      }
      return { id, changed }
    },
    'inference:doctor': () => doctorReport(),
  }
}
