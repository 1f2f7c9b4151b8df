import type { Db } from '../store/store'

export interface ImportProgress {
  phase: string
  done: number
  total: number | null
  unit: string
  detail: string
}

export interface ImportContext {
  db: Db
  signal: AbortSignal
  progress(p: ImportProgress): void
  isDemo?: boolean
  /** Told the new dataset's id as soon as its row exists, so a crash can be cleaned up. */
  onDataset?(datasetId: number): void
}

export interface ImportOutcome {
  datasetId: number
  images: number
  annotations: number
  missingImages: number
  warnings: string[]
}

/** Formats "3 of 120 (a.jpg, b.jpg, c.jpg)" for warnings that name examples. */
export function countWithExamples(count: number, total: number, examples: string[]): string {
  const shown = examples.slice(0, 5).join(', ')
  return `${count.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}${shown ? ` (e.g. ${shown})` : ''}`
}
