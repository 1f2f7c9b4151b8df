import { describe, expect, it } from 'vitest'
import { createDispatcher, type Handlers } from '../../../src-main/core/dispatcher'
import { AppError } from '../../../src-main/common/errors'
import { contract } from '../../../src-main/common/api'

// Handlers that record what reached them: only validated input may.
const seen: unknown[] = []
const handlers = new Proxy({} as Handlers, {
  get: (_t, method: string) => (input: unknown) => {
    seen.push([method, input])
    if (method === 'datasets:get') throw new AppError('NOT_FOUND', 'Dataset 7 does not exist.')
    if (method === 'images:query') return { total: 0, items: [] }
    if (method === 'jobs:list') return [{ bogus: true }]
    return {}
  },
})
const dispatch = createDispatcher(handlers)

describe('dispatcher', () => {
  it('knows every method of the contract and nothing else', async () => {
    const r = await dispatch('fs:readFile', { path: '/etc/passwd' })
    expect(r).toEqual({
      ok: false,
      error: { code: 'UNKNOWN_METHOD', message: 'Unknown method "fs:readFile".' },
    })
    expect(Object.keys(contract).every((m) => /^[a-z]+:[a-zA-Z]+$/.test(m))).toBe(true)
  })

  const invalid: [string, unknown, RegExp][] = [
    ['datasets:get', { id: 'seven' }, /Invalid input for datasets:get at "id"/],
    ['datasets:get', { id: -1 }, /at "id"/],
    ['datasets:get', { id: 1, extra: true }, /Invalid input for datasets:get/],
    ['images:query', { datasetId: 1, limit: 5000 }, /at "limit"/],
    ['images:query', { datasetId: 1, categoryIds: ['a'] }, /at "categoryIds.0"/],
    ['datasets:import', { kind: 'voc', root: '/x' }, /at "kind"/],
    ['datasets:import', { kind: 'coco', annotations: '', images: '/x' }, /at "annotations"/],
    ['jobs:cancel', {}, /at "jobId"/],
  ]
  for (const [method, input, message] of invalid) {
    it(`rejects ${method} ${JSON.stringify(input)} before any service sees it`, async () => {
      seen.length = 0
      const r = await dispatch(method, input)
      expect(r.ok).toBe(false)
      if (!r.ok) {
        expect(r.error.code).toBe('INVALID_INPUT')
        expect(r.error.message).toMatch(message)
      }
      expect(seen).toEqual([])
    })
  }

  it('passes parsed input with defaults and returns values as Results', async () => {
    seen.length = 0
    expect(await dispatch('images:query', { datasetId: 3 })).toEqual({
      ok: true,
      value: { total: 0, items: [] },
    })
    expect(seen).toEqual([['images:query', { datasetId: 3, offset: 0, limit: 200 }]])
  })

  it('turns thrown AppErrors into error values with their code', async () => {
    expect(await dispatch('datasets:get', { id: 7 })).toEqual({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'Dataset 7 does not exist.' },
    })
  })

  it('catches a handler whose output breaks the contract (checked under test)', async () => {
    const r = await dispatch('jobs:list', {})
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.message).toMatch(/returned a value that breaks its contract/)
  })
})

describe('gcstudio --help', () => {
  it('lists every subcommand', async () => {
    const { main } = await import('../../../src-main/cli/index')
    const { PassThrough } = await import('node:stream')
    const out = new PassThrough()
    let text = ''
    out.on('data', (d) => (text += d))
    expect(await main(['--help'], { stdout: out, stderr: out })).toBe(0)
    for (const name of ['serve', 'import', 'model', 'infer', 'eval', 'export'])
      expect(text).toMatch(new RegExp(`^  ${name} `, 'm'))
  })
})
