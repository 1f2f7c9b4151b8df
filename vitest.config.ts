import { defineConfig } from 'vitest/config'

// Unit tests run the TypeScript sources directly; end-to-end tests use the built renderer
// (`npm test` builds first) and start the browser host in-process on a temporary data folder.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
})
