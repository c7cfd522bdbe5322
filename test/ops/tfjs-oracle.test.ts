/**
 * A second, third-party oracle for the three hardest ops: our GPU conv2d, convTranspose2d and
 * maxPool2d, forward and every gradient, against TensorFlow.js's CPU backend (tf.grads), with TF's
 * SAME/VALID semantics. Layouts are converted (tfjs is NHWC with HWIO filters).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { logCase, relError } from '../helpers/op-check.ts';
import { mulberry32 } from '../reference/array.ts';
import { backward, tensor, tidy, type Tensor } from '../../engine/index.ts';
import { conv2d, convTranspose2d } from '../../engine/ops/conv.ts';
import { maxPool2d } from '../../engine/ops/pool.ts';

useEngine();

beforeAll(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

const rand = (n: number, seed: number) => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};

/** NCHW data -> NHWC tf tensor, and back. */
const nchwToNhwc = (d: Float32Array, [N, C, H, W]: number[]) => tf.transpose(tf.tensor4d(d, [N!, C!, H!, W!]), [0, 2, 3, 1]);
const nhwcToNchw = (t: tf.Tensor) => tf.transpose(t, [0, 3, 1, 2]).dataSync() as Float32Array;
/** PyTorch conv weight [O, C, kh, kw] -> tf filter [kh, kw, C, O]; transposed-conv [Cin, Cout, kh, kw] -> tf [kh, kw, Cout, Cin]. */
const convW = (d: Float32Array, s: number[]) => tf.transpose(tf.tensor4d(d, s as [number, number, number, number]), [2, 3, 1, 0]);
const fromConvW = (t: tf.Tensor) => tf.transpose(t, [3, 2, 0, 1]).dataSync() as Float32Array;

async function ours(fn: (xs: Tensor[]) => Tensor, inputs: { d: Float32Array; s: number[] }[], dy: Float32Array) {
  const ts = tidy(() => inputs.map((i) => {
    const t = tensor(i.d, i.s);
    t.requiresGrad = true;
    return t;
  }));
  const y = fn(ts);
  backward(y, tensor(dy, y.shape));
  const out = { y: await y.data(), shape: y.shape, grads: await Promise.all(ts.map((t) => t.grad!.data())) };
  for (const t of ts) t.dispose();
  return out;
}

function expectClose(label: string, got: Float32Array, want: Float32Array): void {
  expect(got.length, label).toBe(want.length);
  expect(relError(got, want), label).toBeLessThan(1e-4);
}

describe('GPU ops vs TensorFlow.js CPU backend (forward and gradients)', () => {
  const convCases: [number, number, number, number, number, number, 'same' | 'valid'][] = [
    // N, C, H, O, k, stride, padding
    [2, 3, 13, 4, 3, 1, 'same'],
    [1, 4, 10, 5, 7, 1, 'same'], // fc6-like
    [3, 2, 9, 3, 5, 2, 'same'],
    [1, 5, 8, 2, 3, 2, 'valid'],
  ];
  for (const [N, C, H, O, k, s, pad] of convCases) {
    it(`conv2d N${N} C${C} ${H}x${H} -> ${O}, ${k}x${k} s${s} ${pad}`, async () => {
      const xs = [N, C, H, H], ws = [O, C, k, k];
      const x = rand(N * C * H * H, 1), w = rand(O * C * k * k, 2);
      // tfjs forward and gradients
      const tx = nchwToNhwc(x, xs), tw = convW(w, ws);
      const ty = tf.conv2d(tx as tf.Tensor4D, tw as tf.Tensor4D, s, pad);
      const dyN = rand(ty.size, 3);
      const dyT = tf.tensor(dyN, ty.shape);
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad))([tx, tw], dyT);
      const [, OH, OW] = ty.shape;
      // our dy in NCHW
      const dyNchw = nhwcToNchw(dyT);
      const r = await ours(([a, b]) => conv2d(a!, b!, null, { stride: s, padding: pad }), [{ d: x, s: xs }, { d: w, s: ws }], dyNchw);
      expect(r.shape).toEqual([N, O, OH, OW]);
      expectClose('forward', r.y, nhwcToNchw(ty));
      expectClose('dx', r.grads[0]!, nhwcToNchw(gx!));
      expectClose('dw', r.grads[1]!, fromConvW(gw!));
      logCase('conv2d (tfjs oracle)', `${N},${C},${H},${O},${k},${s},${pad}`);
    });
  }

  const convTCases: [number, number, number, number, number, number][] = [
    // N, Cin, H, Cout, k, stride (TF SAME, output = H * stride)
    [1, 4, 5, 3, 1, 2], // deconv6
    [2, 3, 6, 4, 5, 2], // deconv5..2
    [1, 2, 7, 3, 5, 1], // deconv1
  ];
  for (const [N, Cin, H, Cout, k, s] of convTCases) {
    it(`convTranspose2d N${N} ${Cin}->${Cout} ${H}x${H}, ${k}x${k} s${s} same`, async () => {
      const xs = [N, Cin, H, H], ws = [Cin, Cout, k, k];
      const x = rand(N * Cin * H * H, 4), w = rand(Cin * Cout * k * k, 5);
      const OH = H * s;
      const tx = nchwToNhwc(x, xs), tw = convW(w, ws); // [k, k, Cout, Cin] as tf's conv2dTranspose wants
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [N, OH, OH, Cout], s, 'same');
      const ty = f(tx, tw);
      const dyT = tf.tensor(rand(ty.size, 6), ty.shape);
      const [gx, gw] = tf.grads(f)([tx, tw], dyT);
      const r = await ours(([a, b]) => convTranspose2d(a!, b!, null, { stride: s, padding: 'same' }), [{ d: x, s: xs }, { d: w, s: ws }], nhwcToNchw(dyT));
      expect(r.shape).toEqual([N, Cout, OH, OH]);
      expectClose('forward', r.y, nhwcToNchw(ty));
      expectClose('dx', r.grads[0]!, nhwcToNchw(gx!));
      expectClose('dw', r.grads[1]!, fromConvW(gw!));
      logCase('convTranspose2d (tfjs oracle)', `${N},${Cin},${H},${Cout},${k},${s}`);
    });
  }

  const poolCases: [number, number, number, number, number, 'same' | 'valid'][] = [
    [2, 3, 8, 2, 2, 'valid'],
    [1, 2, 7, 2, 2, 'same'], // odd size, TF SAME pads bottom/right
    [1, 3, 9, 3, 2, 'same'],
  ];
  for (const [N, C, H, k, s, pad] of poolCases) {
    it(`maxPool2d N${N} C${C} ${H}x${H}, ${k}x${k} s${s} ${pad}`, async () => {
      const xs = [N, C, H, H];
      // distinct values: no ties, so both engines route gradients to the same cell
      const x = Float32Array.from({ length: N * C * H * H }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
      const tx = nchwToNhwc(x, xs);
      const f = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, k, s, pad);
      const ty = f(tx);
      const dyT = tf.tensor(rand(ty.size, 7), ty.shape);
      const [gx] = tf.grads(f)([tx], dyT);
      const r = await ours(([a]) => maxPool2d(a!, { kernelSize: k, stride: s, padding: pad }).y, [{ d: x, s: xs }], nhwcToNchw(dyT));
      expectClose('forward', r.y, nhwcToNchw(ty));
      expectClose('dx', r.grads[0]!, nhwcToNchw(gx!));
      logCase('maxPool2d (tfjs oracle)', `${N},${C},${H},${k},${s},${pad}`);
    });
  }
});
