/**
 * A ResNet-50 v1 trunk (bottleneck blocks with batch norm, torchvision's layout and names: conv1,
 * bn1, layer1.0.conv1, ..., layer4.2.bn3, downsample.0/1), without global pooling: 2048 channels at
 * 1/32 of the input. Stride sits on the 3x3 conv of a block, as in torchvision.
 */
import { Module } from '../../engine/nn/module.ts';
import { BatchNorm2d, Conv2d } from '../../engine/nn/layers.ts';
import { add, relu } from '../../engine/ops/arith.ts';
import { maxPool2d } from '../../engine/ops/pool.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { Generator } from '../../engine/random.ts';
import { scaled } from './config.ts';

export const RESNET50_LAYERS: [number, number][] = [[64, 3], [128, 4], [256, 6], [512, 3]];
const EXPANSION = 4;

class Bottleneck extends Module {
  private readonly conv1: Conv2d; private readonly bn1: BatchNorm2d;
  private readonly conv2: Conv2d; private readonly bn2: BatchNorm2d;
  private readonly conv3: Conv2d; private readonly bn3: BatchNorm2d;
  private readonly downsample: { conv: Conv2d; bn: BatchNorm2d } | null;

  constructor(inC: number, mid: number, stride: number, rng: Generator) {
    super();
    const out = mid * EXPANSION;
    this.conv1 = this.addModule('conv1', new Conv2d(inC, mid, 1, { bias: false, rng }));
    this.bn1 = this.addModule('bn1', new BatchNorm2d(mid));
    this.conv2 = this.addModule('conv2', new Conv2d(mid, mid, 3, { stride, padding: 1, bias: false, rng }));
    this.bn2 = this.addModule('bn2', new BatchNorm2d(mid));
    this.conv3 = this.addModule('conv3', new Conv2d(mid, out, 1, { bias: false, rng }));
    this.bn3 = this.addModule('bn3', new BatchNorm2d(out));
    if (stride !== 1 || inC !== out) {
      const ds = new DownsampleSequential(new Conv2d(inC, out, 1, { stride, bias: false, rng }), new BatchNorm2d(out));
      this.addModule('downsample', ds);
      this.downsample = { conv: ds.conv, bn: ds.bn };
    } else this.downsample = null;
  }

  forward(x: Tensor): Tensor {
    let h = relu(this.bn1.forward(this.conv1.forward(x)));
    h = relu(this.bn2.forward(this.conv2.forward(h)));
    h = this.bn3.forward(this.conv3.forward(h));
    const skip = this.downsample ? this.downsample.bn.forward(this.downsample.conv.forward(x)) : x;
    return relu(add(h, skip));
  }
}

/** torchvision names the shortcut's conv and bn `downsample.0` and `downsample.1`. */
class DownsampleSequential extends Module {
  constructor(readonly conv: Conv2d, readonly bn: BatchNorm2d) {
    super();
    this.addModule('0', conv);
    this.addModule('1', bn);
  }
}

class ResLayer extends Module {
  readonly blocks: Bottleneck[] = [];
  constructor(inC: number, mid: number, count: number, stride: number, rng: Generator) {
    super();
    for (let i = 0; i < count; i++) {
      this.blocks.push(this.addModule(String(i), new Bottleneck(i === 0 ? inC : mid * EXPANSION, mid, i === 0 ? stride : 1, rng)));
    }
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const b of this.blocks) h = b.forward(h);
    return h;
  }
}

export class ResNet50Branch extends Module {
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm2d;
  private readonly layers: ResLayer[] = [];
  readonly outChannels: number;

  constructor(inChannels: number, width: number, rng: Generator) {
    super();
    const stem = scaled(64, width);
    this.conv1 = this.addModule('conv1', new Conv2d(inChannels, stem, 7, { stride: 2, padding: 3, bias: false, rng }));
    this.bn1 = this.addModule('bn1', new BatchNorm2d(stem));
    let c = stem;
    RESNET50_LAYERS.forEach(([mid, count], i) => {
      const m = scaled(mid, width);
      this.layers.push(this.addModule(`layer${i + 1}`, new ResLayer(c, m, count, i === 0 ? 1 : 2, rng)));
      c = m * EXPANSION;
    });
    this.outChannels = c;
  }

  forward(x: Tensor): Tensor {
    let h = relu(this.bn1.forward(this.conv1.forward(x)));
    h = maxPool2d(h, { kernelSize: 3, stride: 2, padding: 1 }).y;
    for (const l of this.layers) h = l.forward(h);
    return h;
  }
}
