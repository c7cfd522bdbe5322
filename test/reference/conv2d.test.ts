import { describe, expect, it } from 'vitest';
import { arr, mulberry32, randomArr } from './array.ts';
import { type Conv2dOpts, conv2d, conv2dBackward, conv2dOutShape, tfConv2dOpts, tfPadding } from './conv2d.ts';
import { convTranspose2d } from './conv-transpose2d.ts';
import { maxRelError } from './finite-diff.ts';
import { checkBackward, expectClose } from './grad-check.ts';

const plain: Conv2dOpts = { stride: [1, 1], padding: [0, 0, 0, 0], dilation: [1, 1] };
const x3x3 = arr([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
const w2x2 = arr([1, 1, 2, 2], [1, 2, 3, 4]);

describe('conv2d forward, hand-computed', () => {
  it('2x2 kernel, no padding, bias', () => {
    // y[i,j] = 1*x[i,j] + 2*x[i,j+1] + 3*x[i+1,j] + 4*x[i+1,j+1] + 0.5
    // (0,0): 1+4+12+20 = 37   (0,1): 2+6+15+24 = 47
    // (1,0): 4+10+21+32 = 67  (1,1): 5+12+24+36 = 77
    const y = conv2d(x3x3, w2x2, arr([1], [0.5]), plain);
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expectClose(y, [37.5, 47.5, 67.5, 77.5]);
  });

  it('stride 2 with asymmetric padding (top 1, bottom 0, left 0, right 1)', () => {
    // OH = floor((3+1+0-1-1)/2)+1 = 2, OW = floor((3+0+1-1-1)/2)+1 = 2.
    // Output (oh,ow) reads rows 2oh-1+ki, cols 2ow+kj; out-of-range cells are 0.
    // (0,0): row -1 pad; row 0: x00*3 + x01*4 = 3 + 8 = 11
    // (0,1): row 0, cols 2,3: x02*3 = 9 (col 3 is padding)
    // (1,0): rows 1,2, cols 0,1: 4*1 + 5*2 + 7*3 + 8*4 = 67
    // (1,1): rows 1,2, cols 2,3: 6*1 + 9*3 = 33
    const y = conv2d(x3x3, w2x2, null, { stride: [2, 2], padding: [1, 0, 0, 1], dilation: [1, 1] });
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expectClose(y, [11, 9, 67, 33]);
  });

  it('dilation 2, two input and two output channels, batch 2 ([O, C, kh, kw] layout)', () => {
    // Input channel 0 = 1..9, channel 1 = all ones; image 1 = 2 * image 0.
    // Dilation 2 on a 2x2 kernel taps the 3x3 corners; OH = OW = floor((3 - 2 - 1)/1) + 1 = 1.
    // Filter 0: ch0 [[1,1],[1,1]] -> 1+3+7+9 = 20; ch1 [[1,-1],[2,0]] -> 1-1+2+0 = 2; total 22.
    // Filter 1: ch0 [[0,0],[0,1]] -> picks x[2,2] = 9; ch1 zeros; total 9.
    // Image 1 is twice image 0 and the conv is linear without bias: 44, 18.
    const img0 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    const x = arr([2, 2, 3, 3], [...img0, ...img0.map((v) => 2 * v)]);
    const w = arr([2, 2, 2, 2], [1, 1, 1, 1, 1, -1, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    const y = conv2d(x, w, null, { stride: [1, 1], padding: [0, 0, 0, 0], dilation: [2, 2] });
    expect(y.shape).toEqual([2, 2, 1, 1]);
    expectClose(y, [22, 9, 44, 18]);
  });

  it('tfPadding matches TensorFlow SAME/VALID by hand', () => {
    // in 10, k 7, s 1: out 10, total = 9*1 + 7 - 10 = 6 -> [3, 3]   (the seed's fc6)
    expect(tfPadding('same', 10, 7, 1, 1)).toEqual([3, 3]);
    // in 5, k 2, s 2: out 3, total = 2*2 + 2 - 5 = 1 -> [0, 1]  (extra pixel goes after)
    expect(tfPadding('same', 5, 2, 2, 1)).toEqual([0, 1]);
    // in 6, k 3, s 2: out 3, total = 4 + 3 - 6 = 1 -> [0, 1]
    expect(tfPadding('same', 6, 3, 2, 1)).toEqual([0, 1]);
    // in 7, k 3, s 2: out 4, total = 6 + 3 - 7 = 2 -> [1, 1]
    expect(tfPadding('same', 7, 3, 2, 1)).toEqual([1, 1]);
    // in 4, k 1, s 2: out 2, total = max(2 + 1 - 4, 0) = 0
    expect(tfPadding('same', 4, 1, 2, 1)).toEqual([0, 0]);
    // in 5, k 3, d 2: effective kernel 5, out 5, total = 4 + 5 - 5 = 4 -> [2, 2]
    expect(tfPadding('same', 5, 3, 1, 2)).toEqual([2, 2]);
    // in 8, k 4, s 1: total 3 -> [1, 2]
    expect(tfPadding('same', 8, 4, 1, 1)).toEqual([1, 2]);
    expect(tfPadding('valid', 8, 4, 2, 1)).toEqual([0, 0]);
  });

  it('TF output sizes: SAME gives ceil(in/s), VALID gives ceil((in - effK + 1)/s)', () => {
    for (let inSize = 1; inSize <= 12; inSize++)
      for (const k of [1, 2, 3, 5, 7])
        for (const s of [1, 2, 3])
          for (const d of [1, 2]) {
            const same = tfConv2dOpts('same', [inSize, inSize], [k, k], [s, s], [d, d]);
            const ys = conv2dOutShape([1, 1, inSize, inSize], [1, 1, k, k], same);
            expect(ys[2]).toBe(Math.ceil(inSize / s));
            const effK = (k - 1) * d + 1;
            if (inSize >= effK) {
              const valid = tfConv2dOpts('valid', [inSize, inSize], [k, k], [s, s], [d, d]);
              expect(conv2dOutShape([1, 1, inSize, inSize], [1, 1, k, k], valid)[2]).toBe(Math.ceil((inSize - effK + 1) / s));
            }
          }
  });
});

interface Case {
  name: string;
  x: number[];
  w: number[];
  o: Conv2dOpts;
  bias: boolean;
}

const cases: Case[] = [
  { name: '3x3 s1 pad 1, C3->O4, batch 2, odd sizes', x: [2, 3, 7, 6], w: [4, 3, 3, 3], o: { stride: [1, 1], padding: [1, 1, 1, 1], dilation: [1, 1] }, bias: true },
  { name: '5x5 s2 asymmetric padding', x: [1, 2, 9, 8], w: [3, 2, 5, 5], o: { stride: [2, 2], padding: [2, 1, 0, 3], dilation: [1, 1] }, bias: true },
  { name: '3x3 dilation 2, pad 2', x: [2, 1, 8, 9], w: [2, 1, 3, 3], o: { stride: [1, 1], padding: [2, 2, 2, 2], dilation: [2, 2] }, bias: false },
  { name: '1x1 stride 2, C5', x: [1, 5, 4, 5], w: [1, 5, 1, 1], o: { stride: [2, 2], padding: [0, 0, 0, 0], dilation: [1, 1] }, bias: true },
  { name: '7x7 TF SAME (fc6-like)', x: [1, 2, 10, 9], w: [2, 2, 7, 7], o: tfConv2dOpts('same', [10, 9], [7, 7], [1, 1]), bias: true },
  { name: '3x3 TF SAME stride 2 (asymmetric)', x: [2, 2, 7, 6], w: [3, 2, 3, 3], o: tfConv2dOpts('same', [7, 6], [3, 3], [2, 2]), bias: true },
  { name: '3x3 TF SAME dilation 2', x: [1, 3, 5, 6], w: [2, 3, 3, 3], o: tfConv2dOpts('same', [5, 6], [3, 3], [1, 1], [2, 2]), bias: false },
  { name: '5x5 TF VALID stride 2', x: [2, 1, 11, 9], w: [2, 1, 5, 5], o: tfConv2dOpts('valid', [11, 9], [5, 5], [2, 2]), bias: true },
  { name: 'non-square 3x2 kernel, stride (2,1), dilation (1,2)', x: [1, 2, 6, 7], w: [2, 2, 3, 2], o: { stride: [2, 1], padding: [1, 0, 2, 1], dilation: [1, 2] }, bias: true },
];

describe('conv2d backward vs finite differences', () => {
  for (const c of cases) {
    it(c.name, () => {
      const rng = mulberry32(c.name.length * 7919 + 1);
      const inputs = [randomArr(c.x, rng), randomArr(c.w, rng)];
      if (c.bias) inputs.push(randomArr([c.w[0]], rng));
      checkBackward(
        ([x, w, b]) => conv2d(x, w, b ?? null, c.o),
        ([x, w], dy) => {
          const g = conv2dBackward(x, w, dy, c.o, c.bias);
          return c.bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
        },
        inputs,
        rng,
      );
    });
  }

  it('dx equals the transposed convolution of dy with the same weights (adjoint relation)', () => {
    for (const c of cases) {
      const rng = mulberry32(99);
      const x = randomArr(c.x, rng);
      const w = randomArr(c.w, rng);
      const outShape = conv2dOutShape(c.x, c.w, c.o);
      const dy = randomArr(outShape, rng);
      const { dx } = conv2dBackward(x, w, dy, c.o, false);
      // conv weight [O, C, kh, kw] read as a transposed-conv weight [Cin = O, Cout = C, kh, kw]
      const viaT = convTranspose2d(dy, w, null, {
        stride: c.o.stride,
        padding: [c.o.padding[0], c.o.padding[2]],
        outSize: [c.x[2], c.x[3]],
        dilation: c.o.dilation,
      });
      expect(maxRelError(dx, viaT)).toBeLessThan(1e-14);
    }
  });
});
