import { describe, expect, it } from 'vitest'
import { main } from '../../../src-main/cli/index'
import { progressReporter } from '../../../src-main/cli/progress'
import { tempDir } from '../../helpers/fixtures'

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await main(args, {
    stdout: { write: (s: string) => ((out += s), true) } as never,
    stderr: { write: (s: string) => ((err += s), true) } as never,
    env: {},
  })
  return { code, out, err }
}

describe('the CLI as a new user finds it', { timeout: 120_000 }, () => {
  it('a fresh --data-dir gets the demo, and the names a user types work', async () => {
    const dataDir = tempDir()
    const list = await cli(['dataset', 'list', '--data-dir', dataDir])
    expect(list.code).toBe(0)
    expect(list.err).toMatch(/^New data folder .*: importing the demo datasets and models/)
    // The same names as the app gives them (one naming rule: the studio's own).
    expect(list.out).toMatch(
      /^ +2 {2}Demo coco val {2}coco {2}240 images\n +1 {2}Demo cityscapes val/,
    )
    const models = await cli(['model', 'list', '--data-dir', dataDir])
    expect(models.out).toContain('mask-rcnn-gc-r4 (GC r4)')
    expect(models.err).toBe('')

    // "mask-rcnn-gc-r4" is the stored "mask-rcnn-gc-r4 (GC r4)"; "demo coco" a name in any case.
    const run = await cli([
      'infer',
      '--model',
      'mask-rcnn-gc-r4',
      '--dataset',
      'demo coco val',
      '--limit',
      '3',
      '--data-dir',
      dataDir,
    ])
    expect(run.code).toBe(0)
    expect(run.out).toMatch(/^Run 1 done: 3 images done, 0 failed, on cpu/)
    // The bar finishes at 100% with the true totals.
    expect(run.err.trimEnd().split('\n').at(-1)).toMatch(
      /^Run 1 \(cpu\): \[#{24}\] 100% 3 images \/ 3 images/,
    )

    const ambiguous = await cli([
      'infer',
      '--model',
      'mask-rcnn',
      '--dataset',
      '2',
      '--data-dir',
      dataDir,
    ])
    expect(ambiguous.code).toBe(1)
    expect(ambiguous.err).toContain(
      '"mask-rcnn" matches 4 models: 4 "mask-rcnn-baseline", 5 "mask-rcnn-gc-r16 (GC r16)", 6 "mask-rcnn-gc-r4 (GC r4)", 7 "mask-rcnn-gc-r4-torchvision". Give its id or its full name.',
    )
    // A unique prefix is enough; the same data folder is not imported into twice.
    const prefix = await cli([
      'infer',
      '--model',
      'fcn',
      '--dataset',
      'Demo city',
      '--limit',
      '1',
      '--data-dir',
      dataDir,
    ])
    expect(prefix.out).toMatch(/^Run 2 done: 1 images done/)
    expect(prefix.err).not.toMatch(/New data folder/)
  })

  it('--no-demo keeps a new data folder empty', async () => {
    const r = await cli(['dataset', 'list', '--no-demo', '--data-dir', tempDir()])
    expect(r.out).toBe('No datasets yet: gcstudio import coco|cityscapes …\n')
  })

  it('a throttled bar still ends on its last state', () => {
    let text = ''
    const bar = progressReporter({
      stderr: { isTTY: true, columns: 200, write: (s: string) => ((text += s), true) },
    } as never)
    for (let done = 0; done <= 6; done++)
      bar.update({
        phase: 'Run 1',
        done,
        total: 6,
        unit: 'images',
        rate: null,
        etaSeconds: null,
        detail: '',
      })
    bar.end()
    const lines = text
      .split('\r')
      .map((l) => l.trim())
      .filter(Boolean)
    expect(lines.at(-1)).toBe('Run 1: [########################] 100% 6 images / 6 images')
  })
})
