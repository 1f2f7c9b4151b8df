import type { Category, Dataset, ImageDetail, ImageQuery, ImageSummary } from '../../common/api'
import { AppError } from '../../common/errors'
import { annotationStore } from '../store/annotations'
import { datasetStore } from '../store/datasets'
import { imageStore } from '../store/images'
import type { Db } from '../store/store'
import { rowToAnnotation } from '../labels/rows'
import type { BrowseCache } from './browseCache'

export function listDatasets(db: Db): Dataset[] {
  return datasetStore(db).list()
}

export function getDataset(db: Db, id: number): Dataset {
  const dataset = datasetStore(db).get(id)
  if (!dataset) throw new AppError('NOT_FOUND', `Dataset ${id} does not exist.`)
  return dataset
}

export function getCategories(db: Db, datasetId: number): Category[] {
  return datasetStore(db).categories(datasetId)
}

export function renameDataset(db: Db, id: number, name: string): Dataset {
  if (!datasetStore(db).rename(id, name))
    throw new AppError('NOT_FOUND', `Dataset ${id} does not exist.`)
  return getDataset(db, id)
}

/**
 * One page of the grid, ordered by row id (the file's order). With the studio's cache, the
 * common filters take fast paths; the results are the same without it.
 */
export function queryImages(
  db: Db,
  q: Required<Pick<ImageQuery, 'datasetId'>> & ImageQuery & { beforeId?: number; onlyId?: number },
  /** The studio's cache: enables the fast paths (the results are the same without it). */
  cache?: BrowseCache,
): { total: number; items: ImageSummary[] } {
  const images = imageStore(db)
  const search = q.search?.trim() ?? ''
  const limit = q.limit ?? 200
  const offset = q.offset ?? 0
  const classes = q.categoryIds ?? []
  const plain = !q.missingOnly && q.beforeId === undefined && q.onlyId === undefined
  if (cache && plain && search !== '' && classes.length === 0) {
    // File-name search alone: the match list comes from the in-memory name scan, the page is
    // a primary-key lookup.
    const ids = cache.search(db, q.datasetId, search)
    return {
      total: ids.length,
      items: images.byIds(Array.from(ids.subarray(offset, offset + limit))),
    }
  }
  if (cache && plain && search === '' && classes.length === 0) {
    // The whole dataset: its size is stored, and an import writes its images under consecutive
    // ids, so row n is id first + n; no count and no OFFSET walk over 100k index entries.
    const shape = images.shape(q.datasetId)
    if (shape && shape.first !== null && shape.last! - shape.first + 1 === shape.n) {
      const first = shape.first + offset
      return { total: shape.n, items: images.range(first, first + limit - 1) }
    }
  }
  if (cache && plain && search === '' && classes.length > 0) {
    // A class filter: the page comes from the (dataset, class, image) index alone, the total
    // once per ground-truth version.
    const total = cache.classTotal(db, q.datasetId, classes, () =>
      images.classCount(q.datasetId, classes),
    )
    return { total, items: images.byIds(images.classPage(q.datasetId, classes, limit, offset)) }
  }
  return images.filtered({
    datasetId: q.datasetId,
    categoryIds: classes,
    search,
    ...(q.missingOnly ? { missingOnly: true } : {}),
    ...(q.beforeId !== undefined ? { beforeId: q.beforeId } : {}),
    ...(q.onlyId !== undefined ? { onlyId: q.onlyId } : {}),
    limit,
    offset,
  })
}

/** Where `imageId` stands in the filtered, id-ordered list of `queryImages`, and its length. */
export function locateImage(
  db: Db,
  q: Required<Pick<ImageQuery, 'datasetId'>> & ImageQuery & { imageId: number },
  names?: BrowseCache,
): { index: number | null; total: number } {
  const { imageId, ...filter } = q
  const search = filter.search?.trim() ?? ''
  if (names && search !== '' && !filter.missingOnly && !(filter.categoryIds?.length ?? 0)) {
    const ids = names.search(db, filter.datasetId, search)
    let lo = 0
    let hi = ids.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (ids[mid]! < imageId) lo = mid + 1
      else hi = mid
    }
    return { index: ids[lo] === imageId ? lo : null, total: ids.length }
  }
  const { total } = queryImages(db, { ...filter, limit: 1, offset: 0 })
  const before = queryImages(db, { ...filter, limit: 1, offset: 0, beforeId: imageId })
  const self = queryImages(db, { ...filter, limit: 1, offset: 0, onlyId: imageId })
  return { index: self.total === 1 ? before.total : null, total }
}

export function getImage(db: Db, id: number): ImageDetail {
  const image = imageStore(db).detail(id)
  if (!image) throw new AppError('NOT_FOUND', `Image ${id} does not exist.`)
  return {
    ...image,
    classes: imageStore(db).classes(id),
    annotations: annotationStore(db).forImage(id).map(rowToAnnotation),
  }
}
