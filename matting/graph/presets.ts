/**
 * Named model configurations: `tiny` learns visibly on a CPU adapter in minutes (the CLI's default
 * training preset), `paper` is the seed's network, `resnet50` the ResNet-50 encoder variant.
 */
import type { ModelConfig } from './config.ts';

export const MODEL_PRESETS = {
  tiny: { encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', inputSize: 64, width: 1 / 16 },
  paper: { encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', inputSize: 320, width: 1 },
  resnet50: { encoder: 'resnet50-dual', decoder: 'deconv', refine: 'sigmoid', inputSize: 640, width: 1 },
} as const satisfies Record<string, Partial<ModelConfig>>;

export type ModelPresetName = keyof typeof MODEL_PRESETS;
