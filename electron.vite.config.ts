import { resolve } from 'node:path'
import { defineConfig } from 'electron-vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'

const r = (p: string) => resolve(__dirname, p)

/**
 * One build for everything: the Electron main process, the CLI and the worker entry points
 * share out/main (and its chunks); the preload is CommonJS because sandboxed preloads cannot be
 * ES modules; the renderer is the Svelte app both hosts serve.
 */
export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      externalizeDeps: true,
      rolldownOptions: {
        input: {
          index: r('src-main/hosts/electron/main.ts'),
          cli: r('src-main/cli/index.ts'),
          'workers/importWorker': r('src-main/workers/importWorker.ts'),
          'workers/datasetTaskWorker': r('src-main/workers/datasetTaskWorker.ts'),
          'workers/inferenceProcess': r('src-main/workers/inferenceProcess.ts'),
          'workers/evalWorker': r('src-main/workers/evalWorker.ts'),
          'workers/compareWorker': r('src-main/workers/compareWorker.ts'),
          'workers/modelWorker': r('src-main/workers/modelWorker.ts'),
          'workers/attentionWorker': r('src-main/workers/attentionWorker.ts'),
        },
        output: {
          format: 'es',
          entryFileNames: '[name].js',
          chunkFileNames: 'chunks/[name]-[hash].js',
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rolldownOptions: {
        input: { index: r('src-main/hosts/electron/preload.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: r('src-renderer'),
    build: {
      outDir: r('out/renderer'),
      rolldownOptions: { input: r('src-renderer/index.html') },
    },
    plugins: [svelte()],
  },
})
