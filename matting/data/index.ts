/**
 * The in-memory data pipeline (browser-safe): seeded RNG, trimaps, augmentation, synthetic scenes.
 * Files, folders, image codecs and worker threads are Node only: see node/index.ts.
 */
export { DataError, type SkippedFile } from './errors.ts';
export { Rng, hashSeed, permutation } from './rng.ts';
export type { Image, GreyImage } from './image.ts';
export { jpegOrientation, applyOrientation, type Orientation } from './exif.ts';
export { trimapFromAlpha, normaliseTrimap, TRIMAP_BG_BELOW, TRIMAP_FG_ABOVE, TRIMAP_BG, TRIMAP_UNKNOWN, TRIMAP_FG, type TrimapNormalisation } from './trimap.ts';
export {
  augmentSample,
  composite as compositeImage,
  planCrop,
  stackSamples,
  resolveAugmentOptions,
  defaultTrimapKernel,
  type Sample,
  type Batch,
  type AugmentOptions,
  type ResolvedAugmentOptions,
  type CropPlan,
} from './augment.ts';
export { syntheticSample, syntheticForeground, syntheticBackground, type SyntheticSampleOptions } from './synthetic.ts';
export { resizeImage, cropImage } from './resize.ts';
