/** matting-engine's public API: tensors, ops with autograd, and the device. */
export { initEngine, engine, shutdownEngine, Engine } from './engine.ts';
export { acquireDevice, BACKENDS, NoAdapterError, BadBackendError, type DeviceOptions } from './device.ts';
export { GpuError, KernelCompileError, DeviceLostError } from './gpu-error.ts';
export { Tensor, Storage, shapeSize } from './tensor.ts';
export { tidy, tidyAsync, keep } from './scope.ts';
export { Generator } from './random.ts';
export { tensor, zeros, ones, full, rand, randn } from './creation.ts';
export { noGrad, noGradAsync } from './autograd/graph.ts';
export { backward } from './autograd/backward.ts';
export { add, sub, mul, div, affine, addScalar, mulScalar, sqrt, square, relu, sigmoid, where, sum, mean, reshape } from './ops/arith.ts';
export { copy, fill } from './kernels/elementwise.ts';
export { Optimizer, Adam, AdamW, SGD, clipGradNorm, gradNorm, applyLr, constantLr, stepDecay, cosineAnnealing, linearWarmup } from './optim/index.ts';
export type { BaseGroupOptions, ParamGroup, ParamGroupSpec, ParamState, ZeroGradOptions, AdamOptions, AdamConfig, SgdOptions, LrSchedule } from './optim/index.ts';
export { conv2d, convTranspose2d, type Conv2dOptions, type ConvTranspose2dOptions } from './ops/conv.ts';
export { clamp } from './ops/arith.ts';
export { Module } from './nn/module.ts';
export { Conv2d, ConvTranspose2d, BatchNorm2d, ReLU, Sigmoid, MaxPool2d, Sequential } from './nn/layers.ts';
export { initTensor, initValues, fans, type InitKind } from './nn/init.ts';
