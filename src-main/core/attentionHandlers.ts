import type { Handlers } from './dispatcher'
import type { JobContext as AttentionJobContext } from './attentionJob'
import type { Studio } from './studio'

type AttentionMethod =
  | 'attention:stats'
  | 'attention:compute'
  | 'attention:images'
  | 'attention:grid'
  | 'attention:space'
  | 'attention:tap'

/**
 * Runs attention work as a job of the studio's job system (progress in the tray, cancel through
 * `jobs:cancel`, a row in the jobs history) and answers with its result when it ends.
 */
function asJob<T>(
  studio: Studio,
  spec: { title: string; runId: number },
  work: (ctx: AttentionJobContext) => Promise<T>,
): Promise<T> {
  return studio.jobs.run({ kind: 'attention', ...spec }, (ctx) =>
    work({
      signal: ctx.signal,
      progress: (done, total, phase) => ctx.progress({ done, total, ...(phase ? { phase } : {}) }),
    }),
  )
}

/** The attention analytics methods, spread into the studio's handlers. */
export function attentionHandlers(studio: Studio): Pick<Handlers, AttentionMethod> {
  const a = studio.attention
  return {
    'attention:stats': ({ runId, params }) => a.stats(runId, params),
    'attention:compute': ({ runId, params }) =>
      a.isStored(runId, params)
        ? a.compute(runId, params)
        : asJob(studio, { title: `Attention statistics of run ${runId}`, runId }, (ctx) =>
            a.compute(runId, params, ctx),
          ),
    'attention:images': ({ statsId, block, order, direction, limit }) =>
      a.images(statsId, block, order, direction, limit),
    'attention:grid': ({ runIds, pick, count, blocks }) => a.grid(runIds, pick, count, blocks),
    'attention:space': ({ runId, block }) => a.space(runId, block),
    'attention:tap': ({ runId }) =>
      asJob(studio, { title: `Attention maps for run ${runId}`, runId }, (ctx) =>
        a.tap(runId, ctx),
      ),
  }
}
