/**
 * The model configuration: which encoder, decoder and refinement, the input size, a width multiplier
 * for small test models, and the loss weights. See docs/dim-model.md for the design.
 */
export type EncoderKind = 'vgg16-dual' | 'vgg16-4ch' | 'resnet50-dual';
export type DecoderKind = 'deconv' | 'unpool' | 'unet';
export type RefineKind = 'sigmoid' | 'residual' | 'none';

export interface ModelConfig {
  encoder: EncoderKind;
  decoder: DecoderKind;
  refine: RefineKind;
  /** Training/input size; a multiple of 32 (five 2x poolings). */
  inputSize: number;
  /** Multiplies every channel count (1 = the paper's model); small values make test models. */
  width: number;
  /**
   * Input normalisation of the 0..255 image: `none` (the seed), `imagenet` (subtract the Caffe/TF-slim
   * VGG mean 123.68/116.779/103.939, for weights trained that way), `torchvision` ((x - mean) / std
   * with torchvision's ImageNet mean and std on the 0..255 scale, for torchvision's weights).
   */
  imageMean: 'none' | 'imagenet' | 'torchvision';
  /**
   * Scale of the network's inputs. `raw` (the seed): image 0..255 into the encoder (after imageMean),
   * trimap 0/128/255, and the refinement fed the raw image and alpha x 255. `normalised`: image
   * (x - 127.5) / 127.5 (imageMean `none`; otherwise imageMean's normalisation), trimap (t - 127.5) /
   * 127.5 = -1/0/1, refinement fed the normalised image and 2 alpha - 1, so no layer starts saturated.
   */
  inputs: 'raw' | 'normalised';
  /**
   * The factor by which predict/eval resize an image before running the network (alpha resized
   * back), matching the scale the model was trained at; chosen on the validation set. Default 1.
   */
  inferenceScale: number;
  /** Whether predict/eval average the prediction with that of the mirrored image by default (see matting/inference.ts). */
  inferenceFlip: boolean;
  lossWeights: { alpha: number; composition: number; refined: number };
  /** Seed of the parameter initialisation. */
  seed: number;
}

export const DEFAULT_CONFIG: ModelConfig = {
  encoder: 'vgg16-dual',
  decoder: 'deconv',
  refine: 'sigmoid',
  inputSize: 320,
  width: 1,
  imageMean: 'none',
  inputs: 'raw',
  inferenceScale: 1,
  inferenceFlip: false,
  lossWeights: { alpha: 1, composition: 1, refined: 1 },
  seed: 0,
};

export const ENCODERS: EncoderKind[] = ['vgg16-dual', 'vgg16-4ch', 'resnet50-dual'];
export const DECODERS: DecoderKind[] = ['deconv', 'unpool', 'unet'];
export const REFINES: RefineKind[] = ['sigmoid', 'residual', 'none'];

export function makeConfig(partial: Partial<ModelConfig> = {}): ModelConfig {
  const c: ModelConfig = {
    ...DEFAULT_CONFIG,
    ...partial,
    lossWeights: { ...DEFAULT_CONFIG.lossWeights, ...(partial.lossWeights ?? {}) },
  };
  validateConfig(c);
  return c;
}

export function validateConfig(c: ModelConfig): void {
  const problems: string[] = [];
  if (!ENCODERS.includes(c.encoder)) problems.push(`encoder '${c.encoder}' (choose ${ENCODERS.join(', ')})`);
  if (!DECODERS.includes(c.decoder)) problems.push(`decoder '${c.decoder}' (choose ${DECODERS.join(', ')})`);
  if (!REFINES.includes(c.refine)) problems.push(`refine '${c.refine}' (choose ${REFINES.join(', ')})`);
  if (!Number.isInteger(c.inputSize) || c.inputSize < 32 || c.inputSize % 32 !== 0) problems.push(`inputSize ${c.inputSize} (a multiple of 32, at least 32)`);
  if (!(c.width > 0 && c.width <= 4)) problems.push(`width ${c.width} (in (0, 4])`);
  if (c.decoder !== 'deconv' && c.encoder === 'resnet50-dual') problems.push(`decoder '${c.decoder}' needs a VGG encoder (it reuses VGG's five pooling indices)`);
  if (typeof c.inferenceFlip !== 'boolean') problems.push(`inferenceFlip ${c.inferenceFlip} (true or false)`);
  if (!(c.inferenceScale > 0 && c.inferenceScale <= 4)) problems.push(`inferenceScale ${c.inferenceScale} (in (0, 4])`);
  if (!['raw', 'normalised'].includes(c.inputs)) problems.push(`inputs '${c.inputs}' (raw or normalised)`);
  if (!['none', 'imagenet', 'torchvision'].includes(c.imageMean)) problems.push(`imageMean '${c.imageMean}' (none, imagenet or torchvision)`);
  for (const [k, v] of Object.entries(c.lossWeights)) if (!(v >= 0 && Number.isFinite(v))) problems.push(`loss weight ${k} = ${v}`);
  if (problems.length) throw new Error(`invalid model config: ${problems.join('; ')}`);
}

/** Channels scaled by the width multiplier (never below 1). */
export function scaled(channels: number, width: number): number {
  return Math.max(1, Math.round(channels * width));
}
