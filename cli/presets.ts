/** Training presets: a small model that learns visibly in minutes on a CPU adapter, and the paper's. */
import type { ModelConfig } from '../matting/graph/config.ts';

export interface Preset {
  summary: string;
  config: Partial<ModelConfig>;
  batchSize: number;
  lr: number;
  steps: number;
  logEvery: number;
  checkpointEvery: number;
  syntheticCount: number;
  /** Augmentation defaults of the preset (else matting/data/augment.ts's). */
  augment?: { cropScales?: number[]; trimapKernel?: [number, number] };
}

export const PRESETS: Record<string, Preset> = {
  tiny: {
    summary: 'vgg16-dual at 1/16 width, 64x64 input: learns on a CPU adapter in minutes',
    config: { encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', inputSize: 64, width: 1 / 16 },
    batchSize: 4,
    lr: 1e-3,
    steps: 300,
    logEvery: 10,
    checkpointEvery: 50,
    syntheticCount: 256,
  },
  paper: {
    summary: "the seed's vgg16-dual at 320x320, full width (a GPU is advised)",
    config: { encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', inputSize: 320, width: 1 },
    batchSize: 1,
    lr: 1e-5,
    steps: 100000,
    logEvery: 20,
    checkpointEvery: 1000,
    syntheticCount: 2048,
  },
  resnet50: {
    summary: 'resnet50-dual at 640x640, full width (a GPU is required in practice)',
    config: { encoder: 'resnet50-dual', decoder: 'deconv', refine: 'sigmoid', inputSize: 640, width: 1 },
    batchSize: 2,
    lr: 1e-5,
    steps: 100000,
    logEvery: 20,
    checkpointEvery: 1000,
    syntheticCount: 2048,
  },
};
