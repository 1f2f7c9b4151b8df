/**
 * Places the text labels of boxes so that none hides another: a researcher looking for the
 * competing "day disc 0.49" under a "night disc 0.51" on the same object must be able to read
 * both. Labels keep a fixed screen size while boxes scale, so layout runs in screen pixels on
 * every frame. Greedy by priority (score): the surest label takes its preferred spot, the next
 * ones stack away from the box edge, a step to the right per level so the leader line from the
 * box corner to a moved label stays visible.
 */
export interface LabelRequest {
  key: string
  /** Preferred top-left corner, screen pixels. */
  x: number
  y: number
  width: number
  height: number
  /** Stack direction when the preferred spot is taken: +1 down, -1 up. */
  direction: 1 | -1
  /** Higher places first (a prediction's score). */
  priority: number
}

export interface PlacedLabel {
  key: string
  x: number
  y: number
  width: number
  height: number
  /** True when the label left its preferred spot: draw a leader line to (anchorX, anchorY). */
  moved: boolean
  anchorX: number
  anchorY: number
}

const GAP = 2
const INDENT = 8
const MAX_LEVELS = 12

interface Rect {
  x: number
  y: number
  width: number
  height: number
}

function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
}

export function layoutLabels(requests: readonly LabelRequest[]): PlacedLabel[] {
  const order = [...requests].sort((a, b) => b.priority - a.priority)
  const placed: PlacedLabel[] = []
  for (const r of order) {
    const anchorX = r.x
    const anchorY = r.direction === 1 ? r.y : r.y + r.height
    let spot: Rect | null = null
    let level = 0
    // Away from the box first (its preferred side), then towards it.
    for (const dir of [r.direction, -r.direction]) {
      for (level = dir === r.direction ? 0 : 1; level <= MAX_LEVELS; level++) {
        const candidate = {
          x: r.x + level * INDENT,
          y: r.y + dir * level * (r.height + GAP),
          width: r.width,
          height: r.height,
        }
        if (!placed.some((p) => overlaps(p, candidate))) {
          spot = candidate
          break
        }
      }
      if (spot) break
    }
    // Nowhere free within reach (a crowd of boxes): keep the preferred spot.
    spot ??= { x: r.x, y: r.y, width: r.width, height: r.height }
    placed.push({ key: r.key, ...spot, moved: spot.y !== r.y || spot.x !== r.x, anchorX, anchorY })
  }
  return placed
}
