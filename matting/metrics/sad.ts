// SAD as compute_sad_loss.m (Ning Xu, 2018) computes it:
//   error_map = abs(single(pred) - single(target)) / 255;  loss = sum(error_map .* (trimap==128)) / 1000
// Each per-pixel value is rounded to single precision as MATLAB does; the sum is accumulated in f64
// (MATLAB sums in single: the two agree to ~1e-6 relative).

import { type AlphaImage, type Trimap, f32, prepare } from './common.ts';

/** Internal: SAD over a precomputed unknown mask (sizes already checked). */
export function sadFromMask(p: ArrayLike<number>, g: ArrayLike<number>, mask: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    const diff = Math.abs(f32(f32(p[i]!) - f32(g[i]!)));
    sum += f32(diff / 255);
  }
  return sum / 1000;
}

/**
 * Sum of absolute differences over the unknown region, on the 0..1 alpha scale, **in thousands**
 * (the /1000 is inside compute_sad_loss.m). 0 when the region is empty.
 */
export function sadError(p: AlphaImage, g: AlphaImage, trimap: Trimap): number {
  return sadFromMask(p.data, g.data, prepare(p, g, trimap));
}
