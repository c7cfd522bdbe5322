/** The layers the matting network is built from, each a Module over the engine's ops. */
import { Module } from './module.ts';
import { Tensor } from '../tensor.ts';
import { Generator } from '../random.ts';
import { initTensor, type InitKind } from './init.ts';
import { conv2d, convTranspose2d, type Padding, type Pair } from '../ops/conv.ts';
import { relu, sigmoid } from '../ops/arith.ts';
import { batchNorm2d } from '../ops/batch-norm.ts';
import { maxPool2d } from '../ops/pool.ts';
import { fill, mapElementwise } from '../kernels/elementwise.ts';

export interface ConvInit {
  rng: Generator;
  /** Weight scheme; default Kaiming normal (fan-in, ReLU gain). Biases start at zero. */
  init?: InitKind;
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly options: { stride?: Pair; padding?: Padding; dilation?: Pair; bias?: boolean } & ConvInit,
  ) {
    super();
    this.weight = this.addParameter('weight', initTensor(options.init ?? 'kaiming-normal', [outChannels, inChannels, kernelSize, kernelSize], options.rng));
    this.bias = options.bias === false ? null : this.addParameter('bias', fill([outChannels], 0));
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }

  /** relu(forward(x)), the ReLU fused into the conv (one pass fewer forward and backward). */
  forwardRelu(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { ...this.options, relu: true });
  }
}

export class ConvTranspose2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly options: { stride?: Pair; padding?: Pair | 'same'; outputPadding?: Pair; bias?: boolean } & ConvInit,
  ) {
    super();
    // PyTorch layout [in, out, kh, kw]; PyTorch's fan-in for it is out*kh*kw.
    this.weight = this.addParameter('weight', initTensor(options.init ?? 'kaiming-normal', [inChannels, outChannels, kernelSize, kernelSize], options.rng));
    this.bias = options.bias === false ? null : this.addParameter('bias', fill([outChannels], 0));
  }

  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.options);
  }

  /** relu(forward(x)), bias and ReLU in one pass and the mask fused into the bias gradient. */
  forwardRelu(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, { ...this.options, relu: true });
  }
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked: Tensor;

  constructor(
    readonly channels: number,
    readonly options: { momentum?: number; eps?: number } = {},
  ) {
    super();
    this.weight = this.addParameter('weight', fill([channels], 1));
    this.bias = this.addParameter('bias', fill([channels], 0));
    this.runningMean = this.addBuffer('running_mean', fill([channels], 0));
    this.runningVar = this.addBuffer('running_var', fill([channels], 1));
    // PyTorch keeps an int64 counter; we keep it as f32 on the GPU (exact to 2^24 batches), saved as I64.
    this.numBatchesTracked = this.addBuffer('num_batches_tracked', fill([], 0));
  }

  forward(x: Tensor): Tensor {
    if (this.training) mapElementwise('countBatch', 'a + 1.0', [this.numBatchesTracked], { out: this.numBatchesTracked, inPlace: true });
    return batchNorm2d(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: this.training,
      momentum: this.options.momentum ?? 0.1,
      eps: this.options.eps ?? 1e-5,
    });
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: number, readonly stride = kernelSize, readonly padding: number | 'same' | 'valid' = 0) {
    super();
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding }).y;
  }

  /** The output and the argmax indices (for max-unpooling). */
  forwardWithIndices(x: Tensor): { y: Tensor; indices: Tensor } {
    const r = maxPool2d(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, returnIndices: true });
    return { y: r.y, indices: r.indices! };
  }
}

/** Layers applied in order; children are named by their index unless names are given. */
export class Sequential extends Module {
  private readonly layers: { forward(x: Tensor): Tensor }[] = [];

  constructor(layers: (Module & { forward(x: Tensor): Tensor })[] | [string, Module & { forward(x: Tensor): Tensor }][]) {
    super();
    layers.forEach((l, i) => {
      const [name, m] = Array.isArray(l) ? l : [String(i), l];
      this.addModule(name, m);
      this.layers.push(m);
    });
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (const l of this.layers) h = l.forward(h);
    return h;
  }
}
