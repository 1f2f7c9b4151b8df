/** Loads the committed reference fixtures (see test/fixtures/eval/README.md for their origin). */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const fixtureDir = fileURLToPath(new URL('../../fixtures/eval/', import.meta.url))

export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(fixtureDir + name, 'utf8')) as T
}
