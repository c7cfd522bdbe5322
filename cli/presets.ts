/** Training presets: a small model that learns visibly in minutes on a CPU adapter, and the paper's. */
import type { ModelConfig } from '../matting/graph/config.ts';
import { MODEL_PRESETS } from '../matting/graph/presets.ts';

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
    config: MODEL_PRESETS.tiny,
    batchSize: 4,
    lr: 1e-3,
    steps: 300,
    logEvery: 10,
    checkpointEvery: 50,
    syntheticCount: 256,
  },
  paper: {
    summary: "the seed's vgg16-dual at 320x320, full width (a GPU is advised)",
    config: MODEL_PRESETS.paper,
    batchSize: 1,
    lr: 1e-5,
    steps: 100000,
    logEvery: 20,
    checkpointEvery: 1000,
    syntheticCount: 2048,
  },
  resnet50: {
    summary: 'resnet50-dual at 640x640, full width (a GPU is required in practice)',
    config: MODEL_PRESETS.resnet50,
    batchSize: 2,
    lr: 1e-5,
    steps: 100000,
    logEvery: 20,
    checkpointEvery: 1000,
    syntheticCount: 2048,
  },
};
