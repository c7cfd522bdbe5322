// The four Composition-1k matting metrics, as the MATLAB evaluation code (DIM_evaluation_code:
// compute_*_loss.m, compute_connectivity_error.m, gaussgradient.m, evaluate.m) computes them.
// Normalisations: see README.md in this folder.

import { type AlphaImage, type Trimap, countUnknown, prepare } from './common.ts';
import { connectivityFromMask } from './connectivity.ts';
import { gradientFromMask } from './gradient.ts';
import { mseFromMask } from './mse.ts';
import { sadFromMask } from './sad.ts';

export { type AlphaImage, type Trimap, type UnknownMask, UNKNOWN_VALUE, unknownMask } from './common.ts';
export { sadError } from './sad.ts';
export { mseError } from './mse.ts';
export { gradientError, gaussianDerivativeFilters, gaussGradientMagnitude, mat2gray } from './gradient.ts';
export { connectivityError, thresholdsPassed } from './connectivity.ts';

export interface MattingMetrics {
  /** SAD in thousands (compute_sad_loss.m divides by 1000). */
  sad: number;
  /** MSE, unscaled (multiply by 1e3 for the usual paper tables); NaN when unknownPixels is 0. */
  mse: number;
  /** Gradient error / 1000 (as evaluate.m). */
  grad: number;
  /** Connectivity error / 1000 (as evaluate.m). */
  conn: number;
  /** Number of unknown pixels the metrics were taken over. */
  unknownPixels: number;
}

/** All four metrics over the trimap's unknown region (value exactly 128, or an UnknownMask). */
export function allMetrics(p: AlphaImage, g: AlphaImage, trimap: Trimap): MattingMetrics {
  const mask = prepare(p, g, trimap);
  return {
    sad: sadFromMask(p.data, g.data, mask),
    mse: mseFromMask(p.data, g.data, mask),
    grad: gradientFromMask(p, g, mask),
    conn: connectivityFromMask(p, g, mask),
    unknownPixels: countUnknown(mask),
  };
}
