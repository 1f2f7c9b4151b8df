// Parity of the shipped demo models: every model listed in models/manifest.json is loaded
// with onnxruntime-node, fed the reference inputs rebuilt from the shipped val images and the
// manifest's preprocessing, and compared with the PyTorch outputs the recipe stored under
// models/reference/<id>/. Also checks every file's sha256 against the manifest.
//
// Data-driven: nothing about a particular model is written here. The recipe
// (models/zoo/run.py) runs this same file against its candidate manifest, through
// ZOO_MANIFEST, before it publishes models/manifest.json.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as ort from 'onnxruntime-node'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readReferenceArray, type ArrayRef } from '../../helpers/zooReference'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const manifestPath = path.resolve(repoRoot, process.env.ZOO_MANIFEST ?? 'models/manifest.json')

interface Tolerance {
  atol: number
  rtol: number
  /** Share of elements allowed outside atol/rtol (argmax ties on seg boundaries). */
  maxMismatchFraction: number
}

interface ReferenceCase {
  image: string
  decodedRgbSha256: string
  inputName: string
  inputShape: number[]
  outputs: Record<string, ArrayRef & { tolerance: Tolerance }>
}

interface ReferenceIndex {
  model: string
  cases: ReferenceCase[]
}

interface Preprocessing {
  kind: 'mmdeploy' | 'torchvision'
  resize: { keepRatio: boolean; scale: [number, number] }
  normalize: { mean: number[]; std: number[] } | null
  padSizeDivisor: number
  scaleToUnit: boolean
  batchAxis: boolean
}

interface ManifestFile {
  path: string
  sha256: string
  role: string
}

interface ManifestModel {
  id: string
  files: ManifestFile[]
  onnx: { path: string }
  preprocessing: Preprocessing
  reference: string
}

interface Manifest {
  models: ManifestModel[]
}

const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest
// Paths in the manifest are relative to the repository root, so a candidate manifest written
// elsewhere by the recipe points at the same files.
const resolve = (p: string): string => path.resolve(repoRoot, p)

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

async function decodeRgb(file: string): Promise<{ data: Buffer; width: number; height: number }> {
  // rotate() with no angle applies the EXIF orientation; grayscale is expanded to sRGB.
  const { data, info } = await sharp(file)
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true })
  expect(info.channels).toBe(3)
  return { data, width: info.width, height: info.height }
}

/** Rebuild the model input exactly as the recipe's PyTorch preprocessing (float32 math). */
function buildInput(rgb: Buffer, width: number, height: number, pre: Preprocessing): Float32Array {
  const [sw, sh] = pre.resize.scale
  const s = Math.min(
    Math.max(sw, sh) / Math.max(width, height),
    Math.min(sw, sh) / Math.min(width, height),
  )
  const newW = Math.floor(width * s + 0.5)
  const newH = Math.floor(height * s + 0.5)
  // Reference images are chosen so that no resize happens: parity is then exact up to float
  // error, independent of resampling details.
  expect([newW, newH], 'reference image must need no resize').toEqual([width, height])
  const div = pre.padSizeDivisor > 0 ? pre.padSizeDivisor : 1
  const padW = Math.ceil(width / div) * div
  const padH = Math.ceil(height / div) * div
  const out = new Float32Array(3 * padW * padH)
  const plane = padW * padH
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const v = rgb[(y * width + x) * 3 + c] as number
        let f: number
        if (pre.scaleToUnit) {
          f = Math.fround(v / 255)
        } else if (pre.normalize) {
          const mean = Math.fround(pre.normalize.mean[c] as number)
          const std = Math.fround(pre.normalize.std[c] as number)
          f = Math.fround(Math.fround(v - mean) / std)
        } else {
          f = v
        }
        out[c * plane + y * padW + x] = f
      }
    }
  }
  return out
}

function compare(
  name: string,
  got: ort.Tensor,
  ref: Float64Array,
  spec: ArrayRef & { tolerance: Tolerance },
) {
  const dims = got.dims.map(Number)
  const stride = spec.sampleStride ?? 1
  const expectedDims = stride === 1 ? spec.shape : [...spec.shape.slice(0, -2), ...dims.slice(-2)]
  expect(dims, `${name}: shape`).toEqual(expectedDims)
  if (stride !== 1) {
    expect(spec.shape.slice(-2), `${name}: sampled shape`).toEqual(
      dims.slice(-2).map((d) => Math.ceil(d / stride)),
    )
  }
  const data = got.data as Float32Array | BigInt64Array | Int32Array | Uint8Array
  const value = (i: number): number => {
    const v = data[i]
    return typeof v === 'bigint' ? Number(v) : (v as number)
  }
  const h = dims.at(-2) ?? 1
  const w = dims.at(-1) ?? 1
  const sh = Math.ceil(h / stride)
  const sw = Math.ceil(w / stride)
  const outer = ref.length / (sh * sw)
  let bad = 0
  let worst = 0
  for (let o = 0; o < outer; o++) {
    for (let y = 0; y < sh; y++) {
      for (let x = 0; x < sw; x++) {
        const r = ref[(o * sh + y) * sw + x] as number
        const g = value(o * h * w + y * stride * w + x * stride)
        const err = Math.abs(g - r)
        if (!(err <= spec.tolerance.atol + spec.tolerance.rtol * Math.abs(r))) bad++
        worst = Math.max(worst, err)
      }
    }
  }
  const frac = ref.length ? bad / ref.length : 0
  expect(
    frac,
    `${name}: ${bad}/${ref.length} elements outside atol ${spec.tolerance.atol} rtol ${spec.tolerance.rtol} (max abs err ${worst})`,
  ).toBeLessThanOrEqual(spec.tolerance.maxMismatchFraction)
}

describe('demo model zoo manifest', () => {
  it('lists models', () => {
    expect(manifest.models.length).toBeGreaterThan(0)
  })

  for (const model of manifest.models) {
    it(`${model.id}: files match their sha256`, () => {
      for (const f of model.files) {
        expect(sha256(resolve(f.path)), f.path).toBe(f.sha256)
      }
    })
  }
})

for (const model of manifest.models) {
  describe(`${model.id} onnxruntime parity`, () => {
    const refIndexPath = resolve(model.reference)
    const refDir = path.dirname(refIndexPath)
    const index = JSON.parse(readFileSync(refIndexPath, 'utf8')) as ReferenceIndex
    let session: ort.InferenceSession

    beforeAll(async () => {
      session = await ort.InferenceSession.create(resolve(model.onnx.path), {
        intraOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      })
    })

    afterAll(async () => {
      await session?.release()
    })

    for (const c of index.cases) {
      it(`matches PyTorch on ${path.basename(c.image)}`, async () => {
        const { data, width, height } = await decodeRgb(resolve(c.image))
        // The decode must be the one the recipe saw, or a mismatch would blame the model.
        expect(createHash('sha256').update(data).digest('hex'), 'decoded RGB').toBe(
          c.decodedRgbSha256,
        )
        const input = buildInput(data, width, height, model.preprocessing)
        const feeds = { [c.inputName]: new ort.Tensor('float32', input, c.inputShape) }
        const results = await session.run(feeds)
        for (const [name, spec] of Object.entries(c.outputs)) {
          const got = results[name]
          expect(got, `output ${name}`).toBeDefined()
          compare(`${model.id}/${name}`, got as ort.Tensor, readReferenceArray(refDir, spec), spec)
        }
        // Shipped files carry no extra (attention) outputs: exactly the reference outputs.
        expect(Object.keys(results).sort()).toEqual(Object.keys(c.outputs).sort())
      })
    }
  })
}
