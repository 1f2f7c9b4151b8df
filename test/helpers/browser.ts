/**
 * Debian's Chromium driven by playwright-core (no browser download). Flags keep it off the
 * network, which this machine does not have anyway.
 */
import fs from 'node:fs'
import sharp from 'sharp'
import { chromium, type Browser, type Locator, type Page } from 'playwright-core'

export const chromiumPath = process.env.GCSTUDIO_CHROMIUM ?? '/usr/bin/chromium'

export function haveChromium(): boolean {
  return fs.existsSync(chromiumPath)
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** Counts the pixels of an element's screenshot within `tol` of an RGB colour. */
export async function countColor(el: Locator, rgb: readonly number[], tol = 8): Promise<number> {
  const png = await el.screenshot()
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  let n = 0
  for (let i = 0; i < info.width * info.height * 3; i += 3) {
    if (
      Math.abs(data[i]! - rgb[0]!) <= tol &&
      Math.abs(data[i + 1]! - rgb[1]!) <= tol &&
      Math.abs(data[i + 2]! - rgb[2]!) <= tol
    )
      n++
  }
  return n
}

/** What a colour looks like drawn at `alpha` over a flat grey background. */
export const blend = (rgb: readonly number[], alpha: number, grey: number) =>
  rgb.map((c) => Math.round(alpha * c + (1 - alpha) * grey))

/** A page at the size the end-to-end tests use, reporting the renderer's uncaught errors. */
export async function studioPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  page.on('pageerror', (e) => console.error('page error:', e.message))
  return page
}

/** Pixels that differ between two screenshots of the same element. */
export async function differing(a: Buffer, b: Buffer): Promise<number> {
  const [x, y] = await Promise.all([a, b].map((p) => sharp(p).removeAlpha().raw().toBuffer()))
  let n = 0
  for (let i = 0; i < x!.length; i += 3)
    if (
      Math.abs(x![i]! - y![i]!) +
        Math.abs(x![i + 1]! - y![i + 1]!) +
        Math.abs(x![i + 2]! - y![i + 2]!) >
      30
    )
      n++
  return n
}
