import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Studio } from '../../../src-main/core/studio'
import type { Model } from '../../../src-main/common/api'
import { main } from '../../../src-main/cli/index'
import { cachedTappedCopy } from '../../../src-main/core/models/taps'
import { tempDir } from '../../helpers/fixtures'
import { torchvisionDetector, writeModel } from '../../helpers/onnxGraphs'

let studio: Studio
let dataDir: string

beforeEach(() => {
  dataDir = tempDir()
  studio = Studio.open({ dataDir, host: 'browser' })
})
afterEach(async () => studio.close())

async function dispatch(method: string, input: unknown) {
  return studio.dispatch(method, input)
}

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = ''
  const sink = { write: (s: string) => ((out += s), true) } as never
  const code = await main(args, { stdout: sink, stderr: sink })
  return { code, out }
}

describe('adding a model from something that is not a regular file', () => {
  it('refuses /dev/zero and a FIFO with a message, instead of reading them for ever', async () => {
    const fifoDir = tempDir()
    const fifo = path.join(fifoDir, 'model.onnx')
    execFileSync('mkfifo', [fifo])
    for (const [source, what] of [
      ['/dev/zero', 'a device'],
      [fifo, 'a named pipe \\(FIFO\\)'],
      // A folder whose one .onnx is a FIFO.
      [fifoDir, 'a named pipe \\(FIFO\\)'],
    ] as const) {
      const r = await dispatch('models:add', { path: source })
      expect(r.ok).toBe(false)
      if (!r.ok) {
        expect(r.error.code).toBe('INVALID_INPUT')
        expect(r.error.message).toMatch(new RegExp(`is ${what}, not a model file`))
      }
    }
    const inspect = await cli(['model', 'inspect', '/dev/zero'])
    expect(inspect.code).toBe(1)
    expect(inspect.out).toMatch(/\/dev\/zero is a device, not a model file/)
  })
})

describe('the same ONNX with a new sidecar', () => {
  it('says what the sidecar changes, and models:update / model add --update apply it', async () => {
    const dir = tempDir()
    const file = writeModel(dir, 'det.onnx', torchvisionDetector({ classes: 3 }), {
      labelMapping: 'index-from-1',
      classNames: ['car', 'cat'],
    })
    const first = await dispatch('models:add', { path: file })
    if (!first.ok) throw new Error(first.error.message)
    const { model } = first.value as { model: Model }
    expect(model.config.classNames).toEqual(['car', 'cat'])

    // Unchanged: nothing to say.
    const same = await dispatch('models:add', { path: file })
    expect(same.ok && same.value).toMatchObject({ existed: true, sidecarChanges: [] })

    // The researcher fixes the class names and the label map in the sidecar.
    fs.writeFileSync(
      path.join(dir, 'det.gcstudio.json'),
      JSON.stringify({ classNames: ['car', 'toothbrush'], labelMap: { '1': 3, '2': 90 } }),
    )
    const again = await dispatch('models:add', { path: file })
    expect(again.ok && again.value).toMatchObject({
      existed: true,
      model: { id: model.id, config: { classNames: ['car', 'cat'] } },
      sidecarChanges: ['classNames', 'labelMapping', 'labelMap'],
    })
    const updated = await dispatch('models:update', { id: model.id })
    expect(updated.ok && updated.value).toEqual({
      id: model.id,
      changed: ['classNames', 'labelMapping', 'labelMap'],
    })
    const now = await dispatch('models:get', { id: model.id })
    expect(now.ok && (now.value as Model).config).toMatchObject({
      classNames: ['car', 'toothbrush'],
      labelMapping: 'explicit',
      labelMap: { '1': 3, '2': 90 },
    })
    expect(
      (now.ok ? (now.value as Model).config.sources : []).filter((s) => s.startsWith('overrides')),
    ).toHaveLength(1)
    expect((await dispatch('models:add', { path: file })).ok).toBe(true)
  })

  it('the CLI says so and --update applies it', async () => {
    const dir = tempDir()
    const file = writeModel(dir, 'det.onnx', torchvisionDetector({ classes: 3 }), {
      classNames: ['car', 'cat'],
    })
    await studio.close()
    expect((await cli(['model', 'add', file, '--data-dir', dataDir])).code).toBe(0)
    fs.writeFileSync(
      path.join(dir, 'det.gcstudio.json'),
      JSON.stringify({ classNames: ['a', 'b'] }),
    )
    const told = await cli(['model', 'add', file, '--data-dir', dataDir])
    expect(told.out).toContain(
      `but its sidecar now differs in classNames; the stored model still uses the old values.\nApply the sidecar with: gcstudio model add ${file} --update`,
    )
    const applied = await cli(['model', 'add', file, '--update', '--data-dir', dataDir])
    expect(applied.out).toMatch(/^Updated model 1 \(det\) from its sidecar: classNames\./)
    studio = Studio.open({ dataDir, host: 'browser' })
    const m = await dispatch('models:get', { id: 1 })
    expect(m.ok && (m.value as Model).config.classNames).toEqual(['a', 'b'])
  })
})

describe('the tapped copy', () => {
  it('is built once per sha256 and then read from the cache, never decoded again', async () => {
    const src = path.join(import.meta.dirname, '../../fixtures/onnx/mmdeploy_det/end2end.onnx')
    const cacheDir = tempDir()
    const first = cachedTappedCopy(cacheDir, 'abc123', src)
    expect(first.taps.map((t) => t.block)).toEqual([0, 1])
    expect(fs.readdirSync(path.join(cacheDir, 'models')).sort()).toEqual([
      'abc123.tapped.onnx',
      'abc123.taps.json',
    ])
    // The source is not even opened the second time.
    const again = cachedTappedCopy(cacheDir, 'abc123', '/nonexistent/model.onnx')
    expect(again).toEqual(first)
  })
})
