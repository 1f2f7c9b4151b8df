// Scripts call `gcstudio eval coco` once per checkpoint, so its start-up is part of every
// evaluation: the built command must load only the evaluation library for it, never the store,
// sharp, onnxruntime, the server or the contract's zod schemas (each costs more start-up than a
// 500-image evaluation). A module-resolution hook records what the real process imports.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../helpers/fixtures'

const root = path.resolve(import.meta.dirname, '../../..')
const gcstudio = path.join(root, 'bin/gcstudio.js')

// Runs in Node's hooks thread: appends every specifier the process resolves to $IMPORTS_LOG.
const hook = `
import { appendFileSync } from 'node:fs'
export async function resolve(specifier, context, next) {
  appendFileSync(process.env.IMPORTS_LOG, specifier + '\\n')
  return next(specifier, context)
}`
const register = `
import { register } from 'node:module'
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}))`

function importsOf(args: string[], dir: string): { status: number | null; imports: string[] } {
  const log = path.join(dir, `imports-${args[0]}.log`)
  writeFileSync(log, '')
  const r = spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(register)}`, gcstudio, ...args],
    { cwd: dir, env: { ...process.env, IMPORTS_LOG: log }, encoding: 'utf8' },
  )
  if (r.status !== 0) throw new Error(`gcstudio ${args.join(' ')} failed: ${r.stderr}`)
  return { status: r.status, imports: readFileSync(log, 'utf8').split('\n').filter(Boolean) }
}

const heavy = ['better-sqlite3', 'sharp', 'onnxruntime-node', 'zod', 'ws', 'protobufjs']

describe.runIf(existsSync(path.join(root, 'out/main/cli.js')))('gcstudio start-up', () => {
  it('eval coco on files loads the evaluation library and none of the studio', () => {
    const dir = tempDir('gcstudio-startup-')
    const gt = {
      images: [{ id: 1, width: 100, height: 100 }],
      categories: [{ id: 1, name: 'disc' }],
      annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [10, 10, 20, 20], area: 400 }],
    }
    const dets = [{ image_id: 1, category_id: 1, bbox: [10, 10, 20, 20], score: 0.9 }]
    writeFileSync(path.join(dir, 'gt.json'), JSON.stringify(gt))
    writeFileSync(path.join(dir, 'dets.json'), JSON.stringify(dets))
    const { imports } = importsOf(
      ['eval', 'coco', '--gt', 'gt.json', '--dets', 'dets.json', '--iou-type', 'bbox'],
      dir,
    )
    // The hook saw the CLI itself, so an empty "heavy" list is not an artefact of a dead hook.
    expect(imports.some((s) => s.endsWith('cli.js'))).toBe(true)
    expect(imports.filter((s) => heavy.includes(s))).toEqual([])
  })

  it('the hook does see a heavy package when a command needs it (dataset list opens the store)', () => {
    const dir = tempDir('gcstudio-startup-')
    const { imports } = importsOf(['dataset', 'list', '--data-dir', dir, '--no-demo'], dir)
    expect(imports).toContain('better-sqlite3')
  })
})
