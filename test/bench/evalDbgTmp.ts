import { prepareGroundTruth, prepareResults } from '../../src-main/core/eval/cocoData'
import { evaluatePrepared } from '../../src-main/core/eval/cocoEval'
import { generateCocoSet } from './evalGenerate'
const set = generateCocoSet({
  seed: 500,
  images: 500,
  categories: 10,
  gtPerImage: 7,
  detsPerImage: 20,
  exactDetections: true,
  masks: true,
  scoreDecimals: 2,
})
const mins: Record<string, number> = {}
const note = (k: string, v: number) => {
  mins[k] = Math.min(mins[k] ?? Infinity, v)
}
for (let r = 0; r < 20; r++) {
  for (const iouType of ['segm', 'bbox'] as const) {
    const t0 = performance.now()
    const gt = prepareGroundTruth(set.dataset, iouType)
    const t1 = performance.now()
    const dt = prepareResults(gt, iouType === 'segm' ? set.segmResults : set.bboxResults)
    const t2 = performance.now()
    evaluatePrepared(gt, dt, { iouType, confusion: false })
    const t3 = performance.now()
    evaluatePrepared(gt, dt, { iouType })
    const t4 = performance.now()
    note(iouType + ' gt', t1 - t0)
    note(iouType + ' dt', t2 - t1)
    note(iouType + ' eval', t3 - t2)
    note(iouType + ' eval+conf', t4 - t3)
  }
}
console.log(
  Object.entries(mins)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join('\n'),
)
