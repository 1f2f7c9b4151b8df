import { z } from 'zod'
import { ImportRequest } from '../../common/api'
import { importCityscapes } from './cityscapesImport'
import { importCoco } from './cocoImport'
import type { ImportContext, ImportOutcome } from './importTypes'

export type ParsedImportRequest = z.output<typeof ImportRequest>

export function runImport(
  ctx: ImportContext,
  request: ParsedImportRequest,
): Promise<ImportOutcome> {
  return request.kind === 'coco'
    ? importCoco(ctx, {
        annotations: request.annotations,
        images: request.images,
        ...(request.name ? { name: request.name } : {}),
      })
    : importCityscapes(ctx, {
        root: request.root,
        split: request.split,
        ...(request.name ? { name: request.name } : {}),
      })
}

export function describeImport(request: ParsedImportRequest): string {
  return request.kind === 'coco'
    ? `COCO ${request.annotations}`
    : `Cityscapes ${request.root} (${request.split})`
}
