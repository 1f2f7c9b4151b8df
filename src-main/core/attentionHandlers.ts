import type { Handlers } from './dispatcher'
import type { Studio } from './studio'

type AttentionMethod =
  | 'attention:stats'
  | 'attention:compute'
  | 'attention:images'
  | 'attention:grid'
  | 'attention:space'
  | 'attention:tap'

/** The attention analytics methods, spread into the studio's handlers. */
export function attentionHandlers(studio: Studio): Pick<Handlers, AttentionMethod> {
  const a = studio.attention
  return {
    'attention:stats': ({ runId, params }) => a.stats(runId, params),
    'attention:compute': ({ runId, params }) => a.compute(runId, params),
    'attention:images': ({ statsId, block, order, direction, limit }) =>
      a.images(statsId, block, order, direction, limit),
    'attention:grid': ({ runIds, pick, count, blocks }) => a.grid(runIds, pick, count, blocks),
    'attention:space': ({ runId, block }) => a.space(runId, block),
    'attention:tap': ({ runId }) => a.tap(runId),
  }
}
