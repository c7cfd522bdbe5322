/**
 * matting-engine/node: the Node-only parts. Dawn device acquisition, safetensors and checkpoint
 * files, image files (PNG/JPEG codecs), dataset folders, the worker-thread data loader, ImageNet
 * weights and the trainer. Importing it (or `matting-engine` in Node) registers Dawn as
 * initEngine's device source. To add a module: export it here and document it in docs/api.md.
 */
import './register-dawn.ts';

export { acquireDevice, BACKENDS, NoAdapterError, BadBackendError, type DeviceOptions, type BackendName } from '../engine/device.ts';
export { readSafetensors, readSafetensorsHeader } from '../engine/io/safetensors-read.ts';
export { writeSafetensors, removeStaleTempFiles } from '../engine/io/safetensors-write.ts';
export { saveCheckpoint, loadCheckpoint, loadModel } from '../matting/checkpoint.ts';
export { DEFAULT_MODEL_PATH, resolveModelPath } from '../matting/default-model.ts';
export { loadPretrained, vggNameMap, type PretrainedReport } from '../matting/pretrained.ts';
export { decodeImage, readImage, readGrey, readImageSize, writePng, encodePng, toGrey, toRgb, sniffFormat, IMAGE_EXTENSIONS, type ImageFormat } from '../matting/data/image-io.ts';
export { openTrainingSet, TrainingSet, type TrainingPair, type TrainingSetSpec, type OpenTrainingSetOptions, type LoadedPair } from '../matting/data/training-set.ts';
export { openEvalSet, EvalSet, type EvalItem, type EvalSample, type OpenEvalSetOptions } from '../matting/data/eval-set.ts';
export { generateSyntheticDataset, type SyntheticDatasetOptions, type SyntheticDatasetInfo } from '../matting/data/synthetic-files.ts';
export { BatchMaker, sampleSeed, type SyntheticSource, type SourceSpec } from '../matting/data/batches.ts';
export { DataLoader, type DataLoaderOptions, type LoadedBatch } from '../matting/data/loader.ts';
export { buildTrainingData, ALPHAMATTING_VALIDATION, DEBIAN_PHOTO_DIRS, type BuildDataOptions, type BuildDataReport } from '../matting/data/builder.ts';
export { Trainer, NonFiniteLossError, type TrainOptions, type TrainEvent } from '../matting/train/trainer.ts';
