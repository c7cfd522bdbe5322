/**
 * One VGG-16 branch of the encoder: conv1_1 .. conv5_3 (3x3, ReLU), a 2x2/2 max-pool after each of the
 * five blocks, then fc6 as a 7x7 SAME convolution with 4096 channels and ReLU (the seed's change from
 * slim's VALID fc6, which would shrink 10x10 to 4x4). No batch norm, as in the seed.
 */
import { Module } from '../../engine/nn/module.ts';
import { Conv2d } from '../../engine/nn/layers.ts';
import { maxPool2d } from '../../engine/ops/pool.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { Generator } from '../../engine/random.ts';
import { scaled } from './config.ts';

export const VGG16_BLOCKS: number[][] = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]];
export const FC6_CHANNELS = 4096;

export interface EncoderOutput {
  features: Tensor;
  /** Pooling indices and the pre-pool sizes, block 1 to 5 (for the unpooling decoders). */
  pools: { indices: Tensor; size: [number, number] }[];
  /** Each block's last activation before its pooling, block 1 to 5 (for the skip connections of the `unet` decoder). */
  skips: Tensor[];
}

export class Vgg16Branch extends Module {
  private readonly convs: Conv2d[][] = [];
  readonly fc6: Conv2d;
  readonly outChannels: number;

  constructor(inChannels: number, width: number, rng: Generator) {
    super();
    let c = inChannels;
    VGG16_BLOCKS.forEach((block, b) => {
      const row: Conv2d[] = [];
      block.forEach((channels, i) => {
        const out = scaled(channels, width);
        row.push(this.addModule(`conv${b + 1}_${i + 1}`, new Conv2d(c, out, 3, { padding: 1, rng })));
        c = out;
      });
      this.convs.push(row);
    });
    this.outChannels = scaled(FC6_CHANNELS, width);
    this.fc6 = this.addModule('fc6', new Conv2d(c, this.outChannels, 7, { padding: 'same', rng }));
  }

  forward(x: Tensor, withIndices: boolean): EncoderOutput {
    let h = x;
    const pools: EncoderOutput['pools'] = [];
    const skips: Tensor[] = [];
    for (const block of this.convs) {
      for (const conv of block) h = conv.forwardRelu(h);
      skips.push(h);
      const size: [number, number] = [h.shape[2]!, h.shape[3]!];
      const p = maxPool2d(h, { kernelSize: 2, stride: 2, returnIndices: withIndices });
      if (withIndices) pools.push({ indices: p.indices!, size });
      h = p.y;
    }
    return { features: this.fc6.forwardRelu(h), pools, skips };
  }
}
