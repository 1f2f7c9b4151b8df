import path from 'node:path'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const root = path.resolve(import.meta.dirname, '../../..')
const eslint = new ESLint({ cwd: root })

/** Lints `code` as if it were the file at `file` (which need not exist). */
async function layerErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) })
  return result!.messages.filter((m) => m.ruleId === 'layers/import-patterns').map((m) => m.message)
}

// Each case is a one-line fixture placed in a layer: what it imports and whether lint allows it.
const cases: [file: string, code: string, allowed: boolean][] = [
  ['src-main/core/eval/x.ts', `import { Studio } from '../studio'\n`, false],
  ['src-main/core/eval/x.ts', `export { rleIou } from './rle'\n`, true],
  ['src-main/core/eval/x.ts', `const m = await import('../evaluations')\nexport { m }\n`, false],
  [
    'src-main/core/store/x.ts',
    `import { JobManager } from '../jobs'\nexport { JobManager }\n`,
    false,
  ],
  [
    'src-main/core/store/x.ts',
    `import Database from 'better-sqlite3'\nexport { Database }\n`,
    true,
  ],
  [
    'src-main/core/x.ts',
    `import { startServer } from '../hosts/server/serve'\nexport { startServer }\n`,
    false,
  ],
  ['src-main/core/x.ts', `import { app } from 'electron'\nexport { app }\n`, false],
  ['src-main/core/x.ts', `import sharp from 'sharp'\nexport { sharp }\n`, true],
  ['src-main/core/x.ts', `import Database from 'better-sqlite3'\nexport { Database }\n`, false],
  ['src-main/common/x.ts', `import fs from 'node:fs'\nexport { fs }\n`, false],
  ['src-main/common/x.ts', `import { z } from 'zod'\nexport { z }\n`, true],
  [
    'src-renderer/src/x.ts',
    `import { Studio } from '../../src-main/core/studio'\nexport { Studio }\n`,
    false,
  ],
  ['src-renderer/src/x.ts', `import fs from 'node:fs'\nexport { fs }\n`, false],
  [
    'src-renderer/src/x.ts',
    `import type { Job } from '../../src-main/common/api'\nexport type { Job }\n`,
    true,
  ],
  ['src-renderer/src/x.ts', `import * as Plot from '@observablehq/plot'\nexport { Plot }\n`, true],
  ['src-main/workers/x.ts', `import { main } from '../cli/index'\nexport { main }\n`, false],
  ['src-main/core/x.ts', `const name = 'fs'\nexport const m = await import(name)\n`, false],
  ['src-main/core/x.ts', `export const m = require('../cli/index')\n`, false],
]

// SQL outside the store layer: each is a statement a service would run itself.
const sqlCases: [file: string, code: string, allowed: boolean][] = [
  [
    'src-main/core/datasets/x.ts',
    `import type { Db } from '../store/store'\nexport const f = (db: Db) => db.prepare('SELECT 1').get()\n`,
    false,
  ],
  [
    'src-main/cli/commands/x.ts',
    `import type { Studio } from '../../core/studio'\nexport const f = (s: Studio) => s.db.exec('DELETE FROM runs')\n`,
    false,
  ],
  [
    'src-main/core/x.ts',
    `import type { Db } from './store/store'\nexport const f = (db: Db) => db.pragma('shrink_memory')\n`,
    false,
  ],
  [
    'src-main/core/store/x.ts',
    `import type { Db } from './store'\nexport const f = (db: Db) => db.prepare('SELECT 1').get()\n`,
    true,
  ],
  // A regular expression's exec is not SQL; a transaction grouping store calls is allowed.
  ['src-main/core/x.ts', `export const m = /a(b)/.exec('ab')\n`, true],
  [
    'src-main/core/x.ts',
    `import type { Db } from './store/store'\nexport const f = (db: Db, g: () => void) => db.transaction(g)()\n`,
    true,
  ],
]

describe('SQL only in core/store (no-restricted-syntax)', () => {
  it.each(sqlCases)('%s: %j allowed=%s', async (file, code, allowed) => {
    const [result] = await eslint.lintText(code, { filePath: path.join(root, file) })
    const errors = result!.messages.filter((m) => m.ruleId === 'no-restricted-syntax')
    if (allowed) expect(errors).toEqual([])
    else
      expect(errors.map((e) => e.message)).toContain(
        'SQL belongs in src-main/core/store: call (or add) a store module method.',
      )
  })
})

describe('layer allow-lists (eslint layers/import-patterns)', () => {
  it.each(cases)('%s: %j allowed=%s', async (file, code, allowed) => {
    const errors = await layerErrors(file, code)
    if (allowed) expect(errors).toEqual([])
    else expect(errors.length).toBeGreaterThan(0)
  })

  it('names the layer, the import and what the layer may import', async () => {
    const [message] = await layerErrors('src-main/core/eval/x.ts', `import '../studio'\n`)
    expect(message).toContain(
      'src-main/core/eval/ may not import "../studio" (src-main/core/studio)',
    )
    expect(message).toContain('It may import: src-main/common/, src-main/core/eval/')
  })
})
