/** Shared pieces of the reliability suite: a tiny model's training options and temp folders. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeConfig } from '../../matting/graph/config.ts';
import type { TrainOptions } from '../../matting/train/trainer.ts';

export const tmp = (tag = 'rel') => mkdtempSync(join(tmpdir(), `matting-${tag}-`));

export const TINY = { encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', inputSize: 32, width: 1 / 32, seed: 3 } as const;

/** In-process training options for the 1/32-width model on 32 px synthetic crops. */
export function trainOptions(outDir: string, over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    config: makeConfig(TINY),
    stage: 'joint',
    batchSize: 1,
    lr: 1e-3,
    schedule: 'constant',
    warmupSteps: 0,
    steps: 4,
    seed: 7,
    outDir,
    data: { kind: 'synthetic', count: 8 },
    workers: 0,
    logEvery: 1,
    checkpointEvery: 1,
    valDir: null,
    valEvery: 0,
    valLimit: 0,
    resume: null,
    pretrained: null,
    clipNorm: null,
    weightDecay: 0,
    onNonFinite: 'stop',
    ...over,
  };
}
