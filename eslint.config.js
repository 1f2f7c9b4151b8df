import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import svelte from 'eslint-plugin-svelte'
import globals from 'globals'

import importPatterns from './eslint/importPatterns.js'

/**
 * Layers (docs/architecture.md): each folder lists what it may import, and the most specific
 * folder that holds a file decides. Imports point down: `common` is pure TypeScript shared with
 * the renderer; `core/eval` and `core/store` sit at the bottom of core and import no services;
 * `core` never imports hosts, the CLI or Electron; the renderer imports only `src-main/common`
 * and browser packages.
 */
const node = ['node:*']
// better-sqlite3 is the store's alone: services call store modules (core/store/<entity>.ts).
const storePackage = 'better-sqlite3'
const corePackages = ['sharp', 'onnxruntime-node', 'protobufjs', 'stream-json', 'zod']
const layers = [
  {
    layer: 'src-main/common/',
    allow: ['src-main/common/', 'zod'],
    why: 'common is shared with the renderer: pure TypeScript only.',
  },
  {
    layer: 'src-main/core/eval/',
    allow: ['src-main/common/', 'src-main/core/eval/', ...node, 'sharp'],
    why: 'The evaluation library is at the bottom of core: it imports no services.',
  },
  {
    layer: 'src-main/core/store/',
    allow: ['src-main/common/', 'src-main/core/store/', ...node, storePackage],
    allowTypes: ['src-main/core/eval/', 'src-main/core/attention/', 'src-main/core/compare/'],
    why: 'The store is at the bottom of core: it imports no services.',
  },
  {
    layer: 'src-main/core/compare/',
    allow: ['src-main/common/', 'src-main/core/eval/', 'src-main/core/compare/', ...node],
    why: 'Comparisons are a pure library beside eval: no services, no store.',
  },
  {
    layer: 'src-main/core/attention/',
    allow: ['src-main/common/', 'src-main/core/eval/', 'src-main/core/attention/', ...node],
    why: 'Attention statistics are a pure library beside eval: no services, no store.',
  },
  {
    layer: 'src-main/core/',
    allow: ['src-main/common/', 'src-main/core/', ...node, ...corePackages],
    why: 'core is plain Node, used by both hosts and the CLI: no hosts, CLI or Electron.',
  },
  {
    layer: 'src-main/workers/',
    allow: ['src-main/common/', 'src-main/core/', ...node],
    why: 'Worker entry points only start core code.',
  },
  {
    layer: 'src-main/hosts/electron/',
    allow: ['src-main/common/', 'src-main/core/', 'src-main/hosts/electron/', ...node, 'electron'],
  },
  {
    layer: 'src-main/hosts/server/',
    allow: ['src-main/common/', 'src-main/core/', 'src-main/hosts/server/', ...node, 'ws'],
  },
  {
    layer: 'src-main/cli/',
    allow: [
      'src-main/common/',
      'src-main/core/',
      'src-main/cli/',
      'src-main/hosts/server/',
      ...node,
      'zod',
    ],
    why: 'The CLI builds on core (and starts the browser host for `serve`).',
  },
  {
    layer: 'src-renderer/',
    allow: ['src-renderer/', 'src-main/common/', 'svelte', 'three', '@observablehq/plot'],
    why: 'The renderer talks to main only through lib/api.ts and imports only src-main/common.',
  },
  {
    layer: 'bin/',
    allow: [...node, 'electron'],
    why: 'bin/ starts the built app from out/, never the sources.',
  },
  {
    layer: 'test/',
    allow: [
      'src-main/',
      'src-renderer/src/lib/',
      'src-renderer/src/viewer/',
      'test/',
      'models/',
      ...node,
      ...corePackages,
      storePackage,
      'vitest',
      'playwright-core',
      'ws',
      'rolldown',
      'eslint',
    ],
    why: 'Tests exercise the code through its modules, the hosts and Chromium.',
  },
  {
    layer: 'eslint/',
    allow: [...node],
  },
]

export default tseslint.config(
  { ignores: ['out/**', 'node_modules/**', 'models/zoo/**', '.electron-native/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] },
      globals: { ...globals.browser },
    },
    rules: {
      // TypeScript checks names; eslint's no-undef does not know DOM types.
      'no-undef': 'off',
      // Sprite/page caches and the in-flight page set are deliberately not reactive.
      'svelte/prefer-svelte-reactivity': 'off',
    },
  },
  { files: ['src-renderer/**'], languageOptions: { globals: { ...globals.browser } } },
  {
    // SQL lives in the store layer only (docs/architecture.md): every statement is prepared once
    // in a store module, with its typed row. Services group store calls with db.transaction().
    files: ['src-main/**/*.ts'],
    ignores: ['src-main/core/store/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        ...[
          'CallExpression[callee.property.name=/^(prepare|pragma|iterate)$/]',
          "CallExpression[callee.property.name='exec'][callee.object.name='db']",
          "CallExpression[callee.property.name='exec'][callee.object.property.name='db']",
        ].map((selector) => ({
          selector,
          message: 'SQL belongs in src-main/core/store: call (or add) a store module method.',
        })),
      ],
    },
  },
  {
    files: ['**/*.ts', '**/*.js', '**/*.svelte'],
    plugins: { layers: { rules: { 'import-patterns': importPatterns } } },
    rules: { 'layers/import-patterns': ['error', layers] },
  },
)
