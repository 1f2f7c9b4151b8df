import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CliUsageError } from '../../../src-main/cli/command'
import { exportGtCommand, gtCommand } from '../../../src-main/cli/commands/gt'
import { Studio } from '../../../src-main/core/studio'
import { tempDir } from '../../helpers/fixtures'
import { captureIo } from '../eval/streams'
import { call, imageIds, labelDataset } from './helpers'

let studio: Studio
let dataDir: string
let datasetId: number

beforeAll(async () => {
  dataDir = tempDir()
  studio = Studio.open({ dataDir, host: 'browser' })
  ;({ datasetId } = await labelDataset(studio))
  const [one] = imageIds(studio.db, datasetId)
  await call(studio, 'labels:edit', {
    imageId: one,
    changes: [{ op: 'create', categoryId: 17, bbox: [10, 10, 5, 0] }],
  })
})
afterAll(async () => studio.close())

describe('gcstudio export-gt and gt', () => {
  it('exports the current and an older version as COCO JSON', async () => {
    const cwd = tempDir()
    const io = captureIo(cwd)
    const code = await exportGtCommand.run(
      ['--dataset', String(datasetId), '--out', 'gt.json', '--data-dir', dataDir],
      io,
    )
    expect(code).toBe(0)
    expect(io.out()).toBe(
      `Wrote ground-truth version 2: 2 images, 6 annotations to ${path.join(cwd, 'gt.json')}\n`,
    )
    const doc = JSON.parse(fs.readFileSync(path.join(cwd, 'gt.json'), 'utf8')) as {
      annotations: { id: number; category_id: number; bbox: number[]; area: number }[]
    }
    expect(doc.annotations.at(-1)).toEqual({
      id: 8,
      image_id: 1,
      category_id: 17,
      area: 0,
      bbox: [10, 10, 5, 0],
      iscrowd: 0,
    })
    const old = captureIo(cwd)
    await exportGtCommand.run(
      ['--dataset', String(datasetId), '--version', '1', '--out', 'v1.json', '--data-dir', dataDir],
      old,
    )
    expect(old.out()).toMatch(/^Wrote ground-truth version 1: 2 images, 5 annotations/)
  })

  it('prints the history, the versions and a diff', async () => {
    const io = captureIo(tempDir())
    await gtCommand.run(['history', '--dataset', String(datasetId), '--data-dir', dataDir], io)
    const lines = io.out().trim().split('\n')
    expect(lines[0]).toBe('1 operation(s), newest first:')
    expect(lines[1]).toMatch(
      /^#1 {2}v2 {2}\S+ {2}edit {3}hand {7}one\.png: Created box 6 {2}\(warnings: The box is 5 x 0: its area is 0 and it can never be matched\.\)$/,
    )
    const v = captureIo(tempDir())
    await gtCommand.run(['versions', '--dataset', String(datasetId), '--data-dir', dataDir], v)
    expect(v.out()).toBe(
      'v1: as imported, 0 evaluation(s), frozen by import\nv2 (current): 1 operation(s), 1 annotation edit(s), 0 evaluation(s), frozen by export\n',
    )
    const d = captureIo(tempDir())
    await gtCommand.run(
      ['diff', '--dataset', String(datasetId), '--from', '1', '--to', '2', '--data-dir', dataDir],
      d,
    )
    expect(d.out().split('\n')[0]).toBe(
      'v1 -> v2: 1 added, 0 removed, 0 changed, 0 label map(s) painted',
    )
  })

  it('says what is wrong with the arguments', async () => {
    await expect(gtCommand.run(['log'], captureIo(tempDir()))).rejects.toThrow(CliUsageError)
    await expect(
      exportGtCommand.run(
        ['--dataset', 'nope', '--out', 'x.json', '--data-dir', dataDir],
        captureIo(tempDir()),
      ),
    ).rejects.toThrow('No dataset has the id or name "nope"')
    await expect(
      exportGtCommand.run(
        [
          '--dataset',
          String(datasetId),
          '--version',
          '7',
          '--out',
          'x.json',
          '--data-dir',
          dataDir,
        ],
        captureIo(tempDir()),
      ),
    ).rejects.toThrow(/there is no version 7/)
  })
})
