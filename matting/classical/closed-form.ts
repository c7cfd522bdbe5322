/**
 * Closed-form matting (Levin, Lischinski, Weiss, PAMI 2008): alpha minimises
 * alpha^T L alpha + lambda (alpha - b)^T D (alpha - b), i.e. (L + lambda D) alpha = lambda D b
 * (eq. 13), with L the matting Laplacian over 3x3 windows (laplacian.ts), D the known pixels of the
 * trimap and b their values. Solved on the GPU by preconditioned CG (cg.ts), matrix-free (the
 * Laplacian applied window by window), over the pixels that some active window touches; the rest
 * are known and keep their trimap value. The default preconditioner is a smoothed-aggregation
 * V-cycle (aggregation.ts, amg.ts) whose coarse unknowns are the coefficients of {1, R, G, B} per
 * aggregate: 14-52 iterations to 1e-7 on the alphamatting images, where the geometric multigrid on
 * Galerkin coarsenings of the 25-point stencil (stencil.ts, multigrid.ts; 'multigrid') needed
 * 68-192 and Jacobi CG ('jacobi', with its coarse-to-fine cascade of half-size problems) 330-1900.
 * The output is clipped to [0, 1] and known pixels are written with their trimap value.
 */
import { engine } from '../../engine/engine.ts';
import { tensor } from '../../engine/creation.ts';
import { JacobiPreconditioner, pcgSolve, PCG_PER, type PcgOptions, type PcgPreconditioner } from './cg.ts';
import { LaplacianOperator, setupLaplacian } from './laplacian.ts';
import { MultigridPreconditioner, type MultigridOptions } from './multigrid.ts';
import { AggregationPreconditioner } from './amg.ts';
import { aggregationHierarchy, type AggregationOptions } from './aggregation.ts';
import { fineStencil, STENCIL, stencilHierarchy } from './stencil.ts';
import type { RgbArray } from './foreground.ts';

/**
 * PcgOptions here default to tol 1e-7 (relative residual), 2000 iterations, a check every 2
 * iterations with multigrid or aggregation (every 10 with Jacobi).
 */
export interface ClosedFormOptions extends PcgOptions, MultigridOptions, AggregationOptions {
  /**
   * CG's preconditioner: smoothed aggregation (default), the geometric Galerkin multigrid, or the
   * diagonal (Jacobi, which starts from the coarse-to-fine cascade below).
   */
  preconditioner?: 'aggregation' | 'multigrid' | 'jacobi';
  /** Multigrid and aggregation: coarsen until a level has at most this many unknowns (default 1024 geometric, 600 aggregation). */
  coarsestUnknowns?: number;
  /** Multigrid: plain bilinear interpolation between levels instead of the operator-dependent one. */
  bilinear?: boolean;
  /** Regulariser of the window covariances (colours in [0, 1]); default 1e-7. */
  epsilon?: number;
  /** Weight of the known pixels' soft constraints; default 100. */
  lambda?: number;
  /**
   * Initial guess for the unknown pixels (H*W, [0, 1]); given, no coarse levels are solved. Default:
   * the coarse-to-fine cascade's, or 0.5 without coarse levels.
   */
  initial?: Float32Array;
  /**
   * Half-size problems solved first, each starting the next (default with Jacobi: down to a side of
   * 64, at most 3; with multigrid: none).
   */
  coarseLevels?: number;
  /** Relative residual of the coarse solves (default 1e-7). */
  coarseTol?: number;
}

export interface LevelReport {
  width: number;
  height: number;
  unknowns: number;
  iterations: number;
  relResidual: number;
}

export interface ClosedFormResult {
  /** H*W alpha in [0, 1]. */
  alpha: Float32Array;
  /** CG iterations run. */
  iterations: number;
  /** ||lambda D b - (L + lambda D) alpha|| / ||lambda D b|| of the unclipped solution. */
  relResidual: number;
  /** Recursive relative residual per iteration. */
  history: number[];
  /** Unknowns of the system (pixels in some active window) and active windows. */
  unknowns: number;
  windows: number;
  /** The coarse levels solved first, coarsest first. */
  coarse: LevelReport[];
  /** Levels of the multigrid hierarchy, fine first (unknowns per level; empty with Jacobi). */
  multigridLevels: number[];
  /**
   * Wall seconds of this level's CPU setup (Laplacian, stencil, hierarchy, uploads) and of its CG
   * solve on the GPU (the coarse levels of the cascade not included).
   */
  seconds: { setup: number; solve: number };
}

/** Values of a trimap in [0, 1] that are known: exactly 0 (background) or 1 (foreground). */
export function isKnown(t: number): boolean {
  return t === 0 || t === 1;
}

/**
 * Alpha from an RGB image in [0, 1] (HWC or CHW, see RgbArray) and a trimap (H*W in [0, 1]: 0
 * background, 1 foreground, anything else unknown). Needs `await initEngine()` first.
 */
export async function closedFormMatte(image: RgbArray, trimap: Float32Array, o: ClosedFormOptions = {}): Promise<ClosedFormResult> {
  const { width: W, height: H } = image;
  const N = W * H;
  if (!Number.isInteger(W) || !Number.isInteger(H) || W < 1 || H < 1) throw new Error(`closedFormMatte: bad size ${W}x${H}`);
  if (image.data.length !== 3 * N) throw new Error(`closedFormMatte: image data has ${image.data.length} values, expected ${3 * N} (3 channels of ${W}x${H})`);
  if (trimap.length !== N) throw new Error(`closedFormMatte: trimap has ${trimap.length} values, expected ${N} (${W}x${H})`);
  if (o.initial && o.initial.length !== N) throw new Error(`closedFormMatte: initial alpha has ${o.initial.length} values, expected ${N}`);
  const planar = (image.layout ?? 'hwc') === 'chw' ? image.data : new Float32Array(3 * N);
  if ((image.layout ?? 'hwc') === 'hwc') for (let i = 0; i < N; i++) for (let c = 0; c < 3; c++) planar[c * N + i] = image.data[i * 3 + c]!;
  const jacobi = o.preconditioner === 'jacobi';
  const levels = o.initial ? 0 : o.coarseLevels ?? (jacobi ? autoLevels(W, H) : 0);
  const coarse: LevelReport[] = [];
  let initial = o.initial;
  if (levels > 0) {
    // Cascade: solve the half-size problem (recursively), start from its alpha upsampled.
    const c = halve(planar, trimap, W, H);
    const r = await closedFormMatte({ width: c.w, height: c.h, data: c.image, layout: 'chw' }, c.trimap, {
      ...o, coarseLevels: levels - 1, tol: o.coarseTol ?? 1e-7, initial: undefined,
    });
    coarse.push(...r.coarse, { width: c.w, height: c.h, unknowns: r.unknowns, iterations: r.iterations, relResidual: r.relResidual });
    initial = upsample(r.alpha, c.w, c.h, W, H);
  }
  const r = await solveLevel(planar, trimap, W, H, initial, o);
  return { ...r, coarse };
}

/** Levels below the full size: halve while the smaller side stays at least 64 (at most 3). */
function autoLevels(W: number, H: number): number {
  let l = 0;
  for (let m = Math.min(W, H); m >= 128 && l < 3; m = Math.ceil(m / 2)) l++;
  return l;
}

/** 2x2 box-filtered image; a coarse pixel is known only if its fine pixels are all known alike. */
function halve(image: Float32Array, trimap: Float32Array, W: number, H: number) {
  const w = Math.ceil(W / 2), h = Math.ceil(H / 2), N = W * H, n = w * h;
  const out = new Float32Array(3 * n), tri = new Float32Array(n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const y0 = 2 * y, y1 = Math.min(2 * y + 1, H - 1), x0 = 2 * x, x1 = Math.min(2 * x + 1, W - 1);
      const px = [y0 * W + x0, y0 * W + x1, y1 * W + x0, y1 * W + x1];
      for (let c = 0; c < 3; c++) out[c * n + y * w + x] = (image[c * N + px[0]!]! + image[c * N + px[1]!]! + image[c * N + px[2]!]! + image[c * N + px[3]!]!) / 4;
      const t = px.map((i) => trimap[i]!);
      tri[y * w + x] = t.every((v) => v === 0) ? 0 : t.every((v) => v === 1) ? 1 : 0.5;
    }
  }
  return { image: out, trimap: tri, w, h };
}

/** Bilinear upsampling from w x h to W x H (pixel centres aligned). */
function upsample(a: Float32Array, w: number, h: number, W: number, H: number): Float32Array {
  const out = new Float32Array(W * H);
  const sx = w / W, sy = h / H;
  for (let y = 0; y < H; y++) {
    const fy = Math.min(h - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy), y1 = Math.min(h - 1, y0 + 1), ty = fy - y0;
    for (let x = 0; x < W; x++) {
      const fx = Math.min(w - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx), x1 = Math.min(w - 1, x0 + 1), tx = fx - x0;
      out[y * W + x] = (1 - ty) * ((1 - tx) * a[y0 * w + x0]! + tx * a[y0 * w + x1]!) + ty * ((1 - tx) * a[y1 * w + x0]! + tx * a[y1 * w + x1]!);
    }
  }
  return out;
}

/** One level: set up the Laplacian, solve on the GPU from `initial` (default the trimap, 0.5 unknown). */
async function solveLevel(planar: Float32Array, trimap: Float32Array, W: number, H: number, initial: Float32Array | undefined, o: ClosedFormOptions): Promise<Omit<ClosedFormResult, 'coarse'>> {
  const jacobi = o.preconditioner === 'jacobi';
  const t0 = performance.now();
  const N = W * H;
  const lambda = o.lambda ?? 100;
  const known = new Uint8Array(N);
  for (let i = 0; i < N; i++) known[i] = isKnown(trimap[i]!) ? 1 : 0;
  const lap = setupLaplacian(planar, known, W, H, o.epsilon ?? 1e-7);
  const m = lap.pixels.length;

  const shift = new Float32Array(N), dinv = new Float32Array(N), rhs = new Float32Array(N), x0 = new Float32Array(N);
  let rhsNorm2 = 0;
  for (let i = 0; i < N; i++) {
    const k = known[i]!;
    shift[i] = k ? lambda : 0;
    rhs[i] = k ? lambda * trimap[i]! : 0;
    const d = lap.diagL[i]! + shift[i]!;
    dinv[i] = d > 1e-12 ? 1 / d : 1;
    x0[i] = k ? trimap[i]! : initial ? initial[i]! : 0.5;
    if (lap.count[i]! > 0) rhsNorm2 += rhs[i]! * rhs[i]!;
  }

  const alpha = new Float32Array(N);
  for (let i = 0; i < N; i++) alpha[i] = known[i] ? trimap[i]! : 0.5;
  if (m === 0) return { alpha, iterations: 0, relResidual: 0, history: [], unknowns: 0, windows: 0, multigridLevels: [], seconds: { setup: (performance.now() - t0) / 1000, solve: 0 } };

  // Solved for the correction d = alpha - x0 (x0: the trimap, the initial guess on the unknowns):
  // A d = lambda D b - A x0, with the right-hand side formed here in float64. In f32 the known
  // pixels' lambda x_i ~ 100 would otherwise round the residual to ~1e-7 ||lambda D b||, and the
  // unknowns' alpha still moves by tenths at that residual (eps = 1e-7 makes L nearly singular).
  const fine = fineStencil(lap, shift);
  const rhsD = new Float32Array(N);
  for (let a = 0; a < m; a++) {
    const i = lap.pixels[a]!;
    let v = rhs[i]!;
    for (let k = 0; k < STENCIL; k++) {
      const c = fine.coef[a * STENCIL + k]!;
      if (c !== 0) v -= c * x0[i + (((k / 5) | 0) - 2) * W + (k % 5) - 2]!;
    }
    rhsD[i] = v;
  }
  const e = engine();
  const op = new LaplacianOperator(lap, shift, PCG_PER);
  const bufs = { dinv: tensor(dinv), rhs: tensor(rhsD), x: tensor(new Float32Array(N)) };
  let mg: { dispose(): void } | null = null;
  let multigridLevels: number[] = [];
  let pre: PcgPreconditioner;
  if (jacobi) pre = new JacobiPreconditioner(op.pixels.buffer, m, bufs.dinv.buffer);
  else if (o.preconditioner === 'multigrid') {
    const hierarchy = stencilHierarchy(fine, o.coarsestUnknowns ?? 1024, 10, o.bilinear ?? false);
    multigridLevels = hierarchy.map((l) => l.pixels.length);
    pre = mg = new MultigridPreconditioner(hierarchy, op.pixels.buffer, o);
  } else {
    const hierarchy = aggregationHierarchy(fine, planar, o);
    multigridLevels = hierarchy.map((l) => l.A.rows);
    if (hierarchy.length > 1) pre = mg = new AggregationPreconditioner(hierarchy, fine, op.pixels.buffer);
    else pre = new JacobiPreconditioner(op.pixels.buffer, m, bufs.dinv.buffer);
  }
  const t1 = performance.now();
  try {
    // Relative to ||lambda D b||, the original system's right-hand side.
    const res = await pcgSolve(op, pre, { N, m, pixels: op.pixels.buffer, rhs: bufs.rhs.buffer, rhsNorm: Math.sqrt(rhsNorm2) }, bufs.x.buffer, {
      tol: o.tol ?? 1e-7, maxIterations: o.maxIterations ?? 2000, checkEvery: o.checkEvery ?? (jacobi ? 10 : 2),
    });
    const x = new Float32Array(await e.read(bufs.x.buffer, 0, N * 4));
    for (const i of lap.pixels) if (!known[i]) alpha[i] = Math.min(1, Math.max(0, x0[i]! + x[i]!));
    const seconds = { setup: (t1 - t0) / 1000, solve: (performance.now() - t1) / 1000 };
    return { alpha, iterations: res.iterations, relResidual: res.relResidual, history: res.history, unknowns: m, windows: lap.nWin, multigridLevels, seconds };
  } finally {
    for (const b of Object.values(bufs)) b.dispose();
    op.dispose();
    mg?.dispose();
  }
}
