import { describe, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { cases, caseLabel, checkUnbiasedConv, type Case } from './conv2d-cases.ts';

useEngine();

// 5x5 stride-1 convs for F(2x2,5x5) (the winograd tiles with m = 2): odd sizes over a batch of 2 with
// 64 summed channels and 40 outputs, and padding past the kernel's reach (negative mirrored padding in dx).
const WINOGRAD_5X5: Case[] = [
  { n: 2, c: 64, h: 11, w: 13, o: 40, k: 5, pad: 'same' },
  { n: 1, c: 3, h: 9, w: 7, o: 5, k: 5, pad: [5, 1, 0, 3] },
];

// Winograd F(2x2,3x3) and F(4x4,3x3) (winograd4) tiles: odd output sizes (a tile's later rows or columns outside), a batch of 3,
// 64 summed channels, fewer output channels than the channel block, negative mirrored padding in dx.
describe.each(['winograd-8x8s', 'winograd-8x16s', 'winograd-4x32s', 'winograd-8x32v', 'winograd-8x8', 'winograd4-8x32v', 'winograd4-4x32v', 'winograd4-4x8'])('conv2d forward and input gradient with the Winograd tile %s', (tile) => {
  const fiveByFive = tile.startsWith('winograd-') ? WINOGRAD_5X5 : [];
  for (const c of [cases[1]!, cases[2]!, cases[5]!, cases[14]!, cases[15]!, cases[16]!, ...fiveByFive]) {
    it(caseLabel(c), () => checkUnbiasedConv(c, tile, { forward: tile, 'backward-data': tile, 'backward-weights': 'gemm' }));
  }
});

// The weight gradient as F(3x3,2x2) and F(3x3,4x4) (winograd4; the GEMM summing over tiles): the same cases, with input
// channels padded to the tile's P and output channels to its TN.
describe.each(['winograd-8x16s', 'winograd-4x32s', 'winograd-8x32v', 'winograd-8x8', 'winograd4-8x32v', 'winograd4-4x8'])('conv2d weight gradient with the Winograd tile %s', (tile) => {
  const fiveByFive = tile.startsWith('winograd-') ? WINOGRAD_5X5 : [];
  for (const c of [cases[1]!, cases[2]!, cases[5]!, cases[14]!, cases[15]!, cases[16]!, ...fiveByFive]) {
    it(caseLabel(c), () => checkUnbiasedConv(c, `dw ${tile}`, { forward: 'gemm', 'backward-data': 'gemm', 'backward-weights': tile }));
  }
});
