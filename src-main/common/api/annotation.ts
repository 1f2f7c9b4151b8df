/** Ground-truth annotations as the API carries them (shared by images and label editing). */
import { z } from 'zod'

const id = z.number().int().positive()

export const Segmentation = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }),
  /** One or more polygons, each [x0,y0,x1,y1,...] in image pixels. */
  z.object({ kind: z.literal('polygon'), polygons: z.array(z.array(z.number())) }),
  /** Column-major run lengths, first run counts background, as in COCO's uncompressed RLE. */
  z.object({
    kind: z.literal('rle'),
    size: z.tuple([z.number().int(), z.number().int()]),
    counts: z.array(z.number().int()),
  }),
])
export type Segmentation = z.infer<typeof Segmentation>

export const Annotation = z.object({
  id,
  /** The id the annotation file gave (COCO annotation id; Cityscapes instance id). */
  sourceId: z.number().int(),
  imageId: id,
  categoryId: z.number().int(),
  iscrowd: z.boolean(),
  area: z.number(),
  bbox: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  segmentation: Segmentation,
})
export type Annotation = z.infer<typeof Annotation>
