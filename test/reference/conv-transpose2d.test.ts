import { describe, expect, it } from 'vitest';
import { arr, mulberry32, randomArr } from './array.ts';
import {
  type ConvT2dOpts,
  convTranspose2d,
  convTranspose2dBackward,
  tfSameConvTransposeOpts,
  torchConvTransposeOpts,
} from './conv-transpose2d.ts';
import { checkBackward, expectClose } from './grad-check.ts';

const x2x2 = arr([1, 1, 2, 2], [1, 2, 3, 4]);

describe('convTranspose2d forward, hand-computed', () => {
  it('stride 2, kernel 2: non-overlapping copies of the kernel scaled by each input', () => {
    // out = (2-1)*2 + 2 = 4. Input (i,j) writes x[i,j]*w[ki,kj] at (2i+ki, 2j+kj).
    // w = [[1, 10], [100, 1000]]
    // row 0: x00*1, x00*10, x01*1, x01*10         = 1, 10, 2, 20
    // row 1: x00*100, x00*1000, x01*100, x01*1000 = 100, 1000, 200, 2000
    // rows 2, 3: the same with x10 = 3, x11 = 4
    const w = arr([1, 1, 2, 2], [1, 10, 100, 1000]);
    const o = torchConvTransposeOpts([2, 2], [2, 2], [2, 2]);
    expect(o).toEqual({ stride: [2, 2], padding: [0, 0], outSize: [4, 4], dilation: [1, 1] });
    const y = convTranspose2d(x2x2, w, null, o);
    expectClose(y, [1, 10, 2, 20, 100, 1000, 200, 2000, 3, 30, 4, 40, 300, 3000, 400, 4000]);
  });

  it('stride 1, ones kernel: overlapping contributions add up; torch padding crops', () => {
    // out = (2-1)*1 + 2 = 3; with w = ones(2x2) each output sums the inputs whose kernel covers it:
    // [[x00, x00+x01, x01], [x00+x10, all, x01+x11], [x10, x10+x11, x11]]
    // = [[1, 3, 2], [4, 10, 6], [3, 7, 4]], plus bias 0.5
    const w = arr([1, 1, 2, 2], [1, 1, 1, 1]);
    const y = convTranspose2d(x2x2, w, arr([1], [0.5]), torchConvTransposeOpts([2, 2], [2, 2], [1, 1]));
    expectClose(y, [1.5, 3.5, 2.5, 4.5, 10.5, 6.5, 3.5, 7.5, 4.5]);
    // torch padding 1: out = 1*1 - 2 + 1 + 1 = 1, starting at output row/col 1 -> the centre 10.
    const oc = torchConvTransposeOpts([2, 2], [2, 2], [1, 1], [1, 1]);
    expect(oc.outSize).toEqual([1, 1]);
    expectClose(convTranspose2d(x2x2, w, null, oc), [10]);
  });

  it('two channels in, two out ([Cin, Cout, kh, kw] layout), 1x1 kernel', () => {
    // y[co] = sum_ci x[ci] * w[ci, co]; x = (1, 2) per pixel (single pixel), w = [[1, 2], [3, 4]]
    // y[0] = 1*1 + 2*3 = 7, y[1] = 1*2 + 2*4 = 10
    const x = arr([1, 2, 1, 1], [1, 2]);
    const w = arr([2, 2, 1, 1], [1, 2, 3, 4]);
    expectClose(convTranspose2d(x, w, null, torchConvTransposeOpts([1, 1], [1, 1], [1, 1])), [7, 10]);
  });

  it('TF SAME, kernel 3, stride 2: out = 2*in, crop 0 at the start, 1 at the end', () => {
    // W axis: in 2, out 4, total = max((2-1)*2 + 3 - 4, 0) = 1 -> start crop floor(1/2) = 0.
    // Input j writes x[j]*w[k] at 2j + k: j=0 -> pos 0,1,2 += 1,10,100; j=1 -> pos 2,3,(4) += 2,20,(200)
    // y = [1, 10, 102, 20]; position 4 lies outside the 4-wide output.
    const x = arr([1, 1, 1, 2], [1, 2]);
    const w = arr([1, 1, 1, 3], [1, 10, 100]);
    const o = tfSameConvTransposeOpts([1, 2], [1, 3], [1, 2]);
    expect(o).toEqual({ stride: [1, 2], padding: [0, 0], outSize: [1, 4], dilation: [1, 1] });
    expectClose(convTranspose2d(x, w, null, o), [1, 10, 102, 20]);
  });

  it('TF SAME, kernel 5, stride 2: start crop 1', () => {
    // in 2, out 4, total = 2 + 5 - 4 = 3 -> start crop 1. Input j writes x[j]*w[k] at 2j + k - 1.
    // j=0 (x=1): pos -1..3 get 1,2,3,4,5  -> pos0 2, pos1 3, pos2 4, pos3 5
    // j=1 (x=2): pos 1..5 get 2,4,6,8,10  -> pos1 2, pos2 4, pos3 6
    // y = [2, 5, 8, 11]
    const x = arr([1, 1, 1, 2], [1, 2]);
    const w = arr([1, 1, 1, 5], [1, 2, 3, 4, 5]);
    const o = tfSameConvTransposeOpts([1, 2], [1, 5], [1, 2]);
    expect(o.padding).toEqual([0, 1]);
    expectClose(convTranspose2d(x, w, null, o), [2, 5, 8, 11]);
  });

  it('TF SAME 1x1 stride 2 (the seed\'s deconv6): every other pixel, bias everywhere', () => {
    // total = max((2-1)*2 + 1 - 4, 0) = 0; input (i,j) lands on (2i, 2j) times w = 3, bias 1.
    const w = arr([1, 1, 1, 1], [3]);
    const y = convTranspose2d(x2x2, w, arr([1], [1]), tfSameConvTransposeOpts([2, 2], [1, 1], [2, 2]));
    expectClose(y, [4, 1, 7, 1, 1, 1, 1, 1, 10, 1, 13, 1, 1, 1, 1, 1]);
  });

  it('torch output size formula (with output_padding and dilation)', () => {
    // (in-1)*s - 2p + d(k-1) + 1 + op
    expect(torchConvTransposeOpts([5, 5], [5, 5], [2, 2], [2, 2], [1, 1]).outSize).toEqual([10, 10]); // 8-4+4+1+1
    expect(torchConvTransposeOpts([4, 3], [3, 3], [1, 1], [1, 0], [0, 0], [2, 2]).outSize).toEqual([6, 7]); // 3-2+4+1, 2-0+4+1
    expect(() => torchConvTransposeOpts([4, 4], [3, 3], [2, 2], [1, 1], [2, 2])).toThrow();
  });
});

interface Case {
  name: string;
  x: number[];
  k: [number, number];
  cout: number;
  o: ConvT2dOpts;
  bias: boolean;
}

const cases: Case[] = [
  { name: 'torch k3 s2 p1 op1, C3->2, batch 2', x: [2, 3, 4, 5], k: [3, 3], cout: 2, o: torchConvTransposeOpts([4, 5], [3, 3], [2, 2], [1, 1], [1, 1]), bias: true },
  { name: 'torch k5 s2 p2 op1 (doubling)', x: [1, 2, 3, 3], k: [5, 5], cout: 3, o: torchConvTransposeOpts([3, 3], [5, 5], [2, 2], [2, 2], [1, 1]), bias: true },
  { name: 'TF SAME k5 s2 (the seed decoder)', x: [2, 2, 3, 4], k: [5, 5], cout: 2, o: tfSameConvTransposeOpts([3, 4], [5, 5], [2, 2]), bias: true },
  { name: 'TF SAME k1 s2 (deconv6)', x: [1, 4, 3, 2], k: [1, 1], cout: 3, o: tfSameConvTransposeOpts([3, 2], [1, 1], [2, 2]), bias: true },
  { name: 'TF SAME k5 s1 (deconv1)', x: [1, 2, 5, 4], k: [5, 5], cout: 2, o: tfSameConvTransposeOpts([5, 4], [5, 5], [1, 1]), bias: false },
  { name: 'TF SAME k4 s2, explicit odd output size', x: [1, 1, 3, 3], k: [4, 4], cout: 2, o: tfSameConvTransposeOpts([3, 3], [4, 4], [2, 2], [5, 6]), bias: true },
  { name: 'torch k3 dilation 2 p1', x: [2, 1, 4, 3], k: [3, 3], cout: 1, o: torchConvTransposeOpts([4, 3], [3, 3], [1, 1], [1, 1], [0, 0], [2, 2]), bias: true },
  { name: 'torch k(4,2) s(3,1) op(2,0)', x: [1, 2, 3, 4], k: [4, 2], cout: 2, o: torchConvTransposeOpts([3, 4], [4, 2], [3, 1], [1, 0], [2, 0]), bias: true },
  { name: 'torch k7 s1 p3 C5', x: [1, 5, 3, 3], k: [7, 7], cout: 1, o: torchConvTransposeOpts([3, 3], [7, 7], [1, 1], [3, 3]), bias: false },
];

describe('convTranspose2d backward vs finite differences', () => {
  for (const c of cases) {
    it(c.name, () => {
      const rng = mulberry32(c.name.length * 104729 + 3);
      const inputs = [randomArr(c.x, rng), randomArr([c.x[1], c.cout, c.k[0], c.k[1]], rng)];
      if (c.bias) inputs.push(randomArr([c.cout], rng));
      checkBackward(
        ([x, w, b]) => convTranspose2d(x, w, b ?? null, c.o),
        ([x, w], dy) => {
          const g = convTranspose2dBackward(x, w, dy, c.o, c.bias);
          return c.bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
        },
        inputs,
        rng,
      );
    });
  }
});
