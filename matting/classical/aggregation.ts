/**
 * Setup of a smoothed-aggregation multigrid (Vanek, Mandel, Brezina 1996) for the closed-form
 * matting system, built on the CPU in float64; amg.ts runs its V-cycle on the GPU.
 *
 * Why aggregation: with epsilon = 1e-7 every alpha that is affine in colour inside a window costs
 * almost nothing, so the system's slowest error modes are "alpha = a(x) . I(x) + b(x)" with
 * slowly varying a, b: smooth in (a, b), but as rough in space as the image. Geometric coarsening
 * (multigrid.ts) cannot represent them; here every aggregate (5x5 pixels of the fine level, 3x3
 * nodes above) spans them exactly, its coarse unknowns being the coefficients of the local basis
 * {1, R, G, B} (orthonormalised per aggregate; a colour direction that the aggregate's colours
 * barely span is dropped). Smoothing the tentative prolongation once with damped Jacobi gives the
 * coarse basis functions low energy, which is what makes the V-cycle converge: measured on GT13
 * (170k unknowns, f64 CG to 1e-7, 3x3 aggregates then), 77 iterations against 203 with the
 * unsmoothed one and 192 for the geometric multigrid.
 *
 * Coarse levels are block matrices over nodes of 4 slots (slot j = basis vector j; a dropped
 * slot's row and column are zero but for a unit diagonal, so it stays zero in a V-cycle). A
 * smoothed basis reaches 2 pixels past its aggregate and A couples 2 further, so coarse nodes
 * couple only within 2 nodes: colours (x mod 3, y mod 3) give independent Gauss-Seidel sets.
 */
import { BsrBuilder, diagonal, galerkin, multiply, multiplyVector, type Bsr } from './sparse.ts';
import { STENCIL, type StencilLevel } from './stencil.ts';

/** Unknowns per coarse node: the near-null basis 1, R, G, B. */
export const SLOTS = 4;
/** Aggregates of the coarse levels are AGG x AGG nodes of the level below. */
const AGG = 3;

export interface AggregationOptions {
  /**
   * A basis direction is kept in an aggregate when its part orthogonal to the directions before it
   * is at least this fraction of its norm (default 0.002). Keeping nearly dependent directions
   * pays: CG iterations to 1e-7 with 0.02 / 0.005 / 0.002 on GT13 56 / 52 / 46, GT04 28 / 16 / 16,
   * GT08 36 / 28 / 26 (0.001 gave the same as 0.002).
   */
  dropTolerance?: number;
  /**
   * Side of the fine level's aggregates (pixels; default 5, coarser levels 3). Larger ones give a
   * cheaper first coarse level and setup for a few more CG iterations: GT13 with 3 / 4 / 5, 36 / 42
   * / 46 iterations, setup 3.7 / 2.4 / 1.7-2.6 s, 188 / 141 / 127 ms per iteration (2-core llvmpipe);
   * the 18 images together 262 / 318 / 380 iterations, setup 35 / 25 / 23 s. At least 3: then
   * coarse nodes couple only within 2 of each other (a basis function spans its aggregate and 2
   * pixels more on each side, A reaches 2 further), which the 9-colour block Gauss-Seidel needs.
   */
  fineAggregate?: number;
  /** Coarsen until a level has at most this many unknowns (slots; default 600). */
  coarsestUnknowns?: number;
  /** Levels at most (default 8). */
  maxLevels?: number;
}

export interface AggregationLevel {
  /** The level's node grid; level 0's is the image, its nodes the system's unknowns. */
  W: number;
  H: number;
  /** Cell index (y W + x) of each node, ascending. */
  cells: Int32Array;
  /** Unknowns per node: 1 on level 0, SLOTS above. */
  slots: number;
  /** The level's operator, node blocks of slots x slots (node n's slot s is unknown n slots + s). */
  A: Bsr;
  /** Prolongation from the next level (node blocks of slots x SLOTS); absent on the coarsest. */
  P?: Bsr;
}

/**
 * The hierarchy over `fine` (the assembled system, stencil.ts) for a planar RGB image in [0, 1]
 * of fine.W x fine.H.
 */
export function aggregationHierarchy(fine: StencilLevel, image: ArrayLike<number>, o: AggregationOptions = {}): AggregationLevel[] {
  const { W, H, pixels, index, coef } = fine;
  const N = W * H, m = pixels.length;
  const build = new BsrBuilder(m, m, 1, 1);
  for (let a = 0; a < m; a++) {
    const p = pixels[a]!;
    for (let k = 0; k < STENCIL; k++) {
      const v = coef[a * STENCIL + k]!;
      if (v === 0) continue;
      const b = index[p + (((k / 5) | 0) - 2) * W + (k % 5) - 2]!;
      if (b >= 0) build.pushBlock(b, coef, a * STENCIL + k);
    }
    build.endRow();
  }
  const A0 = build.finish();
  const B0 = new Float64Array(m * SLOTS);
  for (let a = 0; a < m; a++) {
    const p = pixels[a]!;
    B0[a * SLOTS] = 1;
    for (let c = 0; c < 3; c++) B0[a * SLOTS + 1 + c] = image[c * N + p]!;
  }
  const levels: AggregationLevel[] = [{ W, H, cells: Int32Array.from(pixels), slots: 1, A: A0 }];
  let B: Float64Array = B0;
  const coarsest = o.coarsestUnknowns ?? 600, maxLevels = o.maxLevels ?? 8, drop = o.dropTolerance ?? 0.002;
  for (let f = levels[0]!; f.A.rows * f.slots > coarsest && levels.length < maxLevels && (f.W > 1 || f.H > 1); ) {
    const next = coarsen(f, B, drop, f.slots === 1 ? o.fineAggregate ?? 5 : AGG);
    f.P = next.P;
    B = next.B;
    f = next.level;
    levels.push(f);
  }
  return levels;
}

/** One coarsening: aggregates, tentative and smoothed prolongation, Galerkin operator. */
function coarsen(f: AggregationLevel, B: Float64Array, drop: number, side: number): { level: AggregationLevel; P: Bsr; B: Float64Array } {
  const { W, cells, slots, A } = f;
  if (!Number.isInteger(side) || side < 3) throw new Error(`aggregation multigrid: aggregate side ${side} (an integer of at least 3)`);
  const Wc = Math.ceil(W / side), Hc = Math.ceil(f.H / side);
  const nodes = cells.length;
  // Aggregates: the coarse cells that hold a fine node, ascending.
  const aggCell = new Int32Array(nodes);
  const cnode = new Int32Array(Wc * Hc).fill(-1);
  for (let n = 0; n < nodes; n++) {
    const c = cells[n]!, y = (c / W) | 0, x = c - y * W;
    aggCell[n] = ((y / side) | 0) * Wc + ((x / side) | 0);
    cnode[aggCell[n]!] = 0;
  }
  const coarseCells: number[] = [];
  for (let c = 0; c < Wc * Hc; c++) if (cnode[c] === 0) { cnode[c] = coarseCells.length; coarseCells.push(c); }
  const nc = coarseCells.length;
  const agg = Int32Array.from(aggCell, (c) => cnode[c]!);
  // Members (fine unknowns) of each aggregate, in ascending order.
  const start = new Int32Array(nc + 1);
  for (let n = 0; n < nodes; n++) start[agg[n]! + 1]! += slots;
  for (let a = 0; a < nc; a++) start[a + 1]! += start[a]!;
  const fill = start.slice(0, nc);
  const member = new Int32Array(nodes * slots);
  for (let n = 0; n < nodes; n++) for (let s = 0; s < slots; s++) member[fill[agg[n]!]!++] = n * slots + s;
  // Tentative prolongation: per aggregate, Gram-Schmidt on its rows of B (fine unknowns x SLOTS).
  const Q = new Float64Array(nodes * slots * SLOTS);
  const Bc = new Float64Array(nc * SLOTS * SLOTS);
  for (let a = 0; a < nc; a++) {
    const r0 = start[a]!, r1 = start[a + 1]!;
    const kept: boolean[] = [];
    for (let j = 0; j < SLOTS; j++) {
      let n0 = 0;
      for (let t = r0; t < r1; t++) { const u = member[t]! * SLOTS; Q[u + j] = B[u + j]!; n0 += B[u + j]! ** 2; }
      for (let p = 0; p < j; p++) {
        if (!kept[p]) continue;
        let d = 0;
        for (let t = r0; t < r1; t++) { const u = member[t]! * SLOTS; d += Q[u + p]! * Q[u + j]!; }
        Bc[(a * SLOTS + p) * SLOTS + j] = d;
        for (let t = r0; t < r1; t++) { const u = member[t]! * SLOTS; Q[u + j]! -= d * Q[u + p]!; }
      }
      let nn = 0;
      for (let t = r0; t < r1; t++) nn += Q[member[t]! * SLOTS + j]! ** 2;
      nn = Math.sqrt(nn);
      kept[j] = nn > 1e-12 && nn > drop * Math.sqrt(n0);
      if (kept[j]) Bc[(a * SLOTS + j) * SLOTS + j] = nn;
      const scale = kept[j] ? 1 / nn : 0;
      for (let t = r0; t < r1; t++) Q[member[t]! * SLOTS + j]! *= scale;
    }
  }
  const tentative = new BsrBuilder(nodes, nc, slots, SLOTS);
  for (let n = 0; n < nodes; n++) {
    tentative.pushBlock(agg[n]!, Q, n * slots * SLOTS);
    tentative.endRow();
  }
  const Pt = tentative.finish();
  // Smoothed prolongation P = (I - omega D^-1 A) Pt, omega = 4 / (3 rho(D^-1 A)): A Pt scaled
  // row by row, plus Pt's one block per row (A's diagonal puts that column in every row).
  const d = diagonal(A);
  const omega = 4 / (3 * spectralRadius(A, d));
  const P = multiply(A, Pt);
  const width = slots * SLOTS;
  for (let r = 0; r < P.rows; r++) {
    let own = -1;
    for (let p = P.ptr[r]!; p < P.ptr[r + 1]!; p++) {
      if (P.col[p] === agg[r]) own = p;
      for (let i = 0; i < slots; i++) {
        const w = -omega / d[r * slots + i]!, at = p * width + i * SLOTS;
        for (let j = 0; j < SLOTS; j++) P.val[at + j]! *= w;
      }
    }
    if (own < 0) throw new Error(`aggregation multigrid: row ${r} has no diagonal block`);
    for (let i = 0; i < width; i++) P.val[own * width + i]! += Pt.val[r * width + i]!;
  }
  const Ac = galerkin(P, multiply(A, P));
  // A dropped slot has an empty row and column: a unit diagonal keeps the operator invertible.
  for (let r = 0; r < Ac.rows; r++) {
    for (let p = Ac.ptr[r]!; p < Ac.ptr[r + 1]!; p++) {
      if (Ac.col[p] !== r) continue;
      for (let j = 0; j < SLOTS; j++) if (Ac.val[p * 16 + j * 5] === 0) Ac.val[p * 16 + j * 5] = 1;
    }
  }
  return { level: { W: Wc, H: Hc, cells: Int32Array.from(coarseCells), slots: SLOTS, A: Ac }, P, B: Bc };
}

/**
 * The largest eigenvalue of D^-1 A by power iteration (6 steps from a fixed vector, so the setup
 * is deterministic), raised by 5% against underestimation.
 */
function spectralRadius(A: Bsr, d: Float64Array): number {
  const n = A.rows * A.rowSlots;
  let v = Float64Array.from({ length: n }, (_, i) => 1 + 0.5 * Math.sin(i * 12.9898));
  let w = new Float64Array(n);
  let rho = 1;
  for (let k = 0; k < 6; k++) {
    multiplyVector(A, v, w);
    let s = 0, t = 0;
    for (let i = 0; i < n; i++) { w[i] = d[i]! > 0 ? w[i]! / d[i]! : 0; s += w[i]! ** 2; t += v[i]! ** 2; }
    rho = Math.sqrt(s / t);
    if (!(rho > 0)) return 1;
    [v, w] = [w, v];
  }
  return rho * 1.05;
}

/** The inverse of a small SPD matrix (dense, row-major, symmetrised) by Cholesky in float64. */
export function denseInverse(A: Bsr): Float64Array {
  const s = A.rowSlots, n = A.rows * s;
  const L = new Float64Array(n * n);
  for (let r = 0; r < A.rows; r++) {
    for (let p = A.ptr[r]!; p < A.ptr[r + 1]!; p++) {
      for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) L[(r * s + i) * n + A.col[p]! * s + j] = A.val[p * s * s + i * s + j]!;
    }
  }
  for (let j = 0; j < n; j++) {
    let s = L[j * n + j]!;
    for (let k = 0; k < j; k++) s -= L[j * n + k]! ** 2;
    if (!(s > 0)) throw new Error(`aggregation multigrid: the coarsest operator is not positive definite (pivot ${s} at ${j} of ${n})`);
    const djj = Math.sqrt(s);
    L[j * n + j] = djj;
    for (let i = j + 1; i < n; i++) {
      let t = L[i * n + j]!;
      for (let k = 0; k < j; k++) t -= L[i * n + k]! * L[j * n + k]!;
      L[i * n + j] = t / djj;
    }
  }
  // Columns of L^-1 (lower triangular), then A^-1 = L^-T L^-1.
  const Li = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    for (let i = c; i < n; i++) {
      let t = i === c ? 1 : 0;
      for (let k = c; k < i; k++) t -= L[i * n + k]! * Li[k * n + c]!;
      Li[i * n + c] = t / L[i * n + i]!;
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let t = 0;
      for (let k = i; k < n; k++) t += Li[k * n + i]! * Li[k * n + j]!;
      inv[i * n + j] = t;
      inv[j * n + i] = t;
    }
  }
  return inv;
}
