import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { evalCommand } from '../../../src-main/cli/commands/eval'
import type { CocoDataset, CocoResult, IouType } from '../../../src-main/core/eval/cocoData'
import {
  TIDE_MAIN_ERRORS,
  TIDE_SPECIAL_ERRORS,
  type TideErrors,
  evaluateTide,
  formatTideSummary,
} from '../../../src-main/core/eval/tide'
import { fixtureDir, loadFixture } from './fixtures'
import { captureIo } from './streams'

interface TideCase {
  name: string
  iouType: IouType
  /** `tide.evaluate(...)` then `get_all_errors()` and `run.ap`, from tidecv 1.0.1 (README.md). */
  /** Set for the studio's own run: ground truth in the repository, its `gcstudio export`. */
  groundTruth?: string
  detections?: string
  tidecv: TideErrors & { summary: string[] }
}

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))

const cases = readdirSync(join(fixtureDir, 'tide'))
  .filter((file) => file.endsWith('.tidecv.json'))
  .sort()
  .map((file) => {
    const c = loadFixture<TideCase>(`tide/${file}`)
    return [c.name, c] as const
  })

describe('TIDE against tidecv', () => {
  it('has the fixtures', () => {
    expect(cases.length).toBeGreaterThanOrEqual(8)
  })

  it.each(cases)('%s', (name, c) => {
    const gt = c.groundTruth
      ? (JSON.parse(readFileSync(join(repoRoot, c.groundTruth), 'utf8')) as CocoDataset)
      : loadFixture<CocoDataset>(`tide/${name}.gt.json`)
    const dets = loadFixture<CocoResult[]>(`tide/${c.detections ?? `${name}.dets.json`}`)
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

describe('gcstudio eval coco --errors', () => {
  const work = mkdtempSync(join(tmpdir(), 'gcstudio-tide-'))
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it.each([['seed2-bbox'], ['seed4-segm']])(
    '%s: prints tidecv summary tables and writes "errors" into the JSON',
    async (name) => {
      const c = cases.find(([n]) => n === name)![1]
      const out = join(work, `${name}.json`)
      const io = captureIo(work)
      const code = await evalCommand.run(
        [
          'coco',
          '--gt',
          join(fixtureDir, `tide/${name}.gt.json`),
          '--dets',
          join(fixtureDir, `tide/${name}.dets.json`),
          '--iou-type',
          c.iouType,
          '--errors',
          '--json',
          out,
        ],
        io,
      )
      expect(code).toBe(0)
      const printed = io.out().split('\n')
      const start = printed.findIndex((line) => line === c.tidecv.summary[2])
      expect(printed.slice(start, start + 15)).toEqual(c.tidecv.summary.slice(2, 17))
      const json = JSON.parse(readFileSync(out, 'utf8')) as { errors: TideErrors; stats: number[] }
      expect(json.stats).toHaveLength(12)
      expect(Object.keys(json.errors)).toEqual(['ap50', 'main', 'special'])
      expect(Object.keys(json.errors.main)).toEqual([...TIDE_MAIN_ERRORS])
      expect(Object.keys(json.errors.special)).toEqual([...TIDE_SPECIAL_ERRORS])
      expect(Math.abs(json.errors.ap50 - c.tidecv.ap50)).toBeLessThanOrEqual(1e-6)
      for (const type of TIDE_MAIN_ERRORS)
        expect(Math.abs(json.errors.main[type] - c.tidecv.main[type]), type).toBeLessThanOrEqual(
          1e-6,
        )
      for (const type of TIDE_SPECIAL_ERRORS)
        expect(
          Math.abs(json.errors.special[type] - c.tidecv.special[type]),
          type,
        ).toBeLessThanOrEqual(1e-6)
    },
  )

  it('without --errors the JSON has no "errors" and nothing TIDE is printed', async () => {
    const out = join(work, 'plain.json')
    const io = captureIo(work)
    const code = await evalCommand.run(
      [
        'coco',
        '--gt',
        join(fixtureDir, 'tide/seed1-bbox.gt.json'),
        '--dets',
        join(fixtureDir, 'tide/seed1-bbox.dets.json'),
        '--iou-type',
        'bbox',
        '--json',
        out,
      ],
      io,
    )
    expect(code).toBe(0)
    expect(io.out()).not.toMatch(/Main Errors/)
    expect(JSON.parse(readFileSync(out, 'utf8'))).not.toHaveProperty('errors')
  })
})
