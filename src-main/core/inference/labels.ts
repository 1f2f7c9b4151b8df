import { AppError } from '../../common/errors'
import {
  cityscapesLabelById,
  cityscapesTrainLabels,
  trainIdToLabelId,
} from '../../common/cityscapesLabels'
import type { ModelConfig } from '../../common/models'

/**
 * A detector's classes on Cityscapes are its instance classes (person … bicycle), in id order,
 * as mmdet's CityscapesDataset has them; the stuff labels have no instances to detect.
 */
function indexedCategories(
  cats: { id: number; name: string }[],
  datasetKind: 'coco' | 'cityscapes',
  task: ModelConfig['task'],
): { id: number; name: string }[] {
  if (datasetKind !== 'cityscapes' || task === 'semantic_segmentation') return cats
  return cats.filter((c) => {
    const l = cityscapesLabelById.get(c.id)
    return l ? l.hasInstances && !l.ignoreInEval : true
  })
}

const listed = (cats: readonly { name: string }[]) =>
  cats.length <= 8
    ? cats.map((c) => c.name).join(', ')
    : `${cats
        .slice(0, 3)
        .map((c) => c.name)
        .join(', ')} … ${cats.at(-1)!.name}`

/**
 * The table from a model's integer labels to the dataset's category ids, fixed when a run
 * starts (and for "Run this image"). A model whose class count is known (its class names, or
 * its graph: `modelClasses`) must agree with the dataset's classes, or the run is refused with
 * the reason: a 5-class detector on Cityscapes would otherwise label its boxes "unlabeled, ego
 * vehicle, …", and a 40-class segmenter's labels past 18 would be written as nothing.
 */
export function buildLabelTable(
  config: ModelConfig,
  categories: { id: number; name: string }[],
  datasetKind: 'coco' | 'cityscapes',
  modelClasses: number | null = null,
): (number | null)[] {
  const all = [...categories].sort((a, b) => a.id - b.id)
  const names = config.classNames
  const count = names?.length ?? modelClasses
  const fix =
    'Give the model a label map (labelMap in a gcstudio.json sidecar, then `gcstudio model add --update`), or run it on the dataset it was trained for.'
  switch (config.labelMapping) {
    case 'index':
    case 'index-from-1': {
      const offset = config.labelMapping === 'index-from-1' ? 1 : 0
      const cats = indexedCategories(all, datasetKind, config.task)
      if (names) {
        // Named classes map by name when the names are the dataset's; else they must line up.
        const byName = new Map(all.map((c) => [c.name.toLowerCase(), c.id]))
        if (names.every((n) => byName.has(n.toLowerCase())))
          return [...Array(offset).fill(null), ...names.map((n) => byName.get(n.toLowerCase())!)]
        if (names.length !== cats.length) {
          throw new AppError(
            'CONFLICT',
            `The model has ${names.length} classes but the dataset has ${cats.length} categories, and their names differ: this model was exported for another class list. ${fix}`,
          )
        }
      } else if (count !== null && count !== cats.length) {
        throw new AppError(
          'CONFLICT',
          `The model predicts ${count} classes but the dataset has ${cats.length} ${datasetKind === 'cityscapes' && config.task !== 'semantic_segmentation' ? 'instance classes' : 'categories'} (${listed(cats)}): this model was made for another class list. ${fix}`,
        )
      }
      return [...Array(offset).fill(null), ...cats.map((c) => c.id)]
    }
    case 'category-id': {
      const ids = new Set(all.map((c) => c.id))
      const max = Math.max(0, ...ids)
      return Array.from({ length: max + 1 }, (_, i) => (ids.has(i) ? i : null))
    }
    case 'train-id': {
      if (datasetKind !== 'cityscapes') {
        throw new AppError(
          'CONFLICT',
          'This model predicts Cityscapes train ids but the dataset is not a Cityscapes dataset. Set its label mapping to "index" or give a label map.',
        )
      }
      if (count !== null && count !== cityscapesTrainLabels.length) {
        throw new AppError(
          'CONFLICT',
          `The model predicts ${count} classes but Cityscapes has ${cityscapesTrainLabels.length} train ids (${listed(cityscapesTrainLabels)}): it was not trained on Cityscapes' classes. ${fix}`,
        )
      }
      return cityscapesTrainLabels.map((l) => trainIdToLabelId[l.trainId]!)
    }
    case 'explicit': {
      const map = config.labelMap ?? {}
      const ids = new Set(all.map((c) => c.id))
      const bad = Object.entries(map).find(([, c]) => !ids.has(c))
      if (bad)
        throw new AppError(
          'CONFLICT',
          `The label map sends label ${bad[0]} to category ${bad[1]}, which the dataset does not have.`,
        )
      const max = Math.max(0, ...Object.keys(map).map(Number))
      return Array.from({ length: max + 1 }, (_, i) => map[String(i)] ?? null)
    }
  }
}
