/**
 * The evaluation library: COCO detection (bbox, segm) identical to pycocotools, Cityscapes
 * semantic segmentation identical to cityscapesScripts, masks bit-compatible with maskApi.
 * Plain Node + TypeScript; imports nothing from the app.
 */
export * from './errors'
export * from './rle'
export {
  type CocoAnnotation,
  type CocoCategory,
  type CocoDataset,
  type CocoId,
  type CocoImage,
  type CocoResult,
  type IouType,
  type PreparedGroundTruth,
  type PreparedResults,
  prepareGroundTruth,
  prepareResults,
} from './cocoData'
export {
  type AreaRange,
  type CocoCategoryResult,
  type CocoDetectionOutcomes,
  type CocoEvaluateOptions,
  type CocoEvaluation,
  type CocoGroundTruthOutcomes,
  type CocoMatchTable,
  type CocoImageResult,
  type CocoParams,
  type DetectionOutcomeCode,
  COCO_PARAMS,
  COCO_STAT_NAMES,
  DetectionOutcome,
  evaluateCoco,
  evaluatePrepared,
  summarizeDetections,
} from './cocoEval'
export { type CocoConfusionMatrix, type ConfusionOptions } from './confusion'
export { type CocoJsonReport, cocoJsonReport, formatCocoSummary } from './cocoReport'
export * from './cityscapesClasses'
export {
  type CityscapesCategoryScore,
  type CityscapesClassScore,
  type CityscapesDirectoryOptions,
  type CityscapesEvaluation,
  type CityscapesIdKind,
  type CityscapesImageInput,
  type CityscapesImageResult,
  type CityscapesOptions,
  type CityscapesPair,
  CityscapesAccumulator,
  cityscapesStem,
  evaluateCityscapesDirectories,
  pairCityscapesFiles,
} from './cityscapes'
export {
  type CityscapesJsonReport,
  cityscapesJsonReport,
  formatCityscapesTables,
} from './cityscapesReport'
export { type LabelImage, decodeLabelPng, encodeLabelPng } from './png'
export * from './rows'
export * from './export'
export * from './job'
export * from './workerProtocol'
export { runEvalInWorker, type EvalInWorkerOptions } from './workerClient'
