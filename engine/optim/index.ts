/** Optimisers (in-place WGSL updates, PyTorch semantics), gradient clipping and lr schedules. */
export { Optimizer, type BaseGroupOptions, type ParamGroup, type ParamGroupSpec, type ParamState, type ZeroGradOptions } from './optimizer.ts';
export { Adam, AdamW, type AdamOptions, type AdamConfig } from './adam.ts';
export { SGD, type SgdOptions } from './sgd.ts';
export { clipGradNorm, gradNorm } from './clip.ts';
export { constantLr, stepDecay, cosineAnnealing, linearWarmup, applyLr, type LrSchedule } from './schedule.ts';
