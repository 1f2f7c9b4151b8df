import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { CocoDataset, CocoResult, IouType } from '../../../src-main/core/eval/cocoData'
import {
  TIDE_MAIN_ERRORS,
  TIDE_SPECIAL_ERRORS,
  type TideErrors,
  evaluateTide,
  formatTideSummary,
} from '../../../src-main/core/eval/tide'
import { fixtureDir, loadFixture } from './fixtures'

interface TideCase {
  name: string
  iouType: IouType
  /** `tide.evaluate(...)` then `get_all_errors()` and `run.ap`, from tidecv 1.0.1 (README.md). */
  tidecv: TideErrors & { summary: string[] }
}

const cases = readdirSync(join(fixtureDir, 'tide'))
  .filter((file) => file.endsWith('.tidecv.json'))
  .sort()
  .map((file) => {
    const c = loadFixture<TideCase>(`tide/${file}`)
    return [c.name, c] as const
  })

describe('TIDE against tidecv', () => {
  it('has the fixtures', () => {
    expect(cases.length).toBeGreaterThanOrEqual(6)
  })

  it.each(cases)('%s', (name, c) => {
    const gt = loadFixture<CocoDataset>(`tide/${name}.gt.json`)
    const dets = loadFixture<CocoResult[]>(`tide/${name}.dets.json`)
    const errors = evaluateTide(gt, dets, c.iouType)!
    expect(errors).not.toBeNull()
    expect(Math.abs(errors.ap50 - c.tidecv.ap50), 'ap50').toBeLessThanOrEqual(1e-6)
    for (const type of TIDE_MAIN_ERRORS) {
      expect(Math.abs(errors.main[type] - c.tidecv.main[type]), type).toBeLessThanOrEqual(1e-6)
    }
    for (const type of TIDE_SPECIAL_ERRORS) {
      expect(Math.abs(errors.special[type] - c.tidecv.special[type]), type).toBeLessThanOrEqual(
        1e-6,
      )
    }
    // summarize() prints "-- run --" and a blank line before, and blank lines after the tables.
    expect(formatTideSummary(errors, c.iouType)).toEqual(c.tidecv.summary.slice(2, 17))
  })
})
