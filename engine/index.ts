/**
 * matting-engine's core (the package's main entry, `matting-engine`): the engine and its device,
 * tensors, differentiable ops with autograd, modules, optimisers, and safetensors in memory.
 * Browser-safe: nothing here imports Node. In Node the package's `node` export condition loads
 * node/engine-entry.ts instead, which is this plus Dawn as the default device source.
 * To add a module: export it here (and document it in docs/api.md; test/package/api-docs.test.ts
 * checks that every export is documented).
 */
export { initEngine, engine, shutdownEngine, setDeviceSource, Engine, type InitOptions, type DeviceSource, type BufferSlice } from './engine.ts';
export { requestEngineDevice, describeDevice, type AcquiredDevice, type EngineLimits, type EngineFeatures } from './device-info.ts';
export { GpuError, KernelCompileError, DeviceLostError } from './gpu-error.ts';
export { Tensor, Storage, shapeSize, type DType } from './tensor.ts';
export { tidy, tidyAsync, keep } from './scope.ts';
export { Generator } from './random.ts';
export { tensor, zeros, ones, full, rand, randn, type NestedArray, type RandomOptions } from './creation.ts';
export { noGrad, noGradAsync } from './autograd/graph.ts';
export { backward } from './autograd/backward.ts';
export { add, sub, mul, div, neg, affine, addScalar, mulScalar, sqrt, square, relu, sigmoid, where, sum, mean, reshape, clamp, type Operand } from './ops/arith.ts';
export { eq, ne, gt, ge, lt, le } from './ops/arith.ts';
export { copy, fill } from './kernels/elementwise.ts';
export { Optimizer, Adam, AdamW, SGD, clipGradNorm, gradNorm, applyLr, constantLr, stepDecay, cosineAnnealing, linearWarmup } from './optim/index.ts';
export type { BaseGroupOptions, ParamGroup, ParamGroupSpec, ParamState, ZeroGradOptions, AdamOptions, AdamConfig, SgdOptions, LrSchedule } from './optim/index.ts';
export { conv2d, convTranspose2d, type Conv2dOptions, type ConvTranspose2dOptions } from './ops/conv.ts';
export { Module } from './nn/module.ts';
export { Conv2d, ConvTranspose2d, BatchNorm2d, ReLU, Sigmoid, MaxPool2d, Sequential } from './nn/layers.ts';
export { initTensor, initValues, fans, type InitKind } from './nn/init.ts';
export { maxPool2d, maxUnpool2d, type MaxPool2dOptions } from './ops/pool.ts';
export { batchNorm2d, batchNorm2d as batchNorm, type BatchNorm2dOptions } from './ops/batch-norm.ts';
export { concat, concat as cat, slice, crop2d } from './ops/concat.ts';
export { charbonnierLoss } from './ops/charbonnier.ts';
export { parseSafetensors, serializeSafetensors, type SafetensorsContent } from './io/safetensors-bytes.ts';
export { validateHeader, type SafetensorsHeader, type TensorInfo } from './io/safetensors-header.ts';
export {
  SafetensorsError,
  DTYPES,
  dtypeSize,
  isDtype,
  tensorByteLength,
  toFloat32,
  toTypedArray,
  f32Entry,
  f64Entry,
  f16Entry,
  bf16Entry,
  i64Entry,
  i32Entry,
  i16Entry,
  i8Entry,
  u8Entry,
  boolEntry,
  type Dtype,
  type DtypeArrays,
  type TensorEntry,
} from './io/safetensors-common.ts';
