/** The CPU data pipeline: image files, dataset folders, augmentation, synthetic data, loader. */
export { DataError, type SkippedFile } from './errors.ts';
export { Rng, hashSeed, permutation } from './rng.ts';
export { decodeImage, readImage, readGrey, readImageSize, writePng, encodePng, toGrey, toRgb, type Image, type GreyImage } from './image-io.ts';
export { jpegOrientation, applyOrientation, type Orientation } from './exif.ts';
export { trimapFromAlpha, normaliseTrimap, TRIMAP_BG_BELOW, TRIMAP_FG_ABOVE } from './trimap.ts';
export { openTrainingSet, TrainingSet, type TrainingPair, type TrainingSetSpec, type OpenTrainingSetOptions, type LoadedPair } from './training-set.ts';
export { openEvalSet, EvalSet, type EvalItem, type EvalSample, type OpenEvalSetOptions } from './eval-set.ts';
export {
  augmentSample,
  composite,
  planCrop,
  stackSamples,
  resolveAugmentOptions,
  defaultTrimapKernel,
  type Sample,
  type Batch,
  type AugmentOptions,
  type CropPlan,
} from './augment.ts';
export { syntheticSample, syntheticForeground, syntheticBackground, generateSyntheticDataset, type SyntheticDatasetOptions } from './synthetic.ts';
export { BatchMaker, sampleSeed, type SyntheticSource, type SourceSpec } from './batches.ts';
export { DataLoader, type DataLoaderOptions, type LoadedBatch } from './loader.ts';
