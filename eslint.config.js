import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import svelte from 'eslint-plugin-svelte'
import globals from 'globals'

/**
 * Layer rule (ARCHITECTURE.md): imports only point down. `common` imports nothing of ours,
 * `core` and `workers` never import hosts, CLI or Electron, and the renderer imports only
 * `src-main/common`.
 */
const layer = (patterns, message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }],
})

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
    files: ['src-main/common/**'],
    rules: layer(
      [
        '**/core/**',
        '**/hosts/**',
        '**/cli/**',
        '**/workers/**',
        'electron',
        'node:*',
        'better-sqlite3',
        'sharp',
        'onnxruntime-node',
      ],
      'src-main/common is shared with the renderer: pure TypeScript only.',
    ),
  },
  {
    files: ['src-main/core/**', 'src-main/workers/**'],
    rules: layer(
      ['**/hosts/**', '**/cli/**', 'electron'],
      'core and workers are plain Node, used by both hosts and the CLI.',
    ),
  },
  {
    files: ['src-renderer/**'],
    rules: layer(
      [
        '**/src-main/core/**',
        '**/src-main/hosts/**',
        '**/src-main/cli/**',
        '**/src-main/workers/**',
        'node:*',
        'electron',
      ],
      'The renderer talks to main only through lib/api.ts and imports only src-main/common.',
    ),
  },
)
