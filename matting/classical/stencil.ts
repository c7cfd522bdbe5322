/**
 * The system matrix A = L + diag(shift) assembled as a 25-point stencil per unknown (the matting
 * Laplacian couples pixels that share a 3x3 window, so at most 2 apart in x and y), and its
 * Galerkin coarsenings A_c = P^T A P with P bilinear interpolation from a grid of half the
 * resolution (coarse point X sits on fine point 2X; a fine point between two coarse ones takes half
 * of each). With a radius-1 P the coarse stencil is again radius 2, so every level is 25-point.
 * Built on the CPU in float64 from the window geometry the GPU operator uses (laplacian.ts); the
 * multigrid preconditioner (multigrid.ts) uploads them. Galerkin coarse operators keep what the
 * fine one knows about colour edges, which a rediscretised coarse image would not.
 */
import type { LaplacianSetup } from './laplacian.ts';

/** Stencil entries per point; entry k couples (x, y) with (x + k%5 - 2, y + floor(k/5) - 2). */
export const STENCIL = 25;
export const CENTRE = 12;

export interface StencilLevel {
  W: number;
  H: number;
  /** The level's unknowns as pixel indices y W + x, ascending. */
  pixels: Uint32Array;
  /** Per pixel: its position in `pixels`, or -1. */
  index: Int32Array;
  /** STENCIL coefficients per unknown (row-major by unknown), float64. */
  coef: Float64Array;
  /**
   * Set by coarsen(): each unknown's interpolation weights from its coarse parents, 4 per unknown,
   * slot 2 jy + jx for parent (x0 or x1, y0 or y1) with x0 = floor(x/2), x1 = floor((x+1)/2)
   * (one parent when x is even: x1's slot is 0).
   */
  interp?: Float64Array;
}

/** The fine level: L + diag(shift) over setup.pixels, summed window by window in float64. */
export function fineStencil(setup: LaplacianSetup, shift: ArrayLike<number>): StencilLevel {
  const { W, H, nWin, winCenter, winGeom, pixels } = setup;
  const m = pixels.length;
  const index = new Int32Array(W * H).fill(-1);
  for (let a = 0; a < m; a++) index[pixels[a]!] = a;
  const coef = new Float64Array(m * STENCIL);
  const e = new Float64Array(27);
  const at = new Int32Array(9);
  for (let k = 0; k < nWin; k++) {
    const c = winCenter[k]!;
    for (let q = 0; q < 27; q++) e[q] = winGeom[q * nWin + k]!;
    for (let t = 0; t < 9; t++) at[t] = index[c + (((t / 3) | 0) - 1) * W + (t % 3) - 1]!;
    // The window's 9x9 block is symmetric: each pair (t, s > t) is computed once, added to both rows.
    for (let t = 0; t < 9; t++) {
      const row = at[t]! * STENCIL;
      const ty = (t / 3) | 0, tx = t % 3;
      const et0 = e[3 * t]!, et1 = e[3 * t + 1]!, et2 = e[3 * t + 2]!;
      coef[row + CENTRE]! += 1 - (1 + et0 * et0 + et1 * et1 + et2 * et2) / 9;
      for (let s = t + 1; s < 9; s++) {
        const sy = (s / 3) | 0, sx = s % 3;
        const v = -(1 + et0 * e[3 * s]! + et1 * e[3 * s + 1]! + et2 * e[3 * s + 2]!) / 9;
        const off = (sy - ty) * 5 + (sx - tx);
        coef[row + CENTRE + off]! += v;
        coef[at[s]! * STENCIL + CENTRE - off]! += v;
      }
    }
  }
  for (let a = 0; a < m; a++) coef[a * STENCIL + CENTRE]! += shift[pixels[a]!]!;
  return { W, H, pixels, index, coef };
}

/** Coarse grid side for a fine side n: coarse X covers fine 2X - 1 .. 2X + 1. */
export function coarseSide(n: number): number {
  return Math.ceil((n - 1) / 2) + 1;
}

/**
 * Interpolation weights of each unknown of f from its coarse parents (see StencilLevel.interp).
 * Operator-dependent, in the spirit of Dendy's black-box multigrid: along x, a point between two
 * coarse columns takes the left one in proportion to its couplings (the negative off-diagonal
 * entries of A) to pixels on its left, the right one to pixels on its right (couplings within its
 * own column say nothing about the direction and are left out); the same along y, and a point
 * between four parents takes the product. So a coarse correction does not leak across a colour
 * edge, which plain bilinear interpolation (the fallback where a point has no such couplings) does.
 */
export function interpolationWeights(f: StencilLevel): Float64Array {
  const { W, pixels, coef } = f;
  const w = new Float64Array(pixels.length * 4);
  for (let a = 0; a < pixels.length; a++) {
    const p = pixels[a]!;
    const y = (p / W) | 0, x = p - y * W;
    const ox = x & 1, oy = y & 1;
    let left = 0, right = 0, up = 0, down = 0;
    for (let o = 0; o < STENCIL; o++) {
      const v = coef[a * STENCIL + o]!;
      if (o === CENTRE || v >= 0) continue;
      const dx = (o % 5) - 2, dy = ((o / 5) | 0) - 2;
      if (dx < 0) left -= v; else if (dx > 0) right -= v;
      if (dy < 0) up -= v; else if (dy > 0) down -= v;
    }
    const wx0 = !ox ? 1 : left + right > 1e-12 ? left / (left + right) : 0.5;
    const wy0 = !oy ? 1 : up + down > 1e-12 ? up / (up + down) : 0.5;
    w[a * 4] = wx0 * wy0;
    if (ox) w[a * 4 + 1] = (1 - wx0) * wy0;
    if (oy) w[a * 4 + 2] = wx0 * (1 - wy0);
    if (ox && oy) w[a * 4 + 3] = (1 - wx0) * (1 - wy0);
  }
  return w;
}

/**
 * A_c = P^T A P on the half-resolution grid; its unknowns are the parents of the fine unknowns.
 * Sets f.interp (P) unless given; `bilinear` uses plain bilinear weights instead.
 */
export function coarsen(f: StencilLevel, bilinear = false): StencilLevel {
  const { W, H, pixels, coef } = f;
  const Wc = coarseSide(W), Hc = coarseSide(H);
  if (bilinear) {
    f.interp = new Float64Array(pixels.length * 4);
    for (let a = 0; a < pixels.length; a++) {
      const p = pixels[a]!, y = (p / W) | 0, ox = (p - y * W) & 1, oy = y & 1;
      for (let jy = 0; jy <= oy; jy++) for (let jx = 0; jx <= ox; jx++) f.interp[a * 4 + 2 * jy + jx] = (ox ? 0.5 : 1) * (oy ? 0.5 : 1);
    }
  } else f.interp ??= interpolationWeights(f);
  const P = f.interp;
  // The coarse unknowns: parents that some fine unknown takes a nonzero weight from.
  const index = new Int32Array(Wc * Hc).fill(-1);
  for (let a = 0; a < pixels.length; a++) {
    const p = pixels[a]!, y = (p / W) | 0, x = p - y * W;
    for (let j = 0; j < 4; j++) if (P[a * 4 + j] !== 0) index[((y + (j >> 1)) >> 1) * Wc + ((x + (j & 1)) >> 1)] = 0;
  }
  const list: number[] = [];
  for (let i = 0; i < Wc * Hc; i++) if (index[i] === 0) { index[i] = list.length; list.push(i); }
  // Each fine unknown's parents as (coarse unknown, weight), up to 4.
  const parIdx = new Int32Array(pixels.length * 4).fill(-1);
  for (let a = 0; a < pixels.length; a++) {
    const p = pixels[a]!, y = (p / W) | 0, x = p - y * W;
    for (let j = 0; j < 4; j++) {
      if (P[a * 4 + j] === 0) continue;
      const X = (x + (j & 1)) >> 1, Y = (y + (j >> 1)) >> 1;
      parIdx[a * 4 + j] = index[Y * Wc + X]!;
    }
  }
  const out = new Float64Array(list.length * STENCIL);
  const fineIndex = f.index;
  for (let a = 0; a < pixels.length; a++) {
    const p = pixels[a]!;
    for (let o = 0; o < STENCIL; o++) {
      const v = coef[a * STENCIL + o]!;
      if (v === 0) continue;
      const b = fineIndex[p + (((o / 5) | 0) - 2) * W + (o % 5) - 2]!;
      for (let j = 0; j < 4; j++) {
        const J = parIdx[a * 4 + j]!;
        if (J < 0) continue;
        const wJ = P[a * 4 + j]! * v, Jc = list[J]!, Jy = (Jc / Wc) | 0, Jx = Jc - Jy * Wc;
        for (let k = 0; k < 4; k++) {
          const K = parIdx[b * 4 + k]!;
          if (K < 0) continue;
          const Kc = list[K]!, Ky = (Kc / Wc) | 0, Kx = Kc - Ky * Wc;
          out[J * STENCIL + (Ky - Jy + 2) * 5 + (Kx - Jx + 2)]! += wJ * P[b * 4 + k]!;
        }
      }
    }
  }
  return { W: Wc, H: Hc, pixels: Uint32Array.from(list), index, coef: out };
}

/** The fine level and its coarsenings until a level has at most `coarsest` unknowns (or a side below 5). */
export function stencilHierarchy(fine: StencilLevel, coarsest = 1024, maxLevels = 10, bilinear = false): StencilLevel[] {
  const levels = [fine];
  for (let l = levels[0]!; l.pixels.length > coarsest && l.W >= 5 && l.H >= 5 && levels.length < maxLevels; ) {
    l = coarsen(l, bilinear);
    levels.push(l);
  }
  return levels;
}
