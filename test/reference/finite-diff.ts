// Central finite differences in f64, the ground truth for every reference backward.

import { type Arr, cloneArr, sameShape } from './array.ts';

/**
 * d f / d inputs[which], element by element: (f(x + h e_i) - f(x - h e_i)) / (2h).
 * The truncation error is O(h^2 f'''), the rounding error about 1e-16 * |f| / h; h = 1e-6 balances
 * both for O(1) data. The caller's arrays are not modified (the perturbed input is a copy).
 * f must be smooth around the point: keep data away from relu kinks and pooling ties.
 */
export function numericGradient(
  f: (inputs: Arr[]) => number,
  inputs: Arr[],
  which: number,
  h = 1e-6,
): Arr {
  const target = inputs[which];
  if (target === undefined) throw new Error(`numericGradient: no input ${which}`);
  const probe = cloneArr(target);
  const args = inputs.slice();
  args[which] = probe;
  const grad = cloneArr(target);
  for (let i = 0; i < probe.data.length; i++) {
    const v = probe.data[i];
    probe.data[i] = v + h;
    const fPlus = f(args);
    probe.data[i] = v - h;
    const fMinus = f(args);
    probe.data[i] = v;
    grad.data[i] = (fPlus - fMinus) / (2 * h);
  }
  return grad;
}

/**
 * Scale-relative maximum error:
 *   max_i |a_i - b_i|  /  max(max_i |a_i|, max_i |b_i|, 1e-8)
 * i.e. the worst absolute difference measured against the largest magnitude of either array. Unlike
 * an elementwise relative error it does not blow up on entries that are (nearly) zero, which gradients
 * have plenty of (padding, relu, pooling); the 1e-8 floor makes two all-zero arrays compare as 0.
 * Shapes must match exactly.
 */
export function maxRelError(a: Arr, b: Arr): number {
  if (!sameShape(a.shape, b.shape)) throw new Error(`maxRelError: shapes [${a.shape}] and [${b.shape}] differ`);
  let diff = 0;
  let scale = 1e-8;
  for (let i = 0; i < a.data.length; i++) {
    diff = Math.max(diff, Math.abs(a.data[i] - b.data[i]));
    scale = Math.max(scale, Math.abs(a.data[i]), Math.abs(b.data[i]));
  }
  if (Number.isNaN(diff)) return Infinity;
  return diff / scale;
}
