/**
 * The layer rule as allow-lists (VS Code's `code-import-patterns`): every file belongs to the
 * most specific layer whose folder holds it, and may import only what that layer lists —
 * folders of this repository (by path from the repository root) and packages by name. Static
 * imports, re-exports, dynamic `import()` and `require()` are all checked; a dynamic import
 * whose specifier is computed cannot be checked and is refused.
 */
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')

/** `pattern` is a folder (`src-main/core/eval/`), a file without extension, or a package. */
function allows(pattern, target) {
  if (pattern.endsWith('/*')) return target.startsWith(pattern.slice(0, -1))
  if (pattern.endsWith('/')) return target.startsWith(pattern)
  return target === pattern
}

function packageName(spec) {
  if (spec.startsWith('node:')) return spec
  const parts = spec.split('/')
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'Each layer imports only what its allow-list names.' },
    schema: [
      {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            layer: { type: 'string' },
            why: { type: 'string' },
            allow: { type: 'array', items: { type: 'string' } },
            allowTypes: { type: 'array', items: { type: 'string' } },
          },
          required: ['layer', 'allow'],
        },
      },
    ],
    messages: {
      forbidden:
        '{{layer}} may not import "{{spec}}" ({{target}}). It may import: {{allowed}}.{{why}}',
      computed: 'A dynamic import with a computed specifier cannot be checked against the layers.',
    },
  },
  create(context) {
    const file = path.relative(root, context.filename).split(path.sep).join('/')
    const layer = context.options[0]
      .filter((l) => file.startsWith(l.layer))
      .sort((a, b) => b.layer.length - a.layer.length)[0]
    if (!layer) return {}
    const check = (node, spec, typeOnly = false) => {
      let target
      if (spec.startsWith('.')) {
        const abs = path.resolve(path.dirname(context.filename), spec)
        target = path.relative(root, abs).split(path.sep).join('/')
        // Imports name modules without their extension; folders are matched by prefix.
        target = target.replace(/\.(ts|js|svelte|svelte\.ts)$/, '')
      } else {
        target = spec
      }
      const pkg = spec.startsWith('.') ? null : packageName(spec)
      const patterns = typeOnly ? [...layer.allow, ...(layer.allowTypes ?? [])] : layer.allow
      const ok = patterns.some(
        (p) =>
          allows(p, target) ||
          (pkg !== null && (p === pkg || (p === 'node:*' && pkg.startsWith('node:')))),
      )
      if (!ok)
        context.report({
          node,
          messageId: 'forbidden',
          data: {
            layer: layer.layer,
            spec,
            target,
            allowed: layer.allow.join(', '),
            why: layer.why ? ` ${layer.why}` : '',
          },
        })
    }
    // `import type` creates no runtime dependency: a layer may name types of the pure libraries
    // beside it (`allowTypes`) without importing their code.
    const source = (node) => {
      if (!node.source) return
      check(
        node.source,
        String(node.source.value),
        node.importKind === 'type' || node.exportKind === 'type',
      )
    }
    return {
      ImportDeclaration: source,
      ExportNamedDeclaration: source,
      ExportAllDeclaration: source,
      ImportExpression(node) {
        if (node.source.type === 'Literal' && typeof node.source.value === 'string')
          check(node.source, node.source.value)
        else context.report({ node, messageId: 'computed' })
      },
      CallExpression(node) {
        if (
          node.callee.type === 'Identifier' &&
          node.callee.name === 'require' &&
          node.arguments[0]?.type === 'Literal'
        )
          check(node.arguments[0], String(node.arguments[0].value))
      },
    }
  },
}
