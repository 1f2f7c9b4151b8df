/**
 * A generated COCO instances file at a chosen scale (train2017 has 118,287 images and 860,001
 * annotations): COCO-style file names, 80 categories with COCO's id gaps, polygon masks. The
 * image files are not written (they show as missing), which is what browsing at scale needs.
 */
import fs from 'node:fs'
import { once } from 'node:events'

export const cocoCategoryIds = [...Array(90).keys()]
  .map((i) => i + 1)
  .filter((i) => ![12, 26, 29, 30, 45, 66, 68, 69, 71, 83].includes(i))

export function rng(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0
    return seed / 2 ** 32
  }
}

/** File name of the generated image `i` (1-based), as COCO writes them. */
export const generatedFileName = (i: number) => `${String(i * 7 + 9).padStart(12, '0')}.jpg`

export async function writeGeneratedCoco(
  file: string,
  images: number,
  annotations: number,
  seed = 42,
): Promise<void> {
  const out = fs.createWriteStream(file)
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain')
  }
  const r = rng(seed)
  await write('{"info":{"description":"generated"},"images":[')
  for (let i = 1; i <= images; i++)
    await write(
      `${i > 1 ? ',' : ''}{"id":${i},"file_name":"${generatedFileName(i)}","height":480,"width":640}`,
    )
  await write('],"annotations":[')
  for (let a = 0; a < annotations; a++) {
    // Every image gets one annotation first, so none is empty; the rest land at random.
    const img = a < images ? a + 1 : 1 + Math.floor(r() * images)
    const cat = cocoCategoryIds[Math.floor(r() * 80)]!
    const x = Math.round(r() * 500)
    const y = Math.round(r() * 380)
    const w = 40 + Math.round(r() * 100)
    const h = 40 + Math.round(r() * 80)
    await write(
      `${a ? ',' : ''}{"id":${a + 1},"image_id":${img},"category_id":${cat},"iscrowd":0,"area":${w * h},"bbox":[${x},${y},${w},${h}],"segmentation":[[${x},${y},${x + w},${y},${x + w},${y + h},${x},${y + h}]]}`,
    )
  }
  await write('],"categories":[')
  await write(
    cocoCategoryIds.map((id) => `{"id":${id},"name":"class${id}","supercategory":"s"}`).join(','),
  )
  await write(']}')
  out.end()
  await once(out, 'finish')
}
