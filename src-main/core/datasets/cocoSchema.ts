import { z } from 'zod'

/**
 * What the importer accepts from a COCO instances file. Unknown fields (keypoints, licenses,
 * coco_url...) are allowed and ignored; what the studio relies on is checked here so a bad file
 * fails with the entry's index instead of corrupting the store.
 */
const finite = z.number().finite()

export const CocoImage = z.object({
  id: z.number().int(),
  file_name: z.string().min(1),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
})
export type CocoImage = z.infer<typeof CocoImage>

export const CocoCategory = z.object({
  id: z.number().int(),
  name: z.string(),
  supercategory: z.string().optional(),
})
export type CocoCategory = z.infer<typeof CocoCategory>

const Polygons = z.array(z.array(finite))
const Rle = z.object({
  counts: z.union([z.string(), z.array(z.number().int().nonnegative())]),
  size: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
})

export const CocoAnnotation = z.object({
  id: z.number().int(),
  image_id: z.number().int(),
  category_id: z.number().int(),
  bbox: z.tuple([finite, finite, finite, finite]).optional(),
  area: finite.optional(),
  iscrowd: z.union([z.literal(0), z.literal(1), z.boolean()]).optional(),
  segmentation: z.union([Polygons, Rle]).optional(),
})
export type CocoAnnotation = z.infer<typeof CocoAnnotation>

/** "annotations[12].bbox: expected number" from a zod error, for messages that say where. */
export function describeIssue(where: string, error: z.ZodError): string {
  const issue = error.issues[0]
  if (!issue) return `${where} is invalid`
  const field = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')
  return `${where}${field}: ${issue.message}`
}
