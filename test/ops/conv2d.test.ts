import { describe, expect, it } from 'vitest';
import { backward, tensor } from '../../engine/index.ts';
import { mulberry32, randomArr } from '../reference/array.ts';
import { useEngine } from '../helpers/gpu.ts';
import { VARIANT_SETS, useVariants, type VariantSet } from '../helpers/conv-variants.ts';
import { checkOp } from '../helpers/op-check.ts';
import { conv2d as refConv, conv2dBackward, tfConv2dOpts, type Conv2dOpts } from '../reference/conv2d.ts';
import { conv2d, conv2dGeometry, type Conv2dOptions } from '../../engine/ops/conv.ts';
import { variantApplies } from '../../engine/autotune.ts';
import { engine } from '../../engine/engine.ts';

useEngine();

interface Case {
  n: number; c: number; h: number; w: number; o: number; k: number | [number, number];
  stride?: number; dilation?: number; pad?: [number, number, number, number] | 'same' | 'valid'; bias?: boolean;
}

function refOpts(c: Case): Conv2dOpts {
  const [kh, kw] = typeof c.k === 'number' ? [c.k, c.k] : c.k;
  const s = c.stride ?? 1, d = c.dilation ?? 1;
  if (c.pad === 'same' || c.pad === 'valid') return tfConv2dOpts(c.pad, [c.h, c.w], [kh, kw], [s, s], [d, d]);
  return { stride: [s, s], dilation: [d, d], padding: c.pad ?? [0, 0, 0, 0] };
}

const cases: Case[] = [
  { n: 1, c: 1, h: 1, w: 1, o: 1, k: 1 },
  { n: 1, c: 3, h: 7, w: 7, o: 4, k: 3, pad: [1, 1, 1, 1], bias: true },
  { n: 3, c: 5, h: 13, w: 13, o: 5, k: 3, pad: 'same', bias: true },
  { n: 2, c: 4, h: 13, w: 7, o: 3, k: 3, stride: 2, pad: 'same' },
  { n: 1, c: 3, h: 32, w: 32, o: 64, k: 3, pad: [1, 1, 1, 1], bias: true },
  { n: 3, c: 64, h: 7, w: 7, o: 5, k: 3, pad: [1, 1, 1, 1] },
  { n: 1, c: 2, h: 13, w: 13, o: 3, k: 5, stride: 2, pad: [2, 2, 2, 2], bias: true },
  { n: 2, c: 3, h: 10, w: 10, o: 4, k: 7, pad: 'same', bias: true }, // fc6's 7x7 SAME on 10x10
  { n: 1, c: 2, h: 13, w: 13, o: 2, k: 3, dilation: 2, pad: [2, 2, 2, 2] },
  { n: 2, c: 3, h: 7, w: 9, o: 5, k: [3, 5], pad: [0, 1, 2, 1] }, // asymmetric kernel and padding
  { n: 1, c: 4, h: 13, w: 13, o: 3, k: 5, stride: 2, pad: 'valid', bias: true },
  { n: 3, c: 1, h: 2, w: 2, o: 1, k: 1, stride: 2 },
  { n: 1, c: 5, h: 32, w: 32, o: 1, k: 5, pad: 'same', bias: true }, // 5x5 conv to one channel (alpha head)
  { n: 1, c: 4, h: 7, w: 7, o: 3, k: 7, dilation: 1, pad: 'same', stride: 2 },
  { n: 2, c: 3, h: 5, w: 37, o: 10, k: 3, pad: [1, 1, 1, 1], bias: true }, // rows wider than a 16-pixel tile, 10 channels
  { n: 2, c: 3, h: 5, w: 6, o: 9, k: 3, pad: [3, 0, 2, 3] }, // padding beyond the kernel: negative mirrored padding in dx
  { n: 3, c: 9, h: 9, w: 11, o: 17, k: 3, pad: 'same' }, // 9 input lanes, 17 output channels
];

describe.each(VARIANT_SETS)('conv2d against the f64 reference (forward, dx, dw, db), variants $name', ({ name, set }) => {
  for (const c of cases) {
    const label = `x[${c.n},${c.c},${c.h},${c.w}] k${c.k} o${c.o} s${c.stride ?? 1} d${c.dilation ?? 1} pad ${c.pad ?? 0}${c.bias ? ' bias' : ''}`;
    it(label, async () => {
      useVariants(set);
      const ro = refOpts(c);
      const [kh, kw] = typeof c.k === 'number' ? [c.k, c.k] : c.k;
      const gpuOpts: Conv2dOptions = {
        stride: c.stride ?? 1,
        dilation: c.dilation ?? 1,
        padding: c.pad === 'same' || c.pad === 'valid' ? c.pad : (c.pad ?? 0),
      };
      const inputs = [
        { shape: [c.n, c.c, c.h, c.w], grad: true },
        { shape: [c.o, c.c, kh, kw], grad: true },
        ...(c.bias ? [{ shape: [c.o], grad: true }] : []),
      ];
      await checkOp({
        op: 'conv2d',
        label: `${label} [${name}]`,
        inputs,
        gpu: ([x, w, b]) => conv2d(x!, w!, b ?? null, gpuOpts),
        ref: ([x, w, b]) => refConv(x!, w!, b ?? null, ro),
        refBackward: ([x, w], dy) => {
          const g = conv2dBackward(x!, w!, dy, ro, !!c.bias);
          return c.bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
        },
      });
    });
  }
});

const caseLabel = (c: Case): string => `x[${c.n},${c.c},${c.h},${c.w}] k${c.k} o${c.o} s${c.stride ?? 1}`;

/** A square-kernel case without bias under one variant set: forward, dx and dw against f64. */
async function checkUnbiasedConv(c: Case, name: string, set: VariantSet): Promise<void> {
  useVariants(set);
  const ro = refOpts(c);
  const k = c.k as number;
  const opts: Conv2dOptions = { stride: c.stride ?? 1, dilation: c.dilation ?? 1, padding: c.pad === 'same' || c.pad === 'valid' ? c.pad : (c.pad ?? 0) };
  await checkOp({
    op: 'conv2d',
    label: `${name} ${caseLabel(c)}`,
    inputs: [{ shape: [c.n, c.c, c.h, c.w], grad: true }, { shape: [c.o, c.c, k, k], grad: true }],
    gpu: ([x, w]) => conv2d(x!, w!, null, opts),
    ref: ([x, w]) => refConv(x!, w!, null, ro),
    refBackward: ([x, w], dy) => {
      const g = conv2dBackward(x!, w!, dy, ro, false);
      return [g.dx, g.dw];
    },
  });
}

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

describe('direct conv variants are deterministic', () => {
  it('two runs of forward, dx and dw are bit-identical', async () => {
    useVariants(VARIANT_SETS[1]!.set);
    const run = async () => {
      const rng = mulberry32(7);
      const x = tensor(Float32Array.from(randomArr([2, 16, 19, 23], rng).data), [2, 16, 19, 23]);
      const w = tensor(Float32Array.from(randomArr([24, 16, 3, 3], rng).data), [24, 16, 3, 3]);
      x.requiresGrad = true;
      w.requiresGrad = true;
      const y = conv2d(x, w, null, { padding: 1 });
      backward(y, tensor(Float32Array.from(randomArr([...y.shape], rng).data), y.shape));
      const out = [await y.data(), await x.grad!.data(), await w.grad!.data()];
      for (const t of [x, w, y]) t.dispose();
      return out;
    };
    const a = await run(), b = await run();
    for (let i = 0; i < 3; i++) expect(Buffer.from(b[i]!.buffer).equals(Buffer.from(a[i]!.buffer)), `output ${i}`).toBe(true);
  });
});
