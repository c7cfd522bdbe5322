/**
 * matting-engine/matting: the Deep Image Matting network, inference on any image size, losses,
 * metrics, checkpoints in memory and the in-memory data pipeline. Browser-safe (no Node imports);
 * the file-based parts (checkpoint files, image files, dataset folders, the trainer) are in
 * `matting-engine/node`. To add a module: export it here and document it in docs/api.md.
 */
export { MattingModel, IMAGENET_MEAN, TORCHVISION_MEAN, TORCHVISION_STD, type MattingOutput } from './graph/model.ts';
export { makeConfig, validateConfig, scaled, DEFAULT_CONFIG, ENCODERS, DECODERS, REFINES, type ModelConfig, type EncoderKind, type DecoderKind, type RefineKind } from './graph/config.ts';
export { MODEL_PRESETS, type ModelPresetName } from './graph/presets.ts';
export { predictAlpha, reflectPad, type PredictOptions, type PlanarImage } from './inference.ts';
export { toPlanar, imageToPlanar, trimapToPlanar, type InterleavedImage } from './planar.ts';
export { mattingLosses, postProcess, composite, unknownMask as unknownRegion, CHARBONNIER_EPS, type LossBatch, type LossTerms } from './losses.ts';
export { applyStage, STAGES, type Stage } from './train/stages.ts';
export {
  CHECKPOINT_FORMAT,
  checkpointEntries,
  serializeCheckpoint,
  parseCheckpoint,
  checkpointFromSafetensors,
  disposeCheckpoint,
  modelFromCheckpoint,
  type CheckpointContent,
  type TrainingState,
} from './checkpoint-format.ts';
export { evaluateModel, scoreImage, summarise, toByteScale, type ImageScore, type EvalSummary } from './evaluate.ts';
export {
  allMetrics,
  sadError,
  mseError,
  gradientError,
  connectivityError,
  unknownMask,
  UNKNOWN_VALUE,
  gaussianDerivativeFilters,
  gaussGradientMagnitude,
  mat2gray,
  thresholdsPassed,
  type MattingMetrics,
  type AlphaImage,
  type Trimap,
  type UnknownMask,
} from './metrics/index.ts';
export * from './data/index.ts';
export * from './classical/index.ts';
