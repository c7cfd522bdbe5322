import { describe, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { cases, caseLabel, checkUnbiasedConv, type Case } from './conv2d-cases.ts';

useEngine();

// More weight-gradient tiles. The subgroup-shared ones (s) split the TN x P output-gradient values
// into 8-lane chunks: 4x8s and 4x16s chunks span two channels, 8x4s tails a 13-wide row (and fits a
// 5x5 kernel, strided). k1 tiles take one kernel row per workgroup (3x3, strided 5x5, 7x7 SAME).
// Fewer output channels than TN, 9 and 64 input lanes.
const WEIGHT_TILES: [string, Case[]][] = [
  ['direct-4x8s', [cases[2]!, cases[16]!, cases[5]!]],
  ['direct-4x16s', [cases[2]!, cases[16]!]],
  ['direct-8x4s', [cases[2]!, cases[6]!, cases[16]!]],
  ['direct-8x16sk1', [cases[2]!, cases[6]!, cases[7]!, cases[16]!]],
  ['direct-4x8k1', [cases[6]!, cases[7]!, cases[16]!]],
];
describe.each(WEIGHT_TILES)('conv2d weight gradient with the tile %s', (tile, tileCases) => {
  for (const c of tileCases) {
    it(caseLabel(c), () => checkUnbiasedConv(c, `dw ${tile}`, { forward: 'gemm', 'backward-data': 'gemm', 'backward-weights': tile }));
  }
});

// Subgroup kernels with 4 channels per lane: a 3x3 kernel row's 12 weights fill one and a half
// 8-lane chunks (the spare lanes load a value no lane reads). Forward and input gradient.
describe.each(['direct-8x4s', 'direct-16x4sr'])('conv2d forward and input gradient with the subgroup tile %s', (tile) => {
  for (const c of [cases[2]!, cases[4]!, cases[14]!, cases[16]!, cases[6]!]) {
    it(caseLabel(c), () => checkUnbiasedConv(c, tile, { forward: tile, 'backward-data': tile, 'backward-weights': 'gemm' }));
  }
});

// Tile widths that are not a multiple of 4 (the defaults fit the width to the row: fc6's 10x10 takes
// 10): rows of 10 (one tile, 7x7 SAME), 13 (a 10-wide tile and a 3-wide tail), 37 (a 5-wide tail).
describe.each(['direct-10x8s', 'direct-5x16s', 'direct-7x8s'])('conv2d forward and input gradient with the tile width of %s', (tile) => {
  for (const c of [cases[2]!, cases[7]!, cases[14]!, cases[16]!, cases[6]!]) {
    it(caseLabel(c), () => checkUnbiasedConv(c, tile, { forward: tile, 'backward-data': tile, 'backward-weights': 'gemm' }));
  }
});
