// The conv2d test cases and the check every conv2d test file runs them through (forward, dx, dw
// against the f64 reference). The cases are spread over several files so that the test workers share
// the shader compiles (llvmpipe compiles each pipeline at its first dispatch, one core per process).
import { useVariants, type VariantSet } from '../helpers/conv-variants.ts';
import { checkOp } from '../helpers/op-check.ts';
import { conv2d as refConv, conv2dBackward, tfConv2dOpts, type Conv2dOpts } from '../reference/conv2d.ts';
import { conv2d, type Conv2dOptions } from '../../engine/ops/conv.ts';

export interface Case {
  n: number; c: number; h: number; w: number; o: number; k: number | [number, number];
  stride?: number; dilation?: number; pad?: [number, number, number, number] | 'same' | 'valid'; bias?: boolean;
}

export function refOpts(c: Case): Conv2dOpts {
  const [kh, kw] = typeof c.k === 'number' ? [c.k, c.k] : c.k;
  const s = c.stride ?? 1, d = c.dilation ?? 1;
  if (c.pad === 'same' || c.pad === 'valid') return tfConv2dOpts(c.pad, [c.h, c.w], [kh, kw], [s, s], [d, d]);
  return { stride: [s, s], dilation: [d, d], padding: c.pad ?? [0, 0, 0, 0] };
}

/** The engine's options for a case (its padding names pass through as they are). */
export function gpuOpts(c: Case): Conv2dOptions {
  return { stride: c.stride ?? 1, dilation: c.dilation ?? 1, padding: c.pad === 'same' || c.pad === 'valid' ? c.pad : (c.pad ?? 0) };
}

export const cases: Case[] = [
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

export const caseLabel = (c: Case): string => `x[${c.n},${c.c},${c.h},${c.w}] k${c.k} o${c.o} s${c.stride ?? 1}`;

/** A square-kernel case without bias under one variant set: forward, dx and dw against f64. */
export async function checkUnbiasedConv(c: Case, name: string, set: VariantSet): Promise<void> {
  useVariants(set);
  const ro = refOpts(c);
  const k = c.k as number;
  const opts = gpuOpts(c);
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
