/**
 * Stage-1 decoders, from the encoder's 1/32 features to a 1-channel alpha (sigmoid).
 * - `deconv` (the seed): deconv6 1x1/2, deconv5..2 5x5/2 with 512/256/128/64 channels, deconv1 5x5/1
 *   64, all transposed convs with TF SAME padding and ReLU; then `alpha`, a 5x5 conv to 1 + sigmoid.
 * - `unpool` (the paper): deconv6 as a 1x1 conv to 512, then five times max-unpool with the image
 *   branch's pooling indices followed by a 5x5 conv + ReLU (512, 256, 128, 64, 64); then `alpha`.
 * - `unet` (ours, for from-scratch training on small data): unpooling plus skip connections, below.
 */
import { Module } from '../../engine/nn/module.ts';
import { Conv2d, ConvTranspose2d } from '../../engine/nn/layers.ts';
import { sigmoid } from '../../engine/ops/arith.ts';
import { maxUnpool2d } from '../../engine/ops/pool.ts';
import { concat } from '../../engine/ops/concat.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { Generator } from '../../engine/random.ts';
import { scaled } from './config.ts';
import type { EncoderOutput } from './vgg16.ts';

export const DECONV_CHANNELS: [string, number, number, number][] = [
  // name, channels, kernel, stride
  ['deconv6', 512, 1, 2],
  ['deconv5', 512, 5, 2],
  ['deconv4', 256, 5, 2],
  ['deconv3', 128, 5, 2],
  ['deconv2', 64, 5, 2],
  ['deconv1', 64, 5, 1],
];

export class DeconvDecoder extends Module {
  private readonly layers: ConvTranspose2d[] = [];
  private readonly alpha: Conv2d;

  constructor(inChannels: number, width: number, rng: Generator) {
    super();
    let c = inChannels;
    for (const [name, ch, k, s] of DECONV_CHANNELS) {
      const out = scaled(ch, width);
      this.layers.push(this.addModule(name, new ConvTranspose2d(c, out, k, { stride: s, padding: 'same', rng })));
      c = out;
    }
    this.alpha = this.addModule('alpha', new Conv2d(c, 1, 5, { padding: 'same', rng, init: 'xavier-normal' }));
  }

  forward(enc: EncoderOutput): Tensor {
    let h = enc.features;
    for (const l of this.layers) h = l.forwardRelu(h);
    return sigmoid(this.alpha.forward(h));
  }
}

export const UNPOOL_CHANNELS: [string, number][] = [
  ['deconv5', 512],
  ['deconv4', 256],
  ['deconv3', 128],
  ['deconv2', 64],
  ['deconv1', 64],
];

export class UnpoolDecoder extends Module {
  private readonly deconv6: Conv2d;
  private readonly convs: Conv2d[] = [];
  private readonly alpha: Conv2d;

  constructor(inChannels: number, width: number, rng: Generator) {
    super();
    // Each unpool reuses a VGG pooling's indices, so its input has that block's channel count.
    const poolChannels = [512, 512, 256, 128, 64].map((c) => scaled(c, width));
    this.deconv6 = this.addModule('deconv6', new Conv2d(inChannels, poolChannels[0]!, 1, { rng }));
    UNPOOL_CHANNELS.forEach(([name, ch], i) => {
      const inC = poolChannels[i]!;
      this.convs.push(this.addModule(name, new Conv2d(inC, scaled(ch, width), 5, { padding: 'same', rng })));
    });
    this.alpha = this.addModule('alpha', new Conv2d(scaled(64, width), 1, 5, { padding: 'same', rng, init: 'xavier-normal' }));
  }

  forward(enc: EncoderOutput): Tensor {
    let h = this.deconv6.forwardRelu(enc.features);
    this.convs.forEach((conv, i) => {
      const pool = enc.pools[4 - i]!;
      h = maxUnpool2d(h, pool.indices, pool.size);
      h = conv.forwardRelu(h);
    });
    return sigmoid(this.alpha.forward(h));
  }
}

/**
 * `unet`: the paper's unpooling decoder with skip connections from the encoder, as later matting
 * networks add them (GCA, IndexNet): from-scratch training on small data learns local colour
 * evidence much faster when full-resolution features reach the output. deconv6 is a 1x1 conv to
 * block 5's channels; then for block b = 5..1: max-unpool with block b's pooling indices, concat
 * block b's pre-pool activation (at block 1 also the network's own input, the normalised image and
 * trimap), and a 3x3 conv + ReLU to the channels of block b-1 (64 at block 1); then `alpha`, a 3x3
 * conv to 1 + sigmoid. Parameter names: decoder.deconv6, decoder.up5 .. decoder.up1, decoder.alpha.
 */
export class UnetDecoder extends Module {
  private readonly deconv6: Conv2d;
  private readonly ups: Conv2d[] = [];
  private readonly alpha: Conv2d;

  constructor(inChannels: number, inputChannels: number, width: number, rng: Generator) {
    super();
    const block = [64, 128, 256, 512, 512].map((c) => scaled(c, width));
    this.deconv6 = this.addModule('deconv6', new Conv2d(inChannels, block[4]!, 1, { rng }));
    for (let b = 5; b >= 1; b--) {
      const inC = 2 * block[b - 1]! + (b === 1 ? inputChannels : 0);
      const outC = b === 1 ? block[0]! : block[b - 2]!;
      this.ups.push(this.addModule(`up${b}`, new Conv2d(inC, outC, 3, { padding: 1, rng })));
    }
    this.alpha = this.addModule('alpha', new Conv2d(block[0]!, 1, 3, { padding: 1, rng, init: 'xavier-normal' }));
  }

  forward(enc: EncoderOutput, input: Tensor): Tensor {
    if (enc.skips.length !== 5 || enc.pools.length !== 5) throw new Error("decoder 'unet' needs the five VGG blocks' pooling indices and activations");
    let h = this.deconv6.forwardRelu(enc.features);
    this.ups.forEach((conv, i) => {
      const b = 5 - i;
      const pool = enc.pools[b - 1]!;
      h = maxUnpool2d(h, pool.indices, pool.size);
      const parts = [h, enc.skips[b - 1]!];
      if (b === 1) parts.push(input);
      h = conv.forwardRelu(concat(parts, 1));
    });
    return sigmoid(this.alpha.forward(h));
  }
}
