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
