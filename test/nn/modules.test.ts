import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { Generator } from '../../engine/random.ts';
import { fans, initValues } from '../../engine/nn/init.ts';
import { Module } from '../../engine/nn/module.ts';
import { Conv2d, ConvTranspose2d, BatchNorm2d, ReLU, Sequential } from '../../engine/nn/layers.ts';
import type { Tensor } from '../../engine/tensor.ts';

useEngine();

const moments = (v: Float32Array) => {
  const m = v.reduce((s, x) => s + x, 0) / v.length;
  return { mean: m, std: Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length), min: Math.min(...v), max: Math.max(...v) };
};

describe('initialisation', () => {
  it("fans follow torch.nn.init's definition (dim 1 in, dim 0 out, times the receptive field)", () => {
    expect(fans([64, 3, 3, 3])).toEqual({ fanIn: 27, fanOut: 576 });
    // a transposed conv weight [in=8, out=4, 5, 5]: PyTorch computes fan_in from dim 1 = 4*25
    expect(fans([8, 4, 5, 5])).toEqual({ fanIn: 100, fanOut: 200 });
    expect(fans([10, 20])).toEqual({ fanIn: 20, fanOut: 10 });
  });

  it('Kaiming and Xavier draw with the right spread, reproducibly', () => {
    const shape = [128, 64, 3, 3]; // fan_in 576, fan_out 1152
    const kn = moments(initValues('kaiming-normal', shape, new Generator(1)));
    expect(Math.abs(kn.std - Math.sqrt(2 / 576)) / Math.sqrt(2 / 576)).toBeLessThan(0.02);
    expect(Math.abs(kn.mean)).toBeLessThan(0.002);
    const ku = moments(initValues('kaiming-uniform', shape, new Generator(2)));
    const kuBound = Math.sqrt(6 / 576); // gain sqrt(2) * sqrt(3 / fan_in)
    expect(ku.max).toBeLessThanOrEqual(kuBound);
    expect(ku.min).toBeGreaterThanOrEqual(-kuBound);
    expect(ku.max).toBeGreaterThan(kuBound * 0.99);
    const xn = moments(initValues('xavier-normal', shape, new Generator(3)));
    expect(Math.abs(xn.std - Math.sqrt(2 / (576 + 1152))) / Math.sqrt(2 / 1728)).toBeLessThan(0.02);
    const xu = moments(initValues('xavier-uniform', shape, new Generator(4)));
    expect(xu.max).toBeLessThanOrEqual(Math.sqrt(6 / 1728));
    const kfo = moments(initValues('kaiming-normal', shape, new Generator(5), { mode: 'fan_out' }));
    expect(Math.abs(kfo.std - Math.sqrt(2 / 1152)) / Math.sqrt(2 / 1152)).toBeLessThan(0.02);
    expect(Array.from(initValues('kaiming-normal', [4, 3], new Generator(9)))).toEqual(Array.from(initValues('kaiming-normal', [4, 3], new Generator(9))));
    expect(Array.from(initValues('kaiming-normal', [4, 3], new Generator(9)))).not.toEqual(Array.from(initValues('kaiming-normal', [4, 3], new Generator(10))));
  });
});

class Block extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(rng: Generator) {
    super();
    this.conv = this.addModule('conv', new Conv2d(3, 4, 3, { padding: 1, rng }));
    this.bn = this.addModule('bn', new BatchNorm2d(4));
  }
  forward(x: Tensor): Tensor {
    return this.bn.forward(this.conv.forward(x));
  }
}

class Net extends Module {
  readonly block: Block;
  readonly head: Sequential;
  constructor() {
    super();
    const rng = new Generator(0);
    this.block = this.addModule('block', new Block(rng));
    this.head = this.addModule('head', new Sequential([new ReLU(), new ConvTranspose2d(4, 2, 5, { stride: 2, padding: 'same', rng })]));
  }
}

describe('modules', () => {
  it('name parameters and buffers with dotted PyTorch-style names and PyTorch layouts', () => {
    const net = new Net();
    expect(net.namedParameters().map(([n, t]) => `${n}:${t.shape.join('x')}`)).toEqual([
      'block.conv.weight:4x3x3x3',
      'block.conv.bias:4',
      'block.bn.weight:4',
      'block.bn.bias:4',
      'head.1.weight:4x2x5x5', // transposed conv: [in, out, kh, kw]
      'head.1.bias:2',
    ]);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(['block.bn.running_mean', 'block.bn.running_var', 'block.bn.num_batches_tracked']);
    expect(net.parameterCount()).toBe(108 + 4 + 8 + 200 + 2);
    net.dispose();
  });

  it('train/eval reach every submodule; freeze stops gradients of a subtree', () => {
    const net = new Net();
    net.eval();
    expect(net.block.bn.training).toBe(false);
    net.train();
    expect(net.block.bn.training).toBe(true);
    net.block.freeze();
    expect(net.trainableParameters().map((p) => p.name)).toEqual(['weight', 'bias']);
    expect(net.trainableParameters()).toEqual([net.head.namedParameters()[0]![1], net.head.namedParameters()[1]![1]]);
    net.block.freeze(false);
    expect(net.trainableParameters()).toHaveLength(6);
    net.dispose();
  });

  it('loadStateDict reports every mismatch by name and shape and writes nothing on failure', async () => {
    const net = new Net();
    const before = await net.block.conv.weight.data();
    const bad = new Map<string, Float32Array>([
      ['block.conv.weight', new Float32Array(108).fill(1)],
      ['block.conv.bias', new Float32Array(5)],
      ['nope.weight', new Float32Array(1)],
    ]);
    expect(() => net.loadStateDict(bad)).toThrow(/block\.conv\.bias: shape \[5\][\s\S]*missing[\s\S]*nope\.weight: not a parameter/);
    expect(Array.from(await net.block.conv.weight.data())).toEqual(Array.from(before));
    net.loadStateDict(new Map([['block.conv.weight', new Float32Array(108).fill(1)]]), { strict: false });
    expect((await net.block.conv.weight.data()).every((v) => v === 1)).toBe(true);
    net.dispose();
  });
});
