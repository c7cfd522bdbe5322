// MSE as compute_mse_loss.m (Ning Xu, 2018) computes it:
//   error_map = (single(pred) - single(target)) / 255;
//   loss = sum(error_map.^2 .* (trimap==128)) / sum(trimap==128)
// No extra scaling (papers often print MSE x 1e3; this returns the raw value). Per-pixel values are
// rounded to single precision as in MATLAB; the sum is accumulated in f64.

import { type AlphaImage, type Trimap, f32, prepare } from './common.ts';

/** Internal: MSE over a precomputed unknown mask (sizes already checked). */
export function mseFromMask(p: ArrayLike<number>, g: ArrayLike<number>, mask: Uint8Array): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    const e = f32(f32(f32(p[i]!) - f32(g[i]!)) / 255);
    sum += f32(e * e);
    count++;
  }
  // MATLAB computes 0/0 = NaN when there is no unknown pixel: we return that NaN on purpose
  // (not a silent 0), so callers must handle / report an empty unknown region explicitly.
  return count === 0 ? Number.NaN : sum / count;
}

/**
 * Mean squared error over the unknown region on the 0..1 alpha scale, unscaled.
 * Returns **NaN** when the trimap has no unknown pixel (as the MATLAB code does).
 */
export function mseError(p: AlphaImage, g: AlphaImage, trimap: Trimap): number {
  return mseFromMask(p.data, g.data, prepare(p, g, trimap));
}
