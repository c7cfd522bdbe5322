import { describe, expect, it } from 'vitest';
import { conv2dGeometry, type Conv2dOptions } from '../../engine/ops/conv.ts';
import { variantApplies } from '../../engine/autotune.ts';
import { engine } from '../../engine/engine.ts';
import { useEngine } from '../helpers/gpu.ts';
import { cases, caseLabel, checkUnbiasedConv, type Case } from './conv2d-cases.ts';

useEngine();

// The gradients as one GEMM over the column matrix (cols-PxTNv; dx needs C*KH*KW a multiple of 32 and
// the output plane of P, dw O a multiple of 32): fc6's 7x7 SAME on 10x10 over a batch of 2, a strided
// 3x3 (the col2im's stride grid), a dilated 3x3 over a batch of 3 with a non-square plane.
const COLS_CASES: Case[] = [
  { n: 2, c: 32, h: 10, w: 10, o: 32, k: 7, pad: 'same' },
  { n: 1, c: 32, h: 15, w: 15, o: 64, k: 3, stride: 2, pad: [1, 1, 1, 1] },
  { n: 3, c: 32, h: 9, w: 12, o: 32, k: 3, dilation: 2, pad: [2, 2, 2, 2] },
];
describe.each(['cols-4x32v', 'cols-8x32v'])('conv2d input and weight gradients over the column matrix, tile %s', (tile) => {
  for (const c of COLS_CASES) {
    it(caseLabel(c), async () => {
      const f = engine().acquired.features;
      const has = f.subgroups && f.subgroupMinSize >= 8;
      const g = conv2dGeometry([c.n, c.c, c.h, c.w], [c.o, c.c, c.k as number, c.k as number], { stride: c.stride ?? 1, dilation: c.dilation ?? 1, padding: c.pad as Conv2dOptions['padding'] });
      // the tile runs these passes (else the test would check the fallback)
      expect(variantApplies('backward-weights', g, tile)).toBe(has);
      if (tile === 'cols-4x32v') expect(variantApplies('backward-data', g, tile)).toBe(has);
      await checkUnbiasedConv(c, tile, { forward: 'gemm', 'backward-data': tile, 'backward-weights': tile });
    });
  }
});

// Stride-2 convs in the phase form (a 3x3 stride-1 conv over the input's four phases, on a Winograd
// tile): 3x3 SAME on odd sizes over a batch of 2, 5x5 with padding 2 and 'valid', and 5x5 over 32
// channels (128 phase channels) with odd sizes and a batch of 2. Every pass runs the form here.
const PHASE_CASES: Case[] = [
  cases[3]!,
  cases[6]!,
  cases[10]!,
  { n: 2, c: 32, h: 17, w: 14, o: 40, k: 5, stride: 2, pad: [1, 1, 1, 1] },
];
describe.each(['phase-winograd4-8x32v', 'phase-winograd-8x32v', 'phase-winograd-8x8'])('conv2d with stride 2 in the phase form, tile %s', (tile) => {
  for (const c of PHASE_CASES) {
    it(caseLabel(c), async () => {
      const k = c.k as number;
      const g = conv2dGeometry([c.n, c.c, c.h, c.w], [c.o, c.c, k, k], { stride: 2, padding: c.pad as Conv2dOptions['padding'] });
      const f = engine().acquired.features;
      const runs = tile.endsWith('8x8') || (f.subgroups && f.subgroupMinSize >= 8);
      for (const pass of ['forward', 'backward-data', 'backward-weights'] as const) expect(variantApplies(pass, g, tile), pass).toBe(runs);
      await checkUnbiasedConv(c, tile, { forward: tile, 'backward-data': tile, 'backward-weights': tile });
    });
  }
});
