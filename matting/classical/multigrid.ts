/**
 * A multigrid V-cycle as the preconditioner of CG (cg.ts) for the closed-form matting system:
 * Galerkin levels from stencil.ts, symmetric multicolour Gauss-Seidel smoothing, full-weighting
 * restriction (P^T) and bilinear prolongation (P), and the coarsest level smoothed many times in a
 * single workgroup. Jacobi-preconditioned CG needs hundreds to thousands of iterations on these
 * systems (the error modes that are smooth along the image's colour regions are only reduced a
 * little per iteration); the V-cycle removes them on the coarse grids.
 *
 * Vectors of a level live on its grid padded by 2 on every side, so the 25-point stencil of any
 * unknown reads inside the buffer; entries that are not unknowns stay zero. The stencil couples
 * points at most 2 apart, so points with equal (x mod 3, y mod 3) are independent: a Gauss-Seidel
 * sweep is 9 dispatches, one per colour (the level's unknowns are sorted by colour). Forward sweeps
 * before the coarse correction and the same colours in reverse after it, and a palindromic colour
 * order on the coarsest level, make the V-cycle a symmetric operator, as CG needs.
 */
import { engine } from '../../engine/engine.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { tensor } from '../../engine/creation.ts';
import { flatIndex, grid1d, type KernelDef } from '../../engine/kernels/kernel.ts';
import { PCG_PER, PCG_RUN, pcgGrid, type PcgPreconditioner } from './cg.ts';
import { CENTRE, STENCIL, type StencilLevel } from './stencil.ts';

export const MG_WG = 64;
const WG = MG_WG;
const COARSE_WG = 256;

const offsets = Array.from({ length: STENCIL }, (_, k) => ({ k, dx: (k % 5) - 2, dy: Math.floor(k / 5) - 2 }));
/** WGSL: index of neighbour (dx, dy) of padded index i on a grid of padded width Wp. */
const at = (dx: number, dy: number) => `i ${dy < 0 ? '-' : '+'} ${Math.abs(dy)}u * Wp ${dx < 0 ? '-' : '+'} ${Math.abs(dx)}u`;
/** WGSL: sum over the stencil's off-centre entries of coef * x at the neighbour (q: the unknown's slot). */
const offCentre = offsets.filter((o) => o.k !== CENTRE).map(({ k, dx, dy }) => `coef[${k}u * m + q] * x[${at(dx, dy)}]`);

/** One colour of a Gauss-Seidel sweep: x_i = (b_i - sum_{j != i} a_ij x_j) / a_ii. */
export const mgSmooth: KernelDef = {
  name: 'mgSmooth',
  uniforms: [['start', 'u32'], ['count', 'u32'], ['m', 'u32'], ['Wp', 'u32']],
  storage: [
    ['pts', 'read', 'array<u32>'],
    ['coef', 'read', 'array<f32>'],
    ['b', 'read', 'array<f32>'],
    ['x', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(WG)};
  if (t >= u.count) { return; }
  let q = u.start + t;
  let i = pts[q];
  let m = u.m;
  let Wp = u.Wp;
  let s = b[i]
    - ${offCentre.join('\n    - ')};
  x[i] = s / coef[${CENTRE}u * m + q];
}`,
};

/** res = b - A x over the level's unknowns. */
export const mgResidual: KernelDef = {
  name: 'mgResidual',
  uniforms: [['m', 'u32'], ['Wp', 'u32']],
  storage: [
    ['pts', 'read', 'array<u32>'],
    ['coef', 'read', 'array<f32>'],
    ['b', 'read', 'array<f32>'],
    ['x', 'read', 'array<f32>'],
    ['res', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let q = ${flatIndex(WG)};
  if (q >= u.m) { return; }
  let i = pts[q];
  let m = u.m;
  let Wp = u.Wp;
  res[i] = b[i] - coef[${CENTRE}u * m + q] * x[i]
    - ${offCentre.join('\n    - ')};
}`,
};

/**
 * Coarse b = P^T (fine residual), coarse x = 0, for each coarse unknown: the fine points within 1
 * of (2X, 2Y), each with its weight toward this parent (slot 2 [dy = -1] + [dx = -1]).
 */
const mgRestrict: KernelDef = {
  name: 'mgRestrict',
  uniforms: [['m', 'u32'], ['Wpc', 'u32'], ['Wpf', 'u32'], ['Npf', 'u32']],
  storage: [
    ['pts', 'read', 'array<u32>'],
    ['res', 'read', 'array<f32>'],
    ['wf', 'read', 'array<f32>'],
    ['b', 'write', 'array<f32>'],
    ['x', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let q = ${flatIndex(WG)};
  if (q >= u.m) { return; }
  let I = pts[q];
  let X = I % u.Wpc - 2u;
  let Y = I / u.Wpc - 2u;
  let Wp = u.Wpf;
  let i = (2u * Y + 2u) * Wp + 2u * X + 2u;
  b[I] = wf[3u * u.Npf + i - 1u * Wp - 1u] * res[i - 1u * Wp - 1u]
    + wf[2u * u.Npf + i - 1u * Wp + 0u] * res[i - 1u * Wp + 0u]
    + wf[2u * u.Npf + i - 1u * Wp + 1u] * res[i - 1u * Wp + 1u]
    + wf[1u * u.Npf + i + 0u * Wp - 1u] * res[i + 0u * Wp - 1u]
    + wf[0u * u.Npf + i + 0u * Wp + 0u] * res[i + 0u * Wp + 0u]
    + wf[0u * u.Npf + i + 0u * Wp + 1u] * res[i + 0u * Wp + 1u]
    + wf[1u * u.Npf + i + 1u * Wp - 1u] * res[i + 1u * Wp - 1u]
    + wf[0u * u.Npf + i + 1u * Wp + 0u] * res[i + 1u * Wp + 0u]
    + wf[0u * u.Npf + i + 1u * Wp + 1u] * res[i + 1u * Wp + 1u];
  x[I] = 0.0;
}`,
};

/** Fine x += P (coarse x): each fine unknown from its (up to 4) parents with its weights. */
const mgProlong: KernelDef = {
  name: 'mgProlong',
  uniforms: [['m', 'u32'], ['Wpc', 'u32'], ['Wpf', 'u32'], ['Npf', 'u32']],
  storage: [
    ['pts', 'read', 'array<u32>'],
    ['xc', 'read', 'array<f32>'],
    ['wf', 'read', 'array<f32>'],
    ['x', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let q = ${flatIndex(WG)};
  if (q >= u.m) { return; }
  let i = pts[q];
  let fx = i % u.Wpf - 2u;
  let fy = i / u.Wpf - 2u;
  let x0 = fx >> 1u;
  let x1 = (fx + 1u) >> 1u;
  let r0 = ((fy >> 1u) + 2u) * u.Wpc + 2u;
  let r1 = (((fy + 1u) >> 1u) + 2u) * u.Wpc + 2u;
  let n = u.Npf;
  x[i] += wf[i] * xc[r0 + x0] + wf[n + i] * xc[r0 + x1] + wf[2u * n + i] * xc[r1 + x0] + wf[3u * n + i] * xc[r1 + x1];
}`,
};

/**
 * Gauss-Seidel sweeps of a small level in one workgroup (a barrier between colours instead of a
 * dispatch per colour: on llvmpipe a dispatch costs more than sweeping a few thousand points).
 * `order` lists the colours of the passes (9 per sweep); the coarsest level uses it with x = 0
 * (set by the restriction) and a palindromic order, which makes it symmetric in b.
 */
const mgSmoothSmall: KernelDef = {
  name: 'mgSmoothSmall',
  uniforms: [['m', 'u32'], ['Wp', 'u32'], ['passes', 'u32'], ['first', 'u32']],
  storage: [
    ['pts', 'read', 'array<u32>'],
    ['coef', 'read', 'array<f32>'],
    ['starts', 'read', 'array<u32>'],
    ['order', 'read', 'array<u32>'],
    ['b', 'read', 'array<f32>'],
    ['x', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${COARSE_WG})
fn main(@builtin(local_invocation_index) li: u32) {
  let m = u.m;
  let Wp = u.Wp;
  for (var n = 0u; n < u.passes; n++) {
    let c = order[u.first + n];
    for (var q = starts[c] + li; q < starts[c + 1u]; q += ${COARSE_WG}u) {
      let i = pts[q];
      let s = b[i]
        - ${offCentre.join('\n        - ')};
      x[i] = s / coef[${CENTRE}u * m + q];
    }
    storageBarrier();
    workgroupBarrier();
  }
}`,
};

/** CG's residual (a plane of W*H) into the fine level's b (padded), fine x = 0. */
export const mgCopyIn: KernelDef = {
  name: 'mgCopyIn',
  uniforms: [['m', 'u32'], ['W', 'u32']],
  storage: [
    ['pixels', 'read', 'array<u32>'],
    ['r', 'read', 'array<f32>'],
    ['b', 'write', 'array<f32>'],
    ['x', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(WG)};
  if (t >= u.m) { return; }
  let i = pixels[t];
  let y = i / u.W;
  let ip = (y + 2u) * (u.W + 4u) + i - y * u.W + 2u;
  b[ip] = r[i];
  x[ip] = 0.0;
}`,
};

/** z = the fine level's x, with CG's partial sums of r.z and r.r. */
export const mgCopyOut: KernelDef = {
  name: 'mgCopyOut',
  uniforms: [['m', 'u32'], ['nPart', 'u32'], ['W', 'u32']],
  storage: [
    ['pixels', 'read', 'array<u32>'],
    ['xf', 'read', 'array<f32>'],
    ['r', 'read', 'array<f32>'],
    ['z', 'write', 'array<f32>'],
    ['partial', 'write', 'array<f32>'],
  ],
  body: PCG_RUN(`    let y = i / u.W;
    let zi = xf[(y + 2u) * (u.W + 4u) + i - y * u.W + 2u];
    let ri = r[i];
    z[i] = zi;
    v1 += ri * zi;
    v2 += ri * ri;`),
};

/** Levels with at most this many unknowns are smoothed in one workgroup (mgSmoothSmall). */
const SMALL_LEVEL = 4096;

export interface MultigridOptions {
  /** Gauss-Seidel sweeps before (forward) and after (backward) each coarse correction; default 1. */
  sweeps?: number;
  /** Forward+backward sweep pairs on the coarsest level; default 4. */
  coarsestSweeps?: number;
}

export interface GpuLevel {
  W: number;
  H: number;
  m: number;
  /** Colour c's unknowns are slots starts[c] .. starts[c + 1]. */
  starts: number[];
  pts: Tensor;
  coef: Tensor;
  b: Tensor;
  x: Tensor;
  res: Tensor;
  startsBuf: Tensor;
  /** The interpolation weights (4 planes over the padded grid), for all but the coarsest level. */
  interp: Tensor | null;
}

/** Sorted by colour (y mod 3) * 3 + x mod 3, padded indices, coefficients as 25 planes of f32. */
export function uploadLevel(l: StencilLevel): GpuLevel {
  const { W, H, pixels, coef } = l;
  const m = pixels.length, Wp = W + 4, Np = Wp * (H + 4);
  const colour = (p: number) => (((p / W) | 0) % 3) * 3 + ((p % W) % 3);
  // Counting sort by colour (stable: ascending pixels within a colour).
  const starts = new Array<number>(10).fill(0);
  for (const p of pixels) starts[colour(p) + 1]!++;
  for (let c = 0; c < 9; c++) starts[c + 1]! += starts[c]!;
  const order = new Int32Array(m), fill = starts.slice(0, 9);
  for (let a = 0; a < m; a++) order[fill[colour(pixels[a]!)]!++] = a;
  const pts = new Uint32Array(m), planes = new Float32Array(STENCIL * m);
  order.forEach((a, q) => {
    const p = pixels[a]!, y = (p / W) | 0;
    pts[q] = (y + 2) * Wp + (p - y * W) + 2;
    for (let k = 0; k < STENCIL; k++) planes[k * m + q] = coef[a * STENCIL + k]!;
  });
  const zeros = () => tensor(new Float32Array(Np));
  return {
    W, H, m, starts,
    pts: tensor(new Int32Array(pts.buffer)),
    coef: tensor(planes),
    b: zeros(), x: zeros(), res: zeros(),
    startsBuf: tensor(Int32Array.from(starts)),
    interp: l.interp ? tensor(interpPlanes(l, Wp, Np)) : null,
  };
}

/** StencilLevel.interp as 4 planes over the padded grid (zero off the unknowns). */
function interpPlanes(l: StencilLevel, Wp: number, Np: number): Float32Array {
  const out = new Float32Array(4 * Np);
  l.pixels.forEach((p, a) => {
    const y = (p / l.W) | 0, ip = (y + 2) * Wp + (p - y * l.W) + 2;
    for (let j = 0; j < 4; j++) out[j * Np + ip] = l.interp![a * 4 + j]!;
  });
  return out;
}

/** z = V-cycle(r) for the hierarchy `levels` (levels[0] over the CG's unknowns). */
export class MultigridPreconditioner implements PcgPreconditioner {
  private readonly levels: GpuLevel[];
  private readonly sweeps: number;
  private readonly coarsestSweeps: number;
  /**
   * Colour orders for mgSmoothSmall: `sweeps` forward sweeps from 0, the same backward from
   * 9 sweeps, and the coarsest level's palindrome (forward, backward, ...) from 18 sweeps.
   */
  private readonly order: Tensor;

  /** pixels: the CG's unknowns (a u32 GPU buffer of levels[0].pixels, in any order), m of them. */
  constructor(levels: StencilLevel[], private readonly pixels: GPUBuffer, o: MultigridOptions = {}) {
    this.levels = levels.map(uploadLevel);
    this.sweeps = Math.max(1, o.sweeps ?? 1);
    this.coarsestSweeps = Math.max(1, o.coarsestSweeps ?? 4);
    const f = Array.from({ length: 9 }, (_, c) => c), r = f.slice().reverse();
    const rep = (a: number[], n: number) => Array.from({ length: n }, () => a).flat();
    this.order = tensor(Int32Array.from([...rep(f, this.sweeps), ...rep(r, this.sweeps), ...rep([...f, ...r], this.coarsestSweeps)]));
  }

  get depth(): number {
    return this.levels.length;
  }

  apply(r: GPUBuffer, z: GPUBuffer, partial: GPUBuffer): void {
    const e = engine();
    const f = this.levels[0]!;
    const nPart = Math.max(1, Math.ceil(f.m / PCG_PER));
    e.dispatch(mgCopyIn, { m: f.m, W: f.W }, [this.pixels, r, f.b.buffer, f.x.buffer], grid1d(f.m, WG));
    this.cycle(0);
    e.dispatch(mgCopyOut, { m: f.m, nPart, W: f.W }, [this.pixels, f.x.buffer, r, z, partial], pcgGrid(f.m));
  }

  /** x_l = V-cycle approximation of A_l^-1 b_l, from x_l = 0. */
  private cycle(l: number): void {
    const e = engine();
    const L = this.levels[l]!;
    const Wp = L.W + 4;
    const ns = 9 * this.sweeps;
    if (l === this.levels.length - 1) {
      this.smoothSmall(L, 2 * ns, 18 * this.coarsestSweeps);
      return;
    }
    const small = L.m <= SMALL_LEVEL;
    const forward = Array.from({ length: 9 }, (_, c) => c);
    if (small) this.smoothSmall(L, 0, ns);
    else for (let s = 0; s < this.sweeps; s++) for (const c of forward) this.smooth(L, c);
    e.dispatch(mgResidual, { m: L.m, Wp }, [L.pts.buffer, L.coef.buffer, L.b.buffer, L.x.buffer, L.res.buffer], grid1d(L.m, WG));
    const C = this.levels[l + 1]!;
    const Npf = Wp * (L.H + 4), wf = L.interp!.buffer;
    e.dispatch(mgRestrict, { m: C.m, Wpc: C.W + 4, Wpf: Wp, Npf }, [C.pts.buffer, L.res.buffer, wf, C.b.buffer, C.x.buffer], grid1d(C.m, WG));
    this.cycle(l + 1);
    e.dispatch(mgProlong, { m: L.m, Wpc: C.W + 4, Wpf: Wp, Npf }, [L.pts.buffer, C.x.buffer, wf, L.x.buffer], grid1d(L.m, WG));
    if (small) this.smoothSmall(L, ns, ns);
    else for (let s = 0; s < this.sweeps; s++) for (const c of forward.slice().reverse()) this.smooth(L, c);
  }

  private smoothSmall(L: GpuLevel, first: number, passes: number): void {
    engine().dispatch(mgSmoothSmall, { m: L.m, Wp: L.W + 4, passes, first }, [L.pts.buffer, L.coef.buffer, L.startsBuf.buffer, this.order.buffer, L.b.buffer, L.x.buffer], [1, 1, 1]);
  }

  private smooth(L: GpuLevel, c: number): void {
    const count = L.starts[c + 1]! - L.starts[c]!;
    if (count === 0) return;
    engine().dispatch(mgSmooth, { start: L.starts[c]!, count, m: L.m, Wp: L.W + 4 }, [L.pts.buffer, L.coef.buffer, L.b.buffer, L.x.buffer], grid1d(count, WG));
  }

  dispose(): void {
    this.order.dispose();
    for (const L of this.levels) for (const t of [L.pts, L.coef, L.b, L.x, L.res, L.startsBuf, L.interp]) t?.dispose();
  }
}
