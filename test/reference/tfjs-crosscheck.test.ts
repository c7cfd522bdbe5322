// Cross-checks the reference conventions (TF SAME padding, explicit asymmetric padding, transposed
// convolution output placement, max-pool padding) against TensorFlow.js's CPU backend. TF.js works
// in float32 and NHWC, so the comparison is loose (1e-5 relative) and transposes layouts; the point is
// to catch convention mistakes (off-by-one crops, which side gets the extra padding), not rounding.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Arr, arr, mulberry32, randomArr } from './array.ts';
import { conv2d, tfConv2dOpts } from './conv2d.ts';
import { convTranspose2d, tfSameConvTransposeOpts } from './conv-transpose2d.ts';
import { maxRelError } from './finite-diff.ts';
import { maxPool2d, tfPoolOpts } from './pool.ts';

beforeAll(async () => {
  tf.env().set('PROD', true); // silences the "install tfjs-node" banner (backend_util.warn)
  await tf.setBackend('cpu');
});

/** NCHW Arr -> NHWC tf tensor. */
function toNhwc(x: Arr): tf.Tensor4D {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const d = new Float32Array(N * H * W * C);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) d[((n * H + h) * W + w) * C + c] = x.data[((n * C + c) * H + h) * W + w];
  return tf.tensor4d(d, [N, H, W, C]);
}

/** NHWC tf tensor -> NCHW Arr. */
function fromNhwc(t: tf.Tensor): Arr {
  const [N, H, W, C] = t.shape as [number, number, number, number];
  const d = t.dataSync();
  const y = arr([N, C, H, W]);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) y.data[((n * C + c) * H + h) * W + w] = d[((n * H + h) * W + w) * C + c];
  return y;
}

/** Permute a 4-D Arr's axes: out axis i = in axis perm[i]. */
function permute(a: Arr, perm: number[]): tf.Tensor4D {
  return tf.transpose(tf.tensor4d(Float32Array.from(a.data), a.shape as [number, number, number, number]), perm);
}

function expectMatch(ref: Arr, got: Arr): void {
  expect(got.shape).toEqual(ref.shape);
  expect(maxRelError(got, ref)).toBeLessThan(1e-5);
}

describe('reference vs TensorFlow.js (cpu)', () => {
  it('conv2d SAME / VALID, strides 1-2, dilation 2, kernels 1/2/3/4/5/7', () => {
    const rng = mulberry32(1);
    const cases: [number, number, number, number, number][] = [
      // H, W, k, stride, dilation
      [7, 6, 3, 2, 1],
      [6, 7, 4, 2, 1],
      [5, 5, 2, 2, 1],
      [10, 9, 7, 1, 1],
      [8, 5, 5, 3, 1],
      [9, 8, 3, 1, 2],
      [6, 6, 1, 2, 1],
    ];
    for (const [H, W, k, s, d] of cases) {
      for (const mode of ['same', 'valid'] as const) {
        if (mode === 'valid' && (k - 1) * d + 1 > Math.min(H, W)) continue;
        const x = randomArr([2, 3, H, W], rng);
        const w = randomArr([2, 3, k, k], rng);
        const ref = conv2d(x, w, null, tfConv2dOpts(mode, [H, W], [k, k], [s, s], [d, d]));
        const got = tf.conv2d(toNhwc(x), permute(w, [2, 3, 1, 0]), [s, s], mode, 'NHWC', [d, d]);
        expectMatch(ref, fromNhwc(got));
      }
    }
  });

  it('conv2d with explicit asymmetric padding', () => {
    const rng = mulberry32(2);
    const x = randomArr([1, 2, 7, 8], rng);
    const w = randomArr([3, 2, 3, 3], rng);
    const ref = conv2d(x, w, null, { stride: [2, 2], padding: [2, 0, 1, 3], dilation: [1, 1] });
    const got = tf.conv2d(toNhwc(x), permute(w, [2, 3, 1, 0]), [2, 2], [[0, 0], [2, 0], [1, 3], [0, 0]], 'NHWC');
    expectMatch(ref, fromNhwc(got));
  });

  it('conv2dTranspose SAME (out = in * stride) for the decoder shapes', () => {
    const rng = mulberry32(3);
    const cases: [number, number, number, number][] = [
      // H, W, k, stride
      [3, 4, 5, 2],
      [4, 3, 3, 2],
      [3, 3, 4, 2],
      [2, 3, 1, 2],
      [5, 4, 5, 1],
      [3, 2, 2, 3],
    ];
    for (const [H, W, k, s] of cases) {
      const x = randomArr([2, 3, H, W], rng);
      const w = randomArr([3, 2, k, k], rng); // [Cin, Cout, kh, kw]
      const o = tfSameConvTransposeOpts([H, W], [k, k], [s, s]);
      const ref = convTranspose2d(x, w, null, o);
      // TF filter layout for conv2dTranspose: [kh, kw, outChannels, inChannels]
      const got = tf.conv2dTranspose(toNhwc(x), permute(w, [2, 3, 1, 0]), [2, H * s, W * s, 2], s, 'same');
      expectMatch(ref, fromNhwc(got));
    }
  });

  it('maxPool SAME / VALID (padding never wins)', () => {
    const rng = mulberry32(4);
    const cases: [number, number, number, number][] = [
      [7, 6, 3, 2],
      [5, 7, 2, 2],
      [8, 8, 2, 2],
      [6, 5, 3, 1],
      [9, 7, 5, 3],
    ];
    for (const [H, W, k, s] of cases) {
      for (const mode of ['same', 'valid'] as const) {
        // all-negative data: a zero-padded implementation would report 0 at the borders
        const x = randomArr([2, 3, H, W], rng, -2, -1);
        const ref = maxPool2d(x, tfPoolOpts(H, W, k, s, mode)).y;
        const got = tf.maxPool(toNhwc(x), k, s, mode);
        expectMatch(ref, fromNhwc(got));
      }
    }
  });
});
