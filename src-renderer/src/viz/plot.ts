/**
 * Observable Plot charts in Svelte markup: `<div {@attach plotted(() => Plot.plot(...))}>`
 * mounts the chart and rebuilds it whenever state read while building it changes.
 */
import type { Attachment } from 'svelte/attachments'

export function plotted(make: () => Element): Attachment<HTMLElement> {
  return (node) => {
    const chart = make()
    node.append(chart)
    return () => chart.remove()
  }
}
