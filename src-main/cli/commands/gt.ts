import path from 'node:path'
import { openCliStudio } from '../dataDir'
import { parseArgs } from 'node:util'
import { AppError } from '../../common/errors'
import { LabelEditor } from '../../core/labels/editor'
import { exportCityscapesGt, exportCocoGt } from '../../core/labels/exportGt'
import { datasetStore } from '../../core/store/datasets'
import { type Db } from '../../core/store/store'
import { CliUsageError, type CliCommand, type CliIo } from '../command'

/** A dataset named by id or by its exact name. */
function datasetId(db: Db, given: string | undefined): number {
  if (!given) throw new CliUsageError('Name the dataset with --dataset (its id or name).')
  const ids = datasetStore(db).idsNamed(given)
  if (ids.length === 0)
    throw new AppError(
      'NOT_FOUND',
      `No dataset has the id or name "${given}" (gcstudio serve lists them).`,
    )
  if (ids.length > 1)
    throw new AppError('CONFLICT', `Several datasets are named "${given}"; give the id instead.`)
  return ids[0]!
}

function positive(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0)
    throw new CliUsageError(`${flag} must be a positive integer, got "${value}".`)
  return n
}

async function withStore<T>(
  dataDir: string | undefined,
  io: CliIo,
  f: (db: Db) => Promise<T>,
): Promise<T> {
  const studio = await openCliStudio(dataDir, io)
  try {
    return await f(studio.db)
  } finally {
    await studio.close()
  }
}

export const exportGtCommand: CliCommand = {
  name: 'export-gt',
  usage: `gcstudio export-gt --dataset D [--version V] --out PATH [--format coco|cityscapes] [--data-dir DIR]

  --dataset   the dataset's id or name
  --version   the ground-truth version (default: the current one; 1 is the file as imported)
  --format    coco (default): PATH is an instances JSON with the file's own ids, new annotations
              numbered after the largest; cityscapes: PATH is a folder receiving
              gtFine/{split}/{city}/*_gtFine_labelIds.png and *_instanceIds.png
  Exporting the current version freezes it: later edits start the next version.`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        dataset: { type: 'string' },
        version: { type: 'string' },
        out: { type: 'string' },
        format: { type: 'string' },
        'data-dir': { type: 'string' },
      },
      strict: true,
    })
    if (!values.out) throw new CliUsageError('export-gt needs --out.')
    const format = values.format ?? 'coco'
    if (format !== 'coco' && format !== 'cityscapes')
      throw new CliUsageError(`--format is coco or cityscapes, got "${format}".`)
    const version = positive(values.version, '--version')
    const out = path.resolve(io.cwd, values.out)
    return withStore(values['data-dir'], io, async (db) => {
      const editor = new LabelEditor(db)
      const id = datasetId(db, values.dataset)
      const ctx = { signal: io.signal, progress: () => {} }
      const r =
        format === 'coco'
          ? await exportCocoGt(editor, id, version, out, ctx)
          : await exportCityscapesGt(editor, id, version, out, ctx)
      io.stdout.write(
        format === 'coco'
          ? `Wrote ground-truth version ${r.version}: ${r.images} images, ${r.annotations} annotations to ${r.path}\n`
          : `Wrote ground-truth version ${r.version}: ${r.files} label-map PNGs of ${r.images} images under ${r.path}\n`,
      )
      return 0
    })
  },
}

export const gtCommand: CliCommand = {
  name: 'gt',
  usage: `gcstudio gt history --dataset D [--limit N] [--json] [--data-dir DIR]
gcstudio gt versions --dataset D [--json]
gcstudio gt diff --dataset D --from A --to B [--json]`,
  async run(argv, io) {
    const [sub, ...rest] = argv
    if (sub !== 'history' && sub !== 'versions' && sub !== 'diff')
      throw new CliUsageError(
        `gt needs a subcommand: history, versions or diff${sub ? ` (got "${sub}")` : ''}.`,
      )
    const { values } = parseArgs({
      args: rest,
      options: {
        dataset: { type: 'string' },
        limit: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        json: { type: 'boolean' },
        'data-dir': { type: 'string' },
      },
      strict: true,
    })
    return withStore(values['data-dir'], io, async (db) => {
      const editor = new LabelEditor(db)
      const id = datasetId(db, values.dataset)
      const print = (value: unknown, text: () => string[]) =>
        io.stdout.write(
          values.json ? `${JSON.stringify(value, null, 1)}\n` : `${text().join('\n')}\n`,
        )
      if (sub === 'history') {
        const h = editor.history({ datasetId: id, limit: positive(values.limit, '--limit') ?? 50 })
        const files = new Map(editor.store.datasetImages(id).map((i) => [i.id, i.file_name]))
        print(h, () => [
          `${h.total} operation(s), newest first${h.total > h.items.length ? ` (${h.items.length} shown; --limit N for more)` : ''}:`,
          ...h.items.map(
            (o) =>
              `#${o.id}  v${o.gtVersion}  ${o.createdAt}  ${o.kind.padEnd(6)} ${o.source.padEnd(10)} ${files.get(o.imageId) ?? o.imageId}: ${o.summary}${o.warnings.length ? `  (warnings: ${o.warnings.join(' ')})` : ''}`,
          ),
        ])
      } else if (sub === 'versions') {
        const v = editor.versions(id)
        print(v, () =>
          v.map(
            (x) =>
              `v${x.version}${x.current ? ' (current)' : ''}: ${x.version === 1 ? 'as imported' : `${x.operations} operation(s), ${x.annotationEdits} annotation edit(s)`}, ${x.evaluations} evaluation(s)${x.frozen ? `, frozen by ${x.frozenBy}` : ', open'}`,
          ),
        )
      } else {
        const from = positive(values.from, '--from')
        const to = positive(values.to, '--to')
        if (from === undefined || to === undefined)
          throw new CliUsageError('gt diff needs --from and --to.')
        const d = editor.diff(id, from, to)
        print(d, () => [
          `v${from} -> v${to}: ${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.labelMaps.length} label map(s) painted`,
          ...d.added.map(
            (a) =>
              `+ ${a.sourceId} image ${a.imageId} category ${a.categoryId} bbox ${a.bbox.join(',')}`,
          ),
          ...d.removed.map(
            (a) =>
              `- ${a.sourceId} image ${a.imageId} category ${a.categoryId} bbox ${a.bbox.join(',')}`,
          ),
          ...d.changed.map(
            (c) => `~ ${c.after.sourceId} image ${c.after.imageId}: ${c.fields.join(', ')}`,
          ),
        ])
      }
      return 0
    })
  },
}
