/**
 * Cityscapes evaluation speed against cityscapesScripts' evalPixelLevelSemanticLabeling.py on the
 * same files, in the same run: full-size (2048 x 1024) generated labelIds / instanceIds / prediction
 * PNGs. Timed from file names to finished scores on both sides (PNG decoding included); the script
 * runs its pure-Python path (its optional Cython extension is not built).
 * Needs the script (CITYSCAPES_SCRIPTS, default /work/ref/cityscapesScripts) for the comparison.
 * Run: npm run bench -- evalCityscapes   (EVAL_BENCH_IMAGES=N, default 12)
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import sharp from 'sharp'
import { expect, it } from 'vitest'
import { evaluateCityscapesDirectories } from '../../src-main/core/eval/cityscapes'
import { encodeLabelPng } from '../../src-main/core/eval/png'
import { tempDir } from '../helpers/fixtures'
import { random } from './evalGenerate'
import { python } from './evalReference'
import { writeReport } from './report'

const IMAGES = Number(process.env.EVAL_BENCH_IMAGES ?? 12)
const scripts = process.env.CITYSCAPES_SCRIPTS ?? '/work/ref/cityscapesScripts'
const W = 2048
const H = 1024

/** Runs evaluateImgLists on the pairs; prints its seconds and mIoU as JSON. */
const scriptRunner = `
import json, sys, time, types
sys.modules.setdefault('pyquaternion', types.SimpleNamespace(Quaternion=object))
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as cs
preds, gts = json.load(open(sys.argv[1]))
cs.args.quiet = True
cs.args.JSONOutput = False
t0 = time.perf_counter()
result = cs.evaluateImgLists(preds, gts, cs.args)
print(json.dumps({'seconds': time.perf_counter() - t0, 'mIoU': result['averageScoreClasses'],
                  'iIoU': result['averageScoreInstClasses'], 'csupport': cs.CSUPPORT}))
`

async function writeImages(dir: string): Promise<{ gts: string[]; preds: string[] }> {
  const rand = random(2048)
  const gtDir = path.join(dir, 'gtFine/val/bench')
  const predDir = path.join(dir, 'pred')
  fs.mkdirSync(gtDir, { recursive: true })
  fs.mkdirSync(predDir, { recursive: true })
  const stuff = [7, 8, 11, 21, 23, 17, 0, 3]
  const things = [24, 25, 26, 27, 33]
  const gts: string[] = []
  const preds: string[] = []
  for (let n = 0; n < IMAGES; n++) {
    const labels = new Uint8Array(W * H)
    const instances = new Uint16Array(W * H)
    // Horizontal bands of stuff, then rectangles of instances.
    for (let y = 0; y < H; y++) {
      const band = stuff[Math.floor((y / H) * stuff.length + rand() * 0.2) % stuff.length]!
      labels.fill(band, y * W, (y + 1) * W)
      for (let x = 0; x < W; x++) instances[y * W + x] = band
    }
    for (let k = 1; k <= 25; k++) {
      const label = things[Math.floor(rand() * things.length)]!
      const w = 20 + Math.floor(rand() * 200)
      const h = 20 + Math.floor(rand() * 200)
      const x0 = Math.floor(rand() * (W - w))
      const y0 = Math.floor(rand() * (H - h))
      for (let y = y0; y < y0 + h; y++) {
        for (let x = x0; x < x0 + w; x++) {
          labels[y * W + x] = label
          instances[y * W + x] = label * 1000 + k
        }
      }
    }
    const prediction = labels.slice()
    for (let i = 0; i < prediction.length; i += 1 + Math.floor(rand() * 40)) {
      prediction[i] = [7, 8, 11, 21, 23, 24, 26][Math.floor(rand() * 7)]!
    }
    const stem = `bench_${String(n).padStart(6, '0')}_000019`
    const gt = path.join(gtDir, `${stem}_gtFine_labelIds.png`)
    fs.writeFileSync(gt, await encodeLabelPng(labels, W, H))
    // 16-bit instanceIds, as Cityscapes ships them (a Uint16Array input is read as 16-bit).
    await sharp(instances, { raw: { width: W, height: H, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toFile(path.join(gtDir, `${stem}_gtFine_instanceIds.png`))
    const pred = path.join(predDir, `${stem}_leftImg8bit.png`)
    fs.writeFileSync(pred, await encodeLabelPng(prediction, W, H))
    gts.push(gt)
    preds.push(pred)
  }
  return { gts, preds }
}

it(`${IMAGES} full-size Cityscapes images against evalPixelLevelSemanticLabeling.py`, async () => {
  const dir = tempDir('gcstudio-evalcityscapes-')
  const { gts, preds } = await writeImages(dir)
  const t0 = performance.now()
  const ours = await evaluateCityscapesDirectories(path.join(dir, 'gtFine'), path.join(dir, 'pred'))
  const oursSeconds = (performance.now() - t0) / 1000
  const results: Record<string, unknown> = {
    images: IMAGES,
    size: `${W}x${H}`,
    loadAverage: os.loadavg().map((v) => Math.round(v * 100) / 100),
    oursSeconds: Math.round(oursSeconds * 1000) / 1000,
    oursMIoU: ours.mIoU,
  }
  const lists = path.join(dir, 'lists.json')
  fs.writeFileSync(lists, JSON.stringify([preds, gts]))
  const run = spawnSync(python, ['-c', scriptRunner, lists], {
    env: { ...process.env, PYTHONPATH: scripts },
    encoding: 'utf8',
  })
  if (run.status === 0) {
    const ref = JSON.parse(run.stdout.trim().split('\n').at(-1)!)
    expect(Math.abs(ours.mIoU! - ref.mIoU)).toBeLessThanOrEqual(1e-9)
    expect(Math.abs(ours.iIoU! - ref.iIoU)).toBeLessThanOrEqual(1e-9)
    Object.assign(results, {
      scriptSeconds: Math.round(ref.seconds * 1000) / 1000,
      scriptCythonPath: ref.csupport,
      ratio: Math.round((ref.seconds / oursSeconds) * 100) / 100,
      identicalWithin1e9: true,
    })
  } else {
    console.warn(`cityscapesScripts not runnable, timing the studio only:\n${run.stderr}`)
  }
  writeReport('evalCityscapes', results)
  fs.rmSync(dir, { recursive: true, force: true })
})
