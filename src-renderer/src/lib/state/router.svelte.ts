/** Hash routes, so reloads and the back button work the same in Electron and the browser. */
export type Route =
  | { name: 'datasets' }
  | { name: 'models'; modelId: number | null }
  | { name: 'runs' }
  | { name: 'reports' }
  | { name: 'attention'; runId: number }
  | { name: 'browse'; datasetId: number }
  | {
      name: 'image'
      datasetId: number
      imageId: number
      index: number | null
      /** Show this run's predictions (opened from its evaluation). */
      runId?: number | null
    }
  | { name: 'compare'; comparisonId: number | null; imageId: number | null }

export function parseRoute(hash: string): Route {
  const [pathPart, query] = hash.replace(/^#/, '').split('?')
  const parts = (pathPart ?? '').split('/').filter(Boolean)
  const params = new URLSearchParams(query ?? '')
  if (parts[0] === 'models') return { name: 'models', modelId: parts[1] ? Number(parts[1]) : null }
  if (parts[0] === 'runs' && parts[2] === 'attention')
    return { name: 'attention', runId: Number(parts[1]) }
  if (parts[0] === 'runs') return { name: 'runs' }
  if (parts[0] === 'reports') return { name: 'reports' }
  if (parts[0] === 'compare')
    return {
      name: 'compare',
      comparisonId: parts[1] ? Number(parts[1]) : null,
      imageId: parts[1] && parts[2] === 'images' && parts[3] ? Number(parts[3]) : null,
    }
  if (parts[0] === 'datasets' && parts[1]) {
    const datasetId = Number(parts[1])
    if (parts[2] === 'images' && parts[3]) {
      const index = params.get('i')
      const run = params.get('run')
      return {
        name: 'image',
        datasetId,
        imageId: Number(parts[3]),
        index: index === null ? null : Number(index),
        runId: run === null ? null : Number(run),
      }
    }
    return { name: 'browse', datasetId }
  }
  return { name: 'datasets' }
}

export function formatRoute(r: Route): string {
  switch (r.name) {
    case 'datasets':
      return '#/datasets'
    case 'models':
      return r.modelId === null ? '#/models' : `#/models/${r.modelId}`
    case 'runs':
      return '#/runs'
    case 'reports':
      return '#/reports'
    case 'attention':
      return `#/runs/${r.runId}/attention`
    case 'browse':
      return `#/datasets/${r.datasetId}`
    case 'image': {
      const query = new URLSearchParams()
      if (r.index !== null) query.set('i', String(r.index))
      if (r.runId != null) query.set('run', String(r.runId))
      const q = query.toString()
      return `#/datasets/${r.datasetId}/images/${r.imageId}${q ? `?${q}` : ''}`
    }
    case 'compare':
      return `#/compare${r.comparisonId === null ? '' : `/${r.comparisonId}${r.imageId === null ? '' : `/images/${r.imageId}`}`}`
  }
}

class Router {
  route = $state<Route>(parseRoute(location.hash))

  constructor() {
    window.addEventListener('hashchange', () => (this.route = parseRoute(location.hash)))
  }

  go(r: Route, replace = false): void {
    const hash = formatRoute(r)
    if (replace) history.replaceState(null, '', hash)
    else history.pushState(null, '', hash)
    this.route = r
  }
}

export const router = new Router()
