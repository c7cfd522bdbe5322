import { describe, expect, it } from 'vitest';
import { type Arr, arr, mulberry32, randomArr } from './array.ts';
import { checkBackward, expectClose } from './grad-check.ts';
import {
  type MaxPool2dOpts,
  maxPool2d,
  maxPool2dBackward,
  maxUnpool2d,
  maxUnpool2dBackward,
  tfPoolOpts,
  torchPoolOpts,
} from './pool.ts';

const x4x4 = arr(
  [1, 1, 4, 4],
  [
    1, 5, 2, 0,
    3, 4, 8, 6,
    9, 0, 1, 1,
    2, 7, 3, 2,
  ],
);
const nine = arr([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);

describe('maxPool2d forward, hand-computed', () => {
  it('2x2 / 2 with PyTorch flat indices', () => {
    // windows: TL {1,5,3,4} -> 5 at (0,1) = 1;  TR {2,0,8,6} -> 8 at (1,2) = 6
    //          BL {9,0,2,7} -> 9 at (2,0) = 8;  BR {1,1,3,2} -> 3 at (3,2) = 14
    const { y, indices } = maxPool2d(x4x4, torchPoolOpts(4, 4, 2, 2));
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expectClose(y, [5, 8, 9, 3]);
    expect(Array.from(indices)).toEqual([1, 6, 8, 14]);
  });

  it('ties go to the first maximum in row-major order', () => {
    // all equal -> index 0; [[1,3],[3,2]] -> the 3 at (0,1) = 1 beats the 3 at (1,0) = 2
    expect(Array.from(maxPool2d(arr([1, 1, 2, 2], [7, 7, 7, 7]), torchPoolOpts(2, 2, 2, 2)).indices)).toEqual([0]);
    expect(Array.from(maxPool2d(arr([1, 1, 2, 2], [1, 3, 3, 2]), torchPoolOpts(2, 2, 2, 2)).indices)).toEqual([1]);
  });

  it('indices are per (n, c) plane', () => {
    // batch 2 x channel 2 of the 4x4 example; the second copy of each plane is shifted by +10,
    // which changes the values but not the in-plane indices.
    const d = Array.from(x4x4.data);
    const x = arr([2, 2, 4, 4], [...d, ...d.map((v) => v + 10), ...d, ...d.map((v) => v + 10)]);
    const { y, indices } = maxPool2d(x, torchPoolOpts(4, 4, 2, 2));
    expectClose(y, [5, 8, 9, 3, 15, 18, 19, 13, 5, 8, 9, 3, 15, 18, 19, 13]);
    expect(Array.from(indices)).toEqual([1, 6, 8, 14, 1, 6, 8, 14, 1, 6, 8, 14, 1, 6, 8, 14]);
  });

  it('ceil mode keeps the partial windows at the bottom/right', () => {
    // torch k2 s2 on 3x3: floor -> 1x1 = [5]; ceil -> ceil((3-2)/2)+1 = 2 and (2-1)*2 = 2 < 3, so 2x2.
    // windows: {1,2,4,5} -> 5 @4; {3,6} -> 6 @5; {7,8} -> 8 @7; {9} -> 9 @8
    expectClose(maxPool2d(nine, torchPoolOpts(3, 3, 2, 2, 0, false)).y, [5]);
    const { y, indices } = maxPool2d(nine, torchPoolOpts(3, 3, 2, 2, 0, true));
    expectClose(y, [5, 6, 8, 9]);
    expect(Array.from(indices)).toEqual([4, 5, 7, 8]);
  });

  it('padding counts as -Infinity, not 0', () => {
    // x = -(1..9); torch k3 s2 p1: out = floor((3+2-3)/2)+1 = 2; windows start at -1 and 1.
    // (0,0) rows/cols -1..1 -> {-1,-2,-4,-5} -> -1 @0;  (0,1) cols 1..3 -> {-2,-3,-5,-6} -> -2 @1
    // (1,0) rows 1..3 -> {-4,-5,-7,-8} -> -4 @3;        (1,1) -> {-5,-6,-8,-9} -> -5 @4
    const neg = arr([1, 1, 3, 3], [-1, -2, -3, -4, -5, -6, -7, -8, -9]);
    const { y, indices } = maxPool2d(neg, torchPoolOpts(3, 3, 3, 2, 1));
    expectClose(y, [-1, -2, -4, -5]);
    expect(Array.from(indices)).toEqual([0, 1, 3, 4]);
  });

  it('torchPoolOpts: the last ceil-mode window must start inside the input or left padding', () => {
    // in 5, k 2, s 2, p 1: ceil((5+2-2)/2)+1 = 4, but window 4 would start at 3*2-1 = 5 = in -> dropped.
    expect(torchPoolOpts(5, 5, 2, 2, 1, true).outSize).toEqual([3, 3]);
    expect(torchPoolOpts(5, 5, 2, 2, 1, false).outSize).toEqual([3, 3]);
    // in 6, k 3, s 2, p 0: floor(3/2)+1 = 2; ceil: 3 (window 3 starts at 4 < 6, kept)
    expect(torchPoolOpts(6, 6, 3, 2, 0, false).outSize).toEqual([2, 2]);
    expect(torchPoolOpts(6, 6, 3, 2, 0, true).outSize).toEqual([3, 3]);
    expect(() => torchPoolOpts(6, 6, 2, 2, 2)).toThrow(); // padding > kernel/2
  });

  it('tfPoolOpts SAME/VALID by hand', () => {
    // SAME in 5, k 2, s 2: out 3, total = 4+2-5 = 1 -> before 0 (the extra cell is after)
    expect(tfPoolOpts(5, 5, 2, 2, 'same')).toEqual({ kernel: [2, 2], stride: [2, 2], padding: [0, 0], outSize: [3, 3] });
    // SAME in 4, k 3, s 1: out 4, total 2 -> before 1; VALID in 5, k 2, s 2: out ceil(4/2) = 2
    expect(tfPoolOpts(4, 5, 3, 1, 'same')).toEqual({ kernel: [3, 3], stride: [1, 1], padding: [1, 1], outSize: [4, 5] });
    expect(tfPoolOpts(5, 7, 2, 2, 'valid').outSize).toEqual([2, 3]);
  });
});

describe('maxPool2d backward and unpooling, hand-computed', () => {
  it('overlapping windows accumulate in the backward pass', () => {
    // x = [1, 3, 2], kernel (1,2), stride 1: both windows pick the 3 (index 1).
    // dy = [10, 20] -> dx = [0, 30, 0]
    const x = arr([1, 1, 1, 3], [1, 3, 2]);
    const o: MaxPool2dOpts = { kernel: [1, 2], stride: [1, 1], padding: [0, 0], outSize: [1, 2] };
    const { indices } = maxPool2d(x, o);
    expect(Array.from(indices)).toEqual([1, 1]);
    expectClose(maxPool2dBackward(arr([1, 1, 1, 2], [10, 20]), indices, [1, 1, 1, 3]), [0, 30, 0]);
  });

  it('unpool scatters to the recorded positions; its backward gathers', () => {
    // From the 2x2/2 example: values [5, 8, 9, 3] at indices [1, 6, 8, 14] of a 4x4 plane.
    const { y, indices } = maxPool2d(x4x4, torchPoolOpts(4, 4, 2, 2));
    const u = maxUnpool2d(y, indices, [4, 4]);
    expectClose(u, [0, 5, 0, 0, 0, 0, 8, 0, 9, 0, 0, 0, 0, 0, 3, 0]);
    const dy = arr([1, 1, 4, 4], Array.from({ length: 16 }, (_, i) => 100 + i));
    expectClose(maxUnpool2dBackward(dy, indices, [1, 1, 2, 2]), [101, 106, 108, 114]);
  });

  it('unpool refuses duplicate indices', () => {
    expect(() => maxUnpool2d(arr([1, 1, 1, 2], [1, 2]), new Int32Array([1, 1]), [1, 3])).toThrow(/duplicate/);
  });
});

const poolCases: { name: string; x: number[]; o: MaxPool2dOpts }[] = [
  { name: 'torch 2x2/2 (VGG), batch 2, C3', x: [2, 3, 8, 6], o: torchPoolOpts(8, 6, 2, 2) },
  { name: 'torch 2x2/2 odd size floor', x: [1, 2, 7, 9], o: torchPoolOpts(7, 9, 2, 2) },
  { name: 'torch 2x2/2 odd size ceil', x: [1, 2, 7, 9], o: torchPoolOpts(7, 9, 2, 2, 0, true) },
  { name: 'torch 3x3/2 pad 1 (ResNet stem)', x: [2, 2, 9, 8], o: torchPoolOpts(9, 8, 3, 2, 1) },
  { name: 'torch 3x3/2 pad 1 ceil', x: [1, 3, 8, 7], o: torchPoolOpts(8, 7, 3, 2, 1, true) },
  { name: 'overlapping 3x3/1', x: [1, 2, 6, 5], o: torchPoolOpts(6, 5, 3, 1) },
  { name: 'TF SAME 3x3/2', x: [2, 1, 7, 6], o: tfPoolOpts(7, 6, 3, 2, 'same') },
  { name: 'TF SAME 2x2/2 odd', x: [1, 4, 5, 7], o: tfPoolOpts(5, 7, 2, 2, 'same') },
  { name: 'TF VALID 2x3/(2,3)', x: [1, 2, 7, 8], o: tfPoolOpts(7, 8, [2, 3], [2, 3], 'valid') },
  { name: 'kernel 5, stride 2, pad 2', x: [1, 1, 9, 9], o: torchPoolOpts(9, 9, 5, 2, 2) },
];

describe('maxPool2d backward vs finite differences', () => {
  for (const c of poolCases) {
    it(c.name, () => {
      const rng = mulberry32(c.name.length * 31337 + 5);
      const x = randomArr(c.x, rng);
      checkBackward(
        ([xx]) => maxPool2d(xx, c.o).y,
        ([xx], dy) => [maxPool2dBackward(dy, maxPool2d(xx, c.o).indices, xx.shape)],
        [x],
        rng,
      );
    });
  }
});

describe('maxUnpool2d backward vs finite differences', () => {
  // Non-overlapping pools (stride >= kernel) give distinct indices, which unpooling requires.
  const unpoolCases: { name: string; x: number[]; o: MaxPool2dOpts }[] = [
    { name: '2x2/2 even', x: [2, 3, 6, 8], o: torchPoolOpts(6, 8, 2, 2) },
    { name: '2x2/2 odd, ceil mode', x: [1, 2, 7, 5], o: torchPoolOpts(7, 5, 2, 2, 0, true) },
    { name: '(2,3)/(2,3) TF SAME', x: [1, 1, 5, 7], o: tfPoolOpts(5, 7, [2, 3], [2, 3], 'same') },
  ];
  for (const c of unpoolCases) {
    it(c.name, () => {
      const rng = mulberry32(c.name.length * 7 + 11);
      const source = randomArr(c.x, rng);
      const { y, indices } = maxPool2d(source, c.o);
      const outSize: [number, number] = [c.x[2], c.x[3]];
      const v: Arr = randomArr(y.shape, rng); // arbitrary values to unpool at those positions
      checkBackward(
        ([xx]) => maxUnpool2d(xx, indices, outSize),
        ([xx], dy) => [maxUnpool2dBackward(dy, indices, xx.shape)],
        [v],
        rng,
      );
    });
  }
});
