/**
 * The one helper of the gradient-check suite (in the spirit of tinygrad's helper_test_op): run an op
 * on the GPU and in its f64 reference, compare the forward output and every input gradient.
 * The upstream gradient is a fixed random R, i.e. the checked scalar is sum(y * R).
 * Each checked case is logged so that the suite can print one summary line (see summary-setup.ts).
 */
import { appendFileSync } from 'node:fs';
import { expect } from 'vitest';
import { type Arr, arr, randomArr, mulberry32 } from '../reference/array.ts';
import { backward, tensor, tidy, type Tensor } from '../../engine/index.ts';

/** Relative error bound for f32 kernels against the f64 reference (max abs error / max |ref|). */
export const F32_TOLERANCE = 1e-4;

export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let maxDiff = 0;
  let scale = 1e-6;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? Infinity : d;
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return maxDiff / scale;
}

export function logCase(op: string, label: string): void {
  const file = process.env.MATTING_GRADCHECK_LOG;
  if (file) appendFileSync(file, JSON.stringify({ op, label }) + '\n');
}

export interface OpCase {
  /** Op name for the summary (several GPU ops may share a case). */
  op: string;
  label: string;
  /** Input shapes, and per input whether its gradient is checked. */
  inputs: { shape: number[]; grad?: boolean; lo?: number; hi?: number; data?: ArrayLike<number> }[];
  gpu: (xs: Tensor[]) => Tensor;
  ref: (xs: Arr[]) => Arr;
  /** Reference input gradients for upstream gradient dy (null where not checked). */
  refBackward?: (xs: Arr[], dy: Arr) => (Arr | null)[];
  seed?: number;
  tol?: number;
}

export async function checkOp(c: OpCase): Promise<void> {
  const rng = mulberry32(c.seed ?? 1234);
  const refIn = c.inputs.map((i) => (i.data ? arr(i.shape, i.data) : randomArr(i.shape, rng, i.lo ?? -1, i.hi ?? 1)));
  const want = c.ref(refIn);
  const R = randomArr(want.shape, rng);
  const tol = c.tol ?? F32_TOLERANCE;
  const { y, grads, R32 } = tidy(() => {
    const xs = refIn.map((a, k) => {
      const t = tensor(Float32Array.from(a.data), a.shape);
      t.requiresGrad = !!c.inputs[k]!.grad;
      return t;
    });
    const out = c.gpu(xs);
    return { y: out, grads: xs, R32: tensor(Float32Array.from(R.data), R.shape) };
  });
  expect(y.shape, `${c.op} ${c.label}: output shape`).toEqual(want.shape);
  const got = await y.data();
  const fwdErr = relError(got, want.data);
  expect(fwdErr, `${c.op} ${c.label}: forward relative error`).toBeLessThan(tol);
  if (c.refBackward && c.inputs.some((i) => i.grad)) {
    backward(y, R32);
    const wantGrads = c.refBackward(refIn, R);
    for (let k = 0; k < c.inputs.length; k++) {
      if (!c.inputs[k]!.grad) continue;
      const g = grads[k]!.grad;
      expect(g, `${c.op} ${c.label}: input ${k} got no gradient`).toBeTruthy();
      const w = wantGrads[k]!;
      expect(g!.shape, `${c.op} ${c.label}: grad ${k} shape`).toEqual(w.shape);
      const err = relError(await g!.data(), w.data);
      expect(err, `${c.op} ${c.label}: gradient of input ${k}, relative error`).toBeLessThan(tol);
    }
  }
  y.dispose();
  R32.dispose();
  for (const g of grads) g.dispose();
  logCase(c.op, c.label);
}
