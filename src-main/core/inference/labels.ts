import { AppError } from '../../common/errors'
import { trainIdToLabelId, cityscapesTrainLabels } from '../../common/cityscapesLabels'
import type { ModelConfig } from '../../common/models'

/**
 * The table from a model's integer labels to the dataset's category ids, fixed when a run
 * starts. Class names, when the model has them, must agree with the dataset's in count.
 */
export function buildLabelTable(
  config: ModelConfig,
  categories: { id: number; name: string }[],
  datasetKind: 'coco' | 'cityscapes',
): (number | null)[] {
  const cats = [...categories].sort((a, b) => a.id - b.id)
  const names = config.classNames
  switch (config.labelMapping) {
    case 'index':
    case 'index-from-1': {
      const offset = config.labelMapping === 'index-from-1' ? 1 : 0
      if (names) {
        // Named classes map by name when the names are the dataset's; else they must line up.
        const byName = new Map(cats.map((c) => [c.name.toLowerCase(), c.id]))
        if (names.every((n) => byName.has(n.toLowerCase())))
          return [...Array(offset).fill(null), ...names.map((n) => byName.get(n.toLowerCase())!)]
        if (names.length !== cats.length) {
          throw new AppError(
            'CONFLICT',
            `The model has ${names.length} classes but the dataset has ${cats.length} categories, and their names differ: this model was exported for another class list. Give a label map in a gcstudio.json sidecar.`,
          )
        }
      }
      return [...Array(offset).fill(null), ...cats.map((c) => c.id)]
    }
    case 'category-id': {
      const ids = new Set(cats.map((c) => c.id))
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
      return cityscapesTrainLabels.map((l) => trainIdToLabelId[l.trainId]!)
    }
    case 'explicit': {
      const map = config.labelMap ?? {}
      const ids = new Set(cats.map((c) => c.id))
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
