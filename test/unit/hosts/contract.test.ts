import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { contract } from '../../../src-main/common/api'

/** The string fields of an input schema, through objects, unions and optional/default wrappers. */
function stringFields(schema: z.ZodType, into = new Set<string>(), name = ''): Set<string> {
  const def = (schema as unknown as { def: Record<string, unknown> & { type: string } }).def
  switch (def.type) {
    case 'object':
      for (const [key, value] of Object.entries(def.shape as Record<string, z.ZodType>))
        stringFields(value, into, key)
      break
    case 'union':
      for (const option of def.options as z.ZodType[]) stringFields(option, into, name)
      break
    case 'optional':
    case 'nullable':
    case 'default':
    case 'readonly':
      stringFields(def.innerType as z.ZodType, into, name)
      break
    case 'pipe':
      stringFields(def.in as z.ZodType, into, name)
      break
    case 'string':
      if (name) into.add(name)
      break
  }
  return into
}

// A field is a path when its name says so; a new method with such a field must declare it, or
// the desktop host's picker-grant check would silently not apply to it.
const looksLikePath = /path|root|dir|folder|file|images|annotations|^out$|^gt$|^dets$/i

describe('the contract says which fields are filesystem paths', () => {
  it.each(Object.entries(contract))('%s declares every path field it takes', (_, m) => {
    const fields = [...stringFields(m.input)]
    const pathLike = fields.filter((f) => looksLikePath.test(f)).sort()
    expect([...m.paths].sort()).toEqual(pathLike)
  })

  it('declares paths for imports and model files', () => {
    expect(contract['datasets:import'].paths).toEqual(['annotations', 'images', 'root'])
    expect(contract['models:add'].paths).toEqual(['path'])
  })

  it('lets a file picker offer ONNX models, COCO files or anything', () => {
    const pick = contract['dialog:pick'].input
    expect(pick.parse({ mode: 'file' })).toEqual({ mode: 'file', filter: 'any' })
    expect(pick.parse({ mode: 'file', filter: 'onnx-model' }).filter).toBe('onnx-model')
    expect(pick.safeParse({ mode: 'file', filter: 'exe' }).success).toBe(false)
  })
})
