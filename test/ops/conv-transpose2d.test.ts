import { describe, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { VARIANT_SETS, useVariants } from '../helpers/conv-variants.ts';
import { checkOp } from '../helpers/op-check.ts';
import {
  convTranspose2d as refConvT,
  convTranspose2dBackward,
  tfSameConvTransposeOpts,
  torchConvTransposeOpts,
  type ConvT2dOpts,
} from '../reference/conv-transpose2d.ts';
import { convTranspose2d, type ConvTranspose2dOptions } from '../../engine/ops/conv.ts';

useEngine();

interface Case {
  n: number; cin: number; cout: number; h: number; w: number; k: number;
  stride: number; mode: 'same' | 'torch'; pad?: number; outPad?: number; dilation?: number; bias?: boolean;
}

const cases: Case[] = [
  { n: 1, cin: 1, cout: 1, h: 1, w: 1, k: 1, stride: 1, mode: 'torch' },
  { n: 1, cin: 8, cout: 4, h: 5, w: 5, k: 1, stride: 2, mode: 'same', bias: true }, // deconv6: 1x1 stride 2 SAME
  { n: 3, cin: 4, cout: 3, h: 7, w: 7, k: 5, stride: 2, mode: 'same', bias: true }, // deconv5..2
  { n: 2, cin: 5, cout: 4, h: 13, w: 13, k: 5, stride: 1, mode: 'same', bias: true }, // deconv1
  { n: 1, cin: 64, cout: 3, h: 7, w: 7, k: 5, stride: 2, mode: 'same' },
  { n: 1, cin: 3, cout: 64, h: 2, w: 2, k: 5, stride: 2, mode: 'same', bias: true },
  { n: 2, cin: 3, cout: 5, h: 7, w: 6, k: 3, stride: 2, mode: 'torch', pad: 1, outPad: 1, bias: true },
  { n: 3, cin: 2, cout: 3, h: 13, w: 13, k: 5, stride: 2, mode: 'torch', pad: 2 },
  { n: 1, cin: 4, cout: 2, h: 7, w: 7, k: 3, stride: 1, mode: 'torch', pad: 0, dilation: 2, bias: true },
  { n: 1, cin: 3, cout: 1, h: 32, w: 32, k: 1, stride: 2, mode: 'torch' },
  { n: 2, cin: 1, cout: 4, h: 2, w: 2, k: 5, stride: 2, mode: 'torch', pad: 2, outPad: 1 },
];

// The phase form of stride-2 convs (a 3x3 conv over the input's four phases, on Winograd tiles):
// the stride-2 cases with kernels up to 5 taps (deconv5..2's 5x5 SAME, 3x3 with output padding).
const phaseCase = (c: Case): boolean => c.stride === 2 && c.k > 1 && (c.dilation ?? 1) === 1;
const PHASE_SETS = ['phase-winograd4-8x32v', 'phase-winograd-8x8'].map((v) => ({
  name: v,
  set: { forward: v, 'backward-data': v, 'backward-weights': v },
  only: phaseCase,
}));

describe.each([...VARIANT_SETS.map((s) => ({ ...s, only: (_: Case) => true })), ...PHASE_SETS])('convTranspose2d against the f64 reference (forward, dx, dw, db), variants $name', ({ name, set, only }) => {
  for (const c of cases.filter(only)) {
    const label = `x[${c.n},${c.cin},${c.h},${c.w}] k${c.k} -> ${c.cout} s${c.stride} ${c.mode} p${c.pad ?? 0} op${c.outPad ?? 0} d${c.dilation ?? 1}${c.bias ? ' bias' : ''}`;
    it(label, async () => {
      useVariants(set);
      const d = c.dilation ?? 1;
      const ro: ConvT2dOpts =
        c.mode === 'same'
          ? tfSameConvTransposeOpts([c.h, c.w], [c.k, c.k], [c.stride, c.stride])
          : torchConvTransposeOpts([c.h, c.w], [c.k, c.k], [c.stride, c.stride], [c.pad ?? 0, c.pad ?? 0], [c.outPad ?? 0, c.outPad ?? 0], [d, d]);
      const go: ConvTranspose2dOptions =
        c.mode === 'same'
          ? { stride: c.stride, padding: 'same' }
          : { stride: c.stride, padding: c.pad ?? 0, outputPadding: c.outPad ?? 0, dilation: d };
      await checkOp({
        op: 'convTranspose2d',
        label: `${label} [${name}]`,
        inputs: [
          { shape: [c.n, c.cin, c.h, c.w], grad: true },
          { shape: [c.cin, c.cout, c.k, c.k], grad: true },
          ...(c.bias ? [{ shape: [c.cout], grad: true }] : []),
        ],
        gpu: ([x, w, b]) => convTranspose2d(x!, w!, b ?? null, go),
        ref: ([x, w, b]) => refConvT(x!, w!, b ?? null, ro),
        refBackward: ([x, w], dy) => {
          const g = convTranspose2dBackward(x!, w!, dy, ro, !!c.bias);
          return c.bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
        },
      });
    });
  }
});
