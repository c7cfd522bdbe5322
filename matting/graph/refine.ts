/**
 * Stage 2, refinement: 4 conv3x3 on concat(image 0..255, alpha x 255) with 64/64/64/1 channels (with
 * config.inputs 'normalised': concat(image in [-1, 1], 2 alpha - 1), so the sigmoid starts unsaturated).
 * `sigmoid` (the seed): the last conv goes through a sigmoid. `residual` (the paper): the last conv's
 * output is added to the raw alpha and clamped to [0, 1].
 */
import { Module } from '../../engine/nn/module.ts';
import { Conv2d } from '../../engine/nn/layers.ts';
import { add, affine, clamp, sigmoid } from '../../engine/ops/arith.ts';
import { concat } from '../../engine/ops/concat.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { Generator } from '../../engine/random.ts';
import { scaled } from './config.ts';

export class Refinement extends Module {
  private readonly convs: Conv2d[];
  private readonly alpha: Conv2d;

  /** `normalised`: the image comes in already scaled to about [-1, 1] and alpha is fed as 2 alpha - 1. */
  constructor(readonly kind: 'sigmoid' | 'residual', width: number, rng: Generator, private readonly normalised = false) {
    super();
    const c = scaled(64, width);
    this.convs = [
      this.addModule('conv1', new Conv2d(4, c, 3, { padding: 1, rng })),
      this.addModule('conv2', new Conv2d(c, c, 3, { padding: 1, rng })),
      this.addModule('conv3', new Conv2d(c, c, 3, { padding: 1, rng })),
    ];
    this.alpha = this.addModule('alpha', new Conv2d(c, 1, 3, { padding: 1, rng, init: 'xavier-normal' }));
  }

  forward(image: Tensor, rawAlpha: Tensor): Tensor {
    let h = concat([image, this.normalised ? affine(rawAlpha, 2, -1) : affine(rawAlpha, 255)], 1);
    for (const conv of this.convs) h = conv.forwardRelu(h);
    const r = this.alpha.forward(h);
    return this.kind === 'sigmoid' ? sigmoid(r) : clamp(add(rawAlpha, r), 0, 1);
  }
}
