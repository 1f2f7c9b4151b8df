import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Studio } from '../../../src-main/core/studio'
import { discoverDemoDatasets, discoverDemoModels } from '../../../src-main/core/demo'
import { listDatasets } from '../../../src-main/core/datasets/queries'
import { makeCityscapesFixture, makeCocoFixture, tempDir } from '../../helpers/fixtures'

let studio: Studio | undefined
afterEach(async () => studio?.close())

async function demoDir(): Promise<string> {
  const dir = tempDir()
  fs.mkdirSync(path.join(dir, 'shapes'))
  fs.mkdirSync(path.join(dir, 'streets'))
  await makeCocoFixture(path.join(dir, 'shapes'))
  await makeCityscapesFixture(path.join(dir, 'streets'))
  return dir
}

describe('bundled demo datasets', () => {
  it('are found by layout: COCO instances files and Cityscapes roots', async () => {
    const dir = await demoDir()
    expect(discoverDemoDatasets(dir).map((d) => [d.key, d.request.kind])).toEqual([
      ['shapes/mini', 'coco'],
      ['streets/val', 'cityscapes'],
    ])
    expect(discoverDemoDatasets(path.join(dir, 'none'))).toEqual([])
  })

  it('are imported on the first start of a data folder, and only then', async () => {
    const dir = await demoDir()
    const dataDir = tempDir()
    studio = Studio.open({ dataDir, host: 'browser' })
    expect(await studio.ensureDemoDatasets(dir)).toHaveLength(2)
    const list = listDatasets(studio.db)
    expect(list.map((d) => [d.name, d.isDemo, d.imageCount])).toEqual([
      ['Demo streets val', true, 2],
      ['Demo shapes mini', true, 6],
    ])
    // A user who removes a demo dataset does not get it back at the next start.
    await studio.dispatch('datasets:delete', { id: list[0]!.id })
    await studio.close()
    studio = Studio.open({ dataDir, host: 'browser' })
    expect(await studio.ensureDemoDatasets(dir)).toEqual([])
    expect(listDatasets(studio.db)).toHaveLength(1)
  })
})

describe('bundled demo models', () => {
  it('are found by layout (mmdeploy folders and .onnx files) and imported once', async () => {
    const dir = tempDir()
    const onnx = path.join(import.meta.dirname, '../../fixtures/onnx')
    fs.cpSync(path.join(onnx, 'mmdeploy_det'), path.join(dir, 'detectors', 'gc_r4'), {
      recursive: true,
    })
    fs.mkdirSync(path.join(dir, 'segmenters'))
    fs.copyFileSync(path.join(onnx, 'mmseg_argmax.onnx'), path.join(dir, 'segmenters', 'fcn.onnx'))
    fs.mkdirSync(path.join(dir, 'zoo'))
    fs.writeFileSync(path.join(dir, 'zoo', 'scratch.onnx'), 'not a model')
    expect(discoverDemoModels(dir).map((p) => path.relative(dir, p))).toEqual([
      'detectors/gc_r4',
      'segmenters/fcn.onnx',
    ])
    studio = Studio.open({ dataDir: tempDir(), host: 'browser' })
    expect(studio.ensureDemoModels(dir)).toHaveLength(2)
    expect(studio.ensureDemoModels(dir)).toEqual([])
  })
})
