import { z } from 'zod'
import { method } from './method'

const id = z.number().int().positive()

/** Browsing methods added for direct links into the viewer. */
export const browseMethods = {
  'images:locate': method(
    z
      .object({
        datasetId: id,
        imageId: id,
        categoryIds: z.array(z.number().int()).max(1000).optional(),
        search: z.string().max(500).optional(),
        missingOnly: z.boolean().optional(),
      })
      .strict(),
    z.object({ index: z.number().int().nullable(), total: z.number().int() }),
    "Where an image stands in the grid's filtered list (null when the filter excludes it), and the list's length: the viewer's position counter on a direct link.",
  ),
} as const
