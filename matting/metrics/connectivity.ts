// Connectivity error as compute_connectivity_error.m (Ning Xu, 2018) computes it with step 0.1,
// with the /1000 that evaluate.m applies:
//   pred = single(pred)/255; target = single(target)/255; thresh_steps = 0:0.1:1; l_map = -1
//   for ii = 2:11
//     omega = largest 4-connected component of (pred >= t(ii)) & (target >= t(ii))   % bwconncomp(.., 4)
//     l_map(l_map == -1 & ~omega) = t(ii-1)
//   l_map(l_map == -1) = 1
//   d = alpha - l_map;  phi = 1 - d .* (d >= 0.15)                              % for pred and target
//   loss = sum(abs(phi_pred - phi_target) .* (trimap==128)) / 1000
//
// Details reproduced:
// - Images are stored row-major here but MATLAB is column-major. bwconncomp numbers components in
//   column-major order of their first pixel and max() returns the first maximum, so on a size tie the
//   component whose first pixel comes first in COLUMN-major order (scan columns left to right, each
//   top to bottom) wins. We scan in that order and keep a component only if strictly larger.
// - The background is not a component; connectivity is 4 (not 8).
// - Empty intersection at some threshold: the MATLAB original crashes there (max of an empty list).
//   We treat the largest component as empty (as the GCA-Matting Python copy does): every still
//   unassigned pixel then gets l = previous threshold.
// - Threshold decisions `single(x)/255 >= t` are made exactly (see thresholdsPassed).
// - Per-pixel d and phi are rounded to single precision like MATLAB; the sum is accumulated in f64.

import { type AlphaImage, type Trimap, f32, prepare } from './common.ts';

const STEPS = 10; // thresh_steps = 0:0.1:1 has 11 entries, t_k = k/10 for k = 0..10

// single(t_k). MATLAB's colon may produce a double 1 ulp away from the decimal k/10 (e.g. computed as
// k*0.1 or 1-(10-k)*0.1), but all of these round to the same single as k/10, which is all that
// matters below (the test checks this).
const T_SINGLE = Array.from({ length: STEPS + 1 }, (_, k) => f32(k / STEPS));
const PHI_CUT = f32(0.15);

/**
 * How many of the thresholds 0.1, 0.2, ..., 1.0 the value x (0..255 scale) passes in MATLAB, i.e.
 * the largest k in 1..10 with `single(x)/255 >= thresh_steps(k+1)`, or 0 if none. Since
 * thresholds are increasing, x passes threshold k iff k <= thresholdsPassed(x).
 *
 * - Integer x in 0..255 (uint8 mattes, also stored as floats): compared exactly in integers,
 *   `10 * x >= 255 * k`. This is what MATLAB decides for every uint8 value: the only ties
 *   (x = 51, 102, 153, 204, 255 with k = 2, 4, 6, 8, 10) pass because single(x)/255 rounds to the
 *   same single as k/10 (e.g. 153/255 vs 0.6). Comparing `x/255 >= k*0.1` in f64 would wrongly fail
 *   x = 153 at t = 0.6 (6*0.1 = 0.6000000000000001).
 * - Any other x (float predictions): emulated in single precision, `a = single(single(x)/255)`
 *   compared with single(t_k). MATLAB compares single a with the double t; for a single a,
 *   `a >= t` and `a >= single(t)` always agree (no single lies strictly between t and its nearest
 *   single), so this is exactly MATLAB's decision whichever precision it compares in.
 */
export function thresholdsPassed(x: number): number {
  if (Number.isInteger(x) && x >= 0 && x <= 255) {
    return Math.min(STEPS, Math.floor((10 * x) / 255));
  }
  const a = f32(f32(x) / 255);
  let k = 0;
  while (k < STEPS && a >= T_SINGLE[k + 1]!) k++;
  return k;
}

/**
 * Internal: the l_map of compute_connectivity_error.m as threshold indices 0..10 (l = k/10), for a
 * row-major w x h image whose per-pixel intersection level is `level[i] = min(passed(p), passed(g))`
 * (pixel i is in the intersection at threshold k iff level[i] >= k).
 */
export function connectivityLevels(level: Uint8Array, w: number, h: number): Uint8Array {
  const n = w * h;
  const UNASSIGNED = 255;
  const l = new Uint8Array(n).fill(UNASSIGNED);
  // comp[i] = id of the component containing pixel i at the current threshold (ids keep growing
  // across thresholds, so the array never needs clearing).
  const comp = new Int32Array(n).fill(-1);
  const stack = new Int32Array(n);
  let nextId = 0;
  for (let k = 1; k <= STEPS; k++) {
    const firstId = nextId;
    let bestId = -1;
    let bestSize = 0;
    // Column-major scan: components are discovered in bwconncomp's order.
    for (let c = 0; c < w; c++) {
      for (let r = 0; r < h; r++) {
        const start = r * w + c;
        if (level[start]! < k || comp[start]! >= firstId) continue;
        const id = nextId++;
        let size = 0;
        let top = 0;
        stack[top++] = start;
        comp[start] = id;
        while (top > 0) {
          const i = stack[--top]!;
          size++;
          const y = (i / w) | 0;
          const x = i - y * w;
          // 4-neighbours only.
          if (x > 0 && level[i - 1]! >= k && comp[i - 1]! < firstId) { comp[i - 1] = id; stack[top++] = i - 1; }
          if (x < w - 1 && level[i + 1]! >= k && comp[i + 1]! < firstId) { comp[i + 1] = id; stack[top++] = i + 1; }
          if (y > 0 && level[i - w]! >= k && comp[i - w]! < firstId) { comp[i - w] = id; stack[top++] = i - w; }
          if (y < h - 1 && level[i + w]! >= k && comp[i + w]! < firstId) { comp[i + w] = id; stack[top++] = i + w; }
        }
        if (size > bestSize) { // strictly larger: the earliest (column-major) component wins ties
          bestSize = size;
          bestId = id;
        }
      }
    }
    // bestId === -1: empty intersection (MATLAB crashes); omega is empty.
    for (let i = 0; i < n; i++) {
      if (l[i] === UNASSIGNED && (bestId < 0 || comp[i] !== bestId)) l[i] = k - 1;
    }
  }
  for (let i = 0; i < n; i++) if (l[i] === UNASSIGNED) l[i] = STEPS;
  return l;
}

// phi = 1 - d .* (d >= 0.15) with d = single(alpha) - l, in single precision.
function phi(alpha: number, lSingle: number): number {
  const d = f32(alpha - lSingle);
  return d >= PHI_CUT ? f32(1 - d) : 1;
}

/** Internal: connectivity error over a precomputed unknown mask (sizes already checked). */
export function connectivityFromMask(p: AlphaImage, g: AlphaImage, mask: Uint8Array): number {
  const { width: w, height: h } = p;
  const n = w * h;
  const level = new Uint8Array(n);
  for (let i = 0; i < n; i++) level[i] = Math.min(thresholdsPassed(p.data[i]!), thresholdsPassed(g.data[i]!));
  const l = connectivityLevels(level, w, h);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i] === 0) continue;
    const lSingle = T_SINGLE[l[i]!]!;
    const a = f32(f32(p.data[i]!) / 255);
    const b = f32(f32(g.data[i]!) / 255);
    sum += Math.abs(f32(phi(a, lSingle) - phi(b, lSingle)));
  }
  return sum / 1000;
}

/**
 * Connectivity error over the unknown region, **divided by 1000** (the division evaluate.m applies).
 * 0 when the region is empty.
 */
export function connectivityError(p: AlphaImage, g: AlphaImage, trimap: Trimap): number {
  return connectivityFromMask(p, g, prepare(p, g, trimap));
}
