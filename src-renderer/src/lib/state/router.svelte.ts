/** Hash routes, so reloads and the back button work the same in Electron and the browser. */
export type Route =
  | { name: 'datasets' }
  | { name: 'models'; modelId: number | null }
  | { name: 'runs' }
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
  | { name: 'review'; evaluationId: number }
  /** 2-4 runs on one image, one shared viewport; ← → step through `imageIds` when given. */
  | { name: 'side-by-side'; imageId: number; runIds: number[]; imageIds: number[] | null }

const idList = (s: string | null): number[] =>
  (s ?? '')
    .split(',')
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0)

export function parseRoute(hash: string): Route {
  const [pathPart, query] = hash.replace(/^#/, '').split('?')
  const parts = (pathPart ?? '').split('/').filter(Boolean)
  const params = new URLSearchParams(query ?? '')
  if (parts[0] === 'models') return { name: 'models', modelId: parts[1] ? Number(parts[1]) : null }
  if (parts[0] === 'runs' && parts[2] === 'attention')
    return { name: 'attention', runId: Number(parts[1]) }
  if (parts[0] === 'runs') return { name: 'runs' }
  if (parts[0] === 'compare')
    return {
      name: 'compare',
      comparisonId: parts[1] ? Number(parts[1]) : null,
      imageId: parts[1] && parts[2] === 'images' && parts[3] ? Number(parts[3]) : null,
    }
  if (parts[0] === 'side-by-side') {
    const images = params.get('images')
    return {
      name: 'side-by-side',
      imageId: Number(params.get('image')),
      runIds: idList(params.get('runs')),
      imageIds: images === null ? null : idList(images),
    }
  }
  if (parts[0] === 'review' && parts[1]) return { name: 'review', evaluationId: Number(parts[1]) }
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
    case 'review':
      return `#/review/${r.evaluationId}`
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
    case 'side-by-side':
      return `#/side-by-side?image=${r.imageId}&runs=${r.runIds.join(',')}${r.imageIds ? `&images=${r.imageIds.join(',')}` : ''}`
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
