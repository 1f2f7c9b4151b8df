/**
 * Small datasets generated on the fly for the tests: a COCO folder exercising every form the
 * importer must read (several polygons per object, RLE as a list and as a compressed string,
 * crowd, non-contiguous category ids, EXIF orientation, grayscale and CMYK JPEGs, a missing
 * file) and a Cityscapes folder with labelIds / instanceIds / polygons.json.
 * Images are flat grey so overlay colours can be checked pixel by pixel.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import sharp, { type Sharp } from 'sharp'
import { encodeIdMap } from '../../src-main/core/datasets/segmentation'
import { rleFromUncompressed, rleToString } from '../../src-main/core/eval/rle'

export const GREY = 128

export function tempDir(prefix = 'gcstudio-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

async function greyImage(
  file: string,
  w: number,
  h: number,
  kind: 'png' | 'jpeg' | 'gray-jpeg' | 'cmyk-jpeg' | 'exif6-jpeg',
) {
  const base = sharp({
    create: { width: w, height: h, channels: 3, background: { r: GREY, g: GREY, b: GREY } },
  })
  let out: Sharp
  switch (kind) {
    case 'png':
      out = base.png()
      break
    case 'jpeg':
      out = base.jpeg({ quality: 95 })
      break
    case 'gray-jpeg':
      out = base.toColourspace('b-w').jpeg({ quality: 95 })
      break
    case 'cmyk-jpeg':
      out = base.toColourspace('cmyk').jpeg({ quality: 95 })
      break
    case 'exif6-jpeg':
      // Stored 90 degrees rotated (h x w) with orientation 6: shown as w x h.
      out = sharp({
        create: { width: h, height: w, channels: 3, background: { r: GREY, g: GREY, b: GREY } },
      })
        .jpeg({ quality: 95 })
        .withMetadata({ orientation: 6 })
      break
  }
  await out.toFile(file)
}

/** Column-major run lengths of a rectangle mask inside an h x w image. */
export function rectCounts(
  w: number,
  h: number,
  x0: number,
  y0: number,
  rw: number,
  rh: number,
): number[] {
  const ids = new Uint8Array(w * h)
  for (let y = y0; y < y0 + rh; y++) for (let x = x0; x < x0 + rw; x++) ids[y * w + x] = 1
  return encodeIdMap(ids, w, h, (v) => v === 1).get(1)!.counts
}

export interface CocoFixture {
  root: string
  annotations: string
  images: string
  /** Category ids and names as in the file (non-contiguous). */
  categories: { id: number; name: string }[]
}

export async function makeCocoFixture(dir = tempDir()): Promise<CocoFixture> {
  const images = path.join(dir, 'images')
  fs.mkdirSync(images, { recursive: true })
  fs.mkdirSync(path.join(dir, 'annotations'))
  const W = 64
  const H = 48
  await greyImage(path.join(images, 'a.png'), W, H, 'png')
  await greyImage(path.join(images, 'b.jpg'), W, H, 'jpeg')
  await greyImage(path.join(images, 'gray.jpg'), W, H, 'gray-jpeg')
  await greyImage(path.join(images, 'cmyk.jpg'), W, H, 'cmyk-jpeg')
  await greyImage(path.join(images, 'rotated.jpg'), W, H, 'exif6-jpeg')
  const categories = [
    { id: 3, name: 'car', supercategory: 'vehicle' },
    { id: 17, name: 'cat', supercategory: 'animal' },
    { id: 90, name: 'toothbrush', supercategory: 'indoor' },
  ]
  const crowdCounts = rectCounts(W, H, 30, 20, 20, 15)
  const doc = {
    info: { description: 'GC Studio test fixture' },
    licenses: [],
    images: [
      { id: 10, file_name: 'a.png', width: W, height: H },
      { id: 11, file_name: 'b.jpg', width: W, height: H },
      { id: 12, file_name: 'gray.jpg', width: W, height: H },
      { id: 13, file_name: 'cmyk.jpg', width: W, height: H },
      { id: 14, file_name: 'rotated.jpg', width: W, height: H },
      { id: 15, file_name: 'not-copied-yet.jpg', width: W, height: H },
    ],
    annotations: [
      // a.png: a car as two polygon parts, a cat as one polygon.
      {
        id: 1,
        image_id: 10,
        category_id: 3,
        iscrowd: 0,
        area: 200,
        bbox: [4, 4, 30, 10],
        segmentation: [
          [4, 4, 14, 4, 14, 14, 4, 14],
          [24, 4, 34, 4, 34, 14, 24, 14],
        ],
      },
      {
        id: 2,
        image_id: 10,
        category_id: 17,
        iscrowd: 0,
        area: 300,
        bbox: [40, 20, 20, 20],
        segmentation: [[40, 20, 60, 20, 60, 40, 40, 40]],
      },
      // b.jpg: a crowd region as uncompressed RLE and a toothbrush as compressed RLE.
      {
        id: 3,
        image_id: 11,
        category_id: 3,
        iscrowd: 1,
        area: 300,
        bbox: [30, 20, 20, 15],
        segmentation: { size: [H, W], counts: crowdCounts },
      },
      {
        id: 4,
        image_id: 11,
        category_id: 90,
        iscrowd: 0,
        area: 64,
        bbox: [2, 2, 8, 8],
        segmentation: {
          size: [H, W],
          counts: rleToString(rleFromUncompressed(rectCounts(W, H, 2, 2, 8, 8), H, W)),
        },
      },
      {
        id: 5,
        image_id: 12,
        category_id: 17,
        iscrowd: 0,
        area: 100,
        bbox: [10, 10, 10, 10],
        segmentation: [[10, 10, 20, 10, 20, 20, 10, 20]],
      },
      {
        id: 6,
        image_id: 13,
        category_id: 17,
        iscrowd: 0,
        area: 100,
        bbox: [10, 10, 10, 10],
        segmentation: [[10, 10, 20, 10, 20, 20, 10, 20]],
      },
      {
        id: 7,
        image_id: 14,
        category_id: 3,
        iscrowd: 0,
        area: 100,
        bbox: [10, 10, 10, 10],
        segmentation: [[10, 10, 20, 10, 20, 20, 10, 20]],
      },
    ],
    // Listed last, as in COCO's own files.
    categories,
  }
  const annotations = path.join(dir, 'annotations', 'instances_mini.json')
  fs.writeFileSync(annotations, JSON.stringify(doc))
  return { root: dir, annotations, images, categories }
}

export interface CityscapesFixture {
  root: string
  split: string
  frames: string[]
}

/**
 * Two 64x32 frames of one city. Frame 1: road (7) bottom half, sky (23) top, a car instance
 * (26001) and a person (24000+1), plus a group of cars without instance number (26) and an
 * 'unlabeled' (0) strip. Frame 2: road and building only.
 */
export async function makeCityscapesFixture(dir = tempDir()): Promise<CityscapesFixture> {
  const W = 64
  const H = 32
  const split = 'val'
  const city = 'testcity'
  const imgDir = path.join(dir, 'leftImg8bit', split, city)
  const gtDir = path.join(dir, 'gtFine', split, city)
  fs.mkdirSync(imgDir, { recursive: true })
  fs.mkdirSync(gtDir, { recursive: true })
  const frames = [`${city}_000000_000019`, `${city}_000001_000019`]
  for (let f = 0; f < frames.length; f++) {
    const labels = new Uint8Array(W * H)
    const inst = new Uint16Array(W * H)
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let label = y < H / 2 ? (f === 0 ? 23 : 11) : 7
        let id = label
        if (f === 0) {
          if (x >= 4 && x < 20 && y >= 18 && y < 28) {
            label = 26
            id = 26001
          } else if (x >= 30 && x < 36 && y >= 10 && y < 28) {
            label = 24
            id = 24001
          } else if (x >= 44 && x < 60 && y >= 20 && y < 26) {
            label = 26
            id = 26
          } else if (x < 2) {
            label = 0
            id = 0
          }
        }
        labels[y * W + x] = label
        inst[y * W + x] = id
      }
    }
    await greyImage(path.join(imgDir, `${frames[f]}_leftImg8bit.png`), W, H, 'png')
    await sharp(labels, { raw: { width: W, height: H, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(path.join(gtDir, `${frames[f]}_gtFine_labelIds.png`))
    await sharp(inst, { raw: { width: W, height: H, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toFile(path.join(gtDir, `${frames[f]}_gtFine_instanceIds.png`))
    fs.writeFileSync(
      path.join(gtDir, `${frames[f]}_gtFine_polygons.json`),
      JSON.stringify({
        imgHeight: H,
        imgWidth: W,
        objects: [
          {
            label: 'road',
            polygon: [
              [0, 16],
              [63, 16],
              [63, 31],
              [0, 31],
            ],
          },
        ],
      }),
    )
  }
  return { root: dir, split, frames }
}

/**
 * A COCO dataset of `n` small flat-grey images with one box each: enough images for a run to
 * last a few seconds, so the UI can be watched, cancelled and resumed.
 */
export async function makeBulkCoco(n: number, dir = tempDir()): Promise<CocoFixture> {
  const images = path.join(dir, 'images')
  fs.mkdirSync(images, { recursive: true })
  fs.mkdirSync(path.join(dir, 'annotations'))
  const png = await sharp({
    create: { width: 64, height: 48, channels: 3, background: { r: GREY, g: GREY, b: GREY } },
  })
    .png()
    .toBuffer()
  const categories = [
    { id: 3, name: 'car' },
    { id: 17, name: 'cat' },
    { id: 90, name: 'toothbrush' },
  ]
  const doc = {
    images: Array.from({ length: n }, (_, i) => ({
      id: i + 1,
      file_name: `img${String(i).padStart(5, '0')}.png`,
      width: 64,
      height: 48,
    })),
    annotations: Array.from({ length: n }, (_, i) => ({
      id: i + 1,
      image_id: i + 1,
      category_id: 3,
      iscrowd: 0,
      area: 256,
      bbox: [4, 4, 16, 16],
      segmentation: [[4, 4, 20, 4, 20, 20, 4, 20]],
    })),
    categories,
  }
  for (const im of doc.images) fs.writeFileSync(path.join(images, im.file_name), png)
  const annotations = path.join(dir, 'annotations', 'instances_bulk.json')
  fs.writeFileSync(annotations, JSON.stringify(doc))
  return { root: dir, annotations, images, categories }
}
