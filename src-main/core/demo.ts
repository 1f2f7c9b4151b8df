import fs from 'node:fs'
import path from 'node:path'
import type { ParsedImportRequest } from './datasets/importer'

export interface DemoDataset {
  /** Stable key recorded in settings so a demo is imported once, and not again after a delete. */
  key: string
  request: ParsedImportRequest
}

/**
 * Finds the bundled demo datasets under resources/demo: a Cityscapes-layout folder (leftImg8bit/
 * and gtFine/) per split, and COCO instances_*.json files with their image folder beside them.
 */
export function discoverDemoDatasets(demoDir: string): DemoDataset[] {
  if (!fs.existsSync(demoDir)) return []
  const found: DemoDataset[] = []
  for (const entry of fs.readdirSync(demoDir).sort()) {
    const dir = path.join(demoDir, entry)
    if (!fs.statSync(dir).isDirectory()) continue
    if (fs.existsSync(path.join(dir, 'leftImg8bit')) && fs.existsSync(path.join(dir, 'gtFine'))) {
      for (const split of fs.readdirSync(path.join(dir, 'leftImg8bit')).sort()) {
        found.push({
          key: `${entry}/${split}`,
          request: { kind: 'cityscapes', root: dir, split, name: `Demo ${entry} ${split}` },
        })
      }
      continue
    }
    const annDirs = [dir, path.join(dir, 'annotations')].filter((d) => fs.existsSync(d))
    for (const annDir of annDirs) {
      for (const f of fs.readdirSync(annDir).sort()) {
        const m = /^instances_(.+)\.json$/.exec(f)
        if (!m) continue
        const split = m[1]!
        const images = [
          path.join(dir, split),
          path.join(dir, 'images', split),
          path.join(dir, 'images'),
        ].find((d) => fs.existsSync(d) && fs.statSync(d).isDirectory())
        if (!images) continue
        found.push({
          key: `${entry}/${split}`,
          request: {
            kind: 'coco',
            annotations: path.join(annDir, f),
            images,
            name: `Demo ${entry} ${split}`,
          },
        })
      }
    }
  }
  return found
}

/**
 * The bundled demo models under models/: every mmdeploy export folder (it holds deploy.json or
 * pipeline.json) and every other .onnx file, found by layout like a user's exports would be.
 * The training recipe's own folder (models/zoo) is not a model.
 */
export function discoverDemoModels(modelsDir: string): string[] {
  const found: string[] = []
  const walk = (dir: string, depth: number) => {
    if (depth > 3 || !fs.existsSync(dir)) return
    const entries = fs
      .readdirSync(dir, { withFileTypes: true })
      .sort((a, b) => a.name.localeCompare(b.name))
    if (
      entries.some((e) => e.isFile() && (e.name === 'deploy.json' || e.name === 'pipeline.json'))
    ) {
      found.push(dir)
      return
    }
    for (const e of entries) {
      const full = path.join(dir, e.name)
      if (e.isDirectory() && e.name !== 'zoo' && e.name !== 'reference' && !e.name.startsWith('.'))
        walk(full, depth + 1)
      else if (e.isFile() && e.name.endsWith('.onnx')) found.push(full)
    }
  }
  walk(modelsDir, 0)
  return found
}
