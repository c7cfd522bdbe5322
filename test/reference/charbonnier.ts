// Reference masked Charbonnier loss (the seed's "alpha prediction loss"), f64.
//
//   loss = sum_{n,c,h,w} w[n,0,h,w] * sqrt((pred - target)^2 + eps)  /  (sum_{n,h,w} w[n,0,h,w] + eps)
//
// w is an N x 1 x H x W mask (or weights). It is broadcast over the channels in the numerator only;
// the denominator counts each pixel once, so a 3-channel input SUMS its channels (as the seed does for
// the compositional loss). The whole batch is one sum: one denominator for all N images.
// The compositional loss's extra /255 is a plain scale applied outside this function.

import { type Arr, arr, assertShape } from './array.ts';

function check(pred: Arr, target: Arr, w: Arr): [number, number, number, number] {
  if (pred.shape.length !== 4) throw new Error('charbonnier: pred must be 4-D');
  assertShape(target, pred.shape, 'charbonnier target');
  const [N, C, H, W] = pred.shape as [number, number, number, number];
  assertShape(w, [N, 1, H, W], 'charbonnier mask');
  return [N, C, H, W];
}

function denominator(w: Arr, eps: number): number {
  let s = 0;
  for (let i = 0; i < w.data.length; i++) s += w.data[i];
  return s + eps;
}

export function charbonnier(pred: Arr, target: Arr, w: Arr, eps: number): number {
  const [N, C, H, W] = check(pred, target, w);
  let num = 0;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let p = 0; p < H * W; p++) {
        const i = (n * C + c) * H * W + p;
        const d = pred.data[i] - target.data[i];
        num += w.data[n * H * W + p] * Math.sqrt(d * d + eps);
      }
  return num / denominator(w, eps);
}

/**
 * d loss / d pred = dLoss * w * d / sqrt(d^2 + eps) / U with d = pred - target and U the denominator;
 * d loss / d target is its negation. The mask is treated as a constant (no gradient).
 */
export function charbonnierBackward(
  pred: Arr,
  target: Arr,
  w: Arr,
  eps: number,
  dLoss: number,
): { dPred: Arr; dTarget: Arr } {
  const [N, C, H, W] = check(pred, target, w);
  const U = denominator(w, eps);
  const dPred = arr(pred.shape);
  const dTarget = arr(pred.shape);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let p = 0; p < H * W; p++) {
        const i = (n * C + c) * H * W + p;
        const d = pred.data[i] - target.data[i];
        const g = (dLoss * w.data[n * H * W + p] * d) / Math.sqrt(d * d + eps) / U;
        dPred.data[i] = g;
        dTarget.data[i] = -g;
      }
  return { dPred, dTarget };
}
