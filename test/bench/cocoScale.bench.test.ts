/**
 * COCO train2017 scale: a generated instances file of 118,287 images and 860,001 annotations
 * (polygons of 12-40 vertices, some RLE crowds, 80 categories with COCO's id gaps, categories
 * listed last like the real file), imported by the CLI in its own process. Reports the import
 * rate, peak RSS, and p50/p95 of the grid page query and the image-open query on the result.
 * Run: npm run bench -- cocoScale
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { once } from 'node:events'
import { expect, it } from 'vitest'
import { openStore } from '../../src-main/core/store/store'
import { getCategories, getImage, queryImages } from '../../src-main/core/datasets/queries'
import { BrowseCache } from '../../src-main/core/datasets/browseCache'
import { checkFilesTask, deleteDatasetTask } from '../../src-main/core/datasets/maintenance'
import { packageRoot } from '../../src-main/core/paths'
import { tempDir } from '../helpers/fixtures'
import { percentile, writeReport } from './report'

const IMAGES = Number(process.env.SCALE_IMAGES ?? 118_287)
const ANNOTATIONS = Number(process.env.SCALE_ANNOTATIONS ?? 860_001)
const cocoIds = [...Array(90).keys()]
  .map((i) => i + 1)
  .filter((i) => ![12, 26, 29, 30, 45, 66, 68, 69, 71, 83].includes(i))

function rng(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0
    return seed / 2 ** 32
  }
}

async function generate(file: string): Promise<number> {
  const out = fs.createWriteStream(file)
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain')
  }
  const r = rng(42)
  await write('{"info":{"description":"generated"},"licenses":[],"images":[')
  for (let i = 0; i < IMAGES; i++) {
    await write(
      `${i ? ',' : ''}{"license":1,"file_name":"${String(i + 1).padStart(12, '0')}.jpg","coco_url":"","height":480,"width":640,"date_captured":"2013-11-14 17:02:52","flickr_url":"","id":${i + 1}}`,
    )
  }
  await write('],"annotations":[')
  for (let a = 0; a < ANNOTATIONS; a++) {
    const img = 1 + Math.floor(r() * IMAGES)
    const cat = cocoIds[Math.floor(r() * 80)]!
    const x = r() * 500
    const y = r() * 380
    const w = 10 + r() * 130
    const h = 10 + r() * 90
    let seg: string
    if (a % 100 === 99) {
      seg = `{"counts":[${Math.floor(x) * 480},${Math.floor(w) * 20},${640 * 480 - Math.floor(x) * 480 - Math.floor(w) * 20}],"size":[480,640]}`
    } else {
      const n = 12 + Math.floor(r() * 28)
      const pts: string[] = []
      for (let k = 0; k < n; k++) {
        const t = (k / n) * 2 * Math.PI
        pts.push(
          ((x + w / 2 + (Math.cos(t) * w) / 2) | 0) + '.' + ((r() * 100) | 0),
          ((y + h / 2 + (Math.sin(t) * h) / 2) | 0) + '.' + ((r() * 100) | 0),
        )
      }
      seg = `[[${pts.join(',')}]]`
    }
    await write(
      `${a ? ',' : ''}{"segmentation":${seg},"area":${(w * h * 0.7).toFixed(2)},"iscrowd":${a % 100 === 99 ? 1 : 0},"image_id":${img},"bbox":[${x.toFixed(2)},${y.toFixed(2)},${w.toFixed(2)},${h.toFixed(2)}],"category_id":${cat},"id":${a + 1}}`,
    )
  }
  await write('],"categories":[')
  await write(
    cocoIds.map((id) => `{"supercategory":"thing","id":${id},"name":"class${id}"}`).join(','),
  )
  await write(']}')
  out.end()
  await once(out, 'finish')
  return fs.statSync(file).size
}

it('imports a train2017-sized COCO file with bounded memory and keeps grid queries interactive', async () => {
  const work = tempDir('gcstudio-scale-')
  const file = path.join(work, 'instances_train2017.json')
  const images = path.join(work, 'train2017')
  fs.mkdirSync(images)
  const t0 = Date.now()
  const bytes = await generate(file)
  console.log(
    `generated ${(bytes / 1e6).toFixed(0)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  )

  const dataDir = path.join(work, 'data')
  const started = Date.now()
  const child = spawn(
    process.execPath,
    [
      '--import',
      'data:text/javascript,process.on("exit",()=>process.stderr.write("MAXRSS "+process.resourceUsage().maxRSS+"\\n"))',
      path.join(packageRoot(), 'bin', 'gcstudio.js'),
      'import',
      'coco',
      '--annotations',
      file,
      '--images',
      images,
      '--data-dir',
      dataDir,
      '--no-demo',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  let stdout = ''
  child.stderr.on('data', (d) => (stderr += d))
  child.stdout.on('data', (d) => (stdout += d))
  const [code] = (await once(child, 'exit')) as [number]
  const seconds = (Date.now() - started) / 1000
  expect(code, stderr + stdout).toBe(0)
  const maxRssKb = Number(/MAXRSS (\d+)/.exec(stderr)?.[1])

  const db = openStore(dataDir)
  const datasetId = (db.prepare('SELECT id FROM datasets').get() as { id: number }).id
  const total = (
    db.prepare('SELECT count(*) AS n FROM images WHERE dataset_id = ?').get(datasetId) as {
      n: number
    }
  ).n
  const r = rng(7)
  const time = (fn: () => void) => {
    const s = performance.now()
    fn()
    return performance.now() - s
  }
  const page = Array.from({ length: 200 }, () =>
    time(() => queryImages(db, { datasetId, offset: Math.floor(r() * (total - 200)), limit: 200 })),
  )
  const pageFiltered = Array.from({ length: 100 }, () =>
    time(() =>
      queryImages(db, {
        datasetId,
        offset: Math.floor(r() * 2000),
        limit: 200,
        categoryIds: [cocoIds[Math.floor(r() * 80)]!],
      }),
    ),
  )
  const pageSearch = Array.from({ length: 50 }, () =>
    time(() =>
      queryImages(db, {
        datasetId,
        offset: 0,
        limit: 200,
        search: String(Math.floor(r() * 1000)).padStart(4, '0'),
      }),
    ),
  )
  const imageIds = db
    .prepare('SELECT id FROM images WHERE dataset_id = ? ORDER BY random() LIMIT 500')
    .all(datasetId) as { id: number }[]
  const open = imageIds.map(({ id }) => time(() => getImage(db, id)))
  // What opening a dataset costs now that per-class counts are stored (was an aggregate).
  const categoriesMs = Array.from({ length: 50 }, () => time(() => getCategories(db, datasetId)))
  // File-name search through the in-memory name scan (the server's path): the first search of
  // a term scans the names, further pages of it reuse the match list.
  const names = new BrowseCache()
  const loadNames = time(() => names.search(db, datasetId, 'warm-up'))
  const searchFirst: number[] = []
  const searchNext: number[] = []
  for (let k = 0; k < 50; k++) {
    const term = String(Math.floor(r() * 1000)).padStart(4, '0')
    searchFirst.push(
      time(() => queryImages(db, { datasetId, offset: 0, limit: 200, search: term }, names)),
    )
    searchNext.push(
      time(() => queryImages(db, { datasetId, offset: 200, limit: 200, search: term }, names)),
    )
  }
  // Look for the files again and delete, as the maintenance worker runs them (timed here on
  // this connection): total time and the longest write transaction (what other writers wait).
  const chunks: number[] = []
  const ctx = (into: number[]) => {
    let last = performance.now()
    return {
      signal: new AbortController().signal,
      progress: () => {
        const now = performance.now()
        into.push(now - last)
        last = now
      },
    }
  }
  const recheckStart = performance.now()
  await checkFilesTask(db, datasetId, images)(ctx([]))
  const recheckSeconds = (performance.now() - recheckStart) / 1000
  db.prepare(`UPDATE datasets SET status = 'deleting' WHERE id = ?`).run(datasetId)
  const deleteStart = performance.now()
  await deleteDatasetTask(db, datasetId)(ctx(chunks))
  const deleteSeconds = (performance.now() - deleteStart) / 1000
  db.close()
  const ms = (v: number) => Number(v.toFixed(2))
  writeReport('cocoScale', {
    images: IMAGES,
    annotations: ANNOTATIONS,
    fileMB: Math.round(bytes / 1e6),
    importSeconds: Number(seconds.toFixed(1)),
    annotationsPerSecond: Math.round(ANNOTATIONS / seconds),
    peakRssMB: Math.round(maxRssKb / 1024),
    gridPageQueryMs: { p50: ms(percentile(page, 50)), p95: ms(percentile(page, 95)) },
    gridPageClassFilterMs: {
      p50: ms(percentile(pageFiltered, 50)),
      p95: ms(percentile(pageFiltered, 95)),
    },
    gridPageSearchMs: { p50: ms(percentile(pageSearch, 50)), p95: ms(percentile(pageSearch, 95)) },
    imageOpenQueryMs: { p50: ms(percentile(open, 50)), p95: ms(percentile(open, 95)) },
    datasetsGetCategoriesMs: {
      p50: ms(percentile(categoriesMs, 50)),
      p95: ms(percentile(categoriesMs, 95)),
    },
    searchWithNameIndexMs: {
      loadNamesOnce: ms(loadNames),
      firstPage: { p50: ms(percentile(searchFirst, 50)), p95: ms(percentile(searchFirst, 95)) },
      nextPage: { p50: ms(percentile(searchNext, 50)), p95: ms(percentile(searchNext, 95)) },
    },
    recheckFilesSeconds: Number(recheckSeconds.toFixed(1)),
    deleteSeconds: Number(deleteSeconds.toFixed(1)),
    deleteLongestChunkMs: ms(Math.max(...chunks)),
  })
  if (process.env.SCALE_KEEP) console.log(`kept ${work}`)
  else fs.rmSync(work, { recursive: true, force: true })
})
