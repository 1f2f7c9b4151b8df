import { defineConfig } from 'vitest/config'

// Benchmarks run on demand (`npm run bench`), one file at a time, never as part of `npm test`.
// They print their numbers and write them to test/bench/results/*.json; nothing asserts on time.
export default defineConfig({
  test: {
    include: ['test/bench/**/*.bench.test.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 3_600_000,
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
  },
})
