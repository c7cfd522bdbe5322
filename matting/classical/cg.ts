/**
 * Preconditioned conjugate gradients on the GPU for a symmetric positive definite operator given
 * matrix-free, with a symmetric preconditioner (Jacobi here, multigrid in multigrid.ts). Vectors
 * are full-image planes; only the listed unknowns are read or written. Scalars (r.z, step, beta)
 * stay on the GPU: each dot product is a serial sum per invocation over a fixed stride of unknowns
 * plus one single-workgroup sum of the partials (fixed order: deterministic, no atomics; no barrier
 * in the wide kernels, which llvmpipe runs slowly), and the squared residual of every iteration is
 * logged on the GPU. The CPU reads one float every `checkEvery` iterations to decide whether to
 * stop, which also bounds the queued work.
 */
import { engine } from '../../engine/engine.ts';
import { Tensor } from '../../engine/tensor.ts';
import { flatIndex, grid1d, type KernelDef } from '../../engine/kernels/kernel.ts';

/** Invocations per workgroup of the vector kernels, and of the one-workgroup partial sum. */
const WG = 64;
const REDUCE_WG = 256;
/** Unknowns one invocation handles in sequence (one partial dot per invocation). */
export const PCG_PER = 16;
const S_RZ = 0, S_ALPHA = 1, S_BETA = 2, S_HIST = 4;

export interface PcgOperator {
  /**
   * Records q = A p over the unknowns and writes p.q partial sums into partial[0 .. nPart),
   * nPart = ceil(m / PCG_PER), the j-th over unknowns j, j + nPart, ... (see laplacianApplyDot).
   */
  apply(p: GPUBuffer, q: GPUBuffer, partial: GPUBuffer): void;
}

export interface PcgPreconditioner {
  /**
   * Records z = M^-1 r over the unknowns (M symmetric positive definite), with the partial sums of
   * r.z in partial[0 .. nPart) and of r.r in partial[nPart .. 2 nPart), strided as in PcgOperator.
   */
  apply(r: GPUBuffer, z: GPUBuffer, partial: GPUBuffer): void;
}

export interface PcgSystem {
  /** Plane size (every vector holds N floats). */
  N: number;
  /** The unknowns' indices (m of them) as a u32 GPU buffer. */
  pixels: GPUBuffer;
  m: number;
  /** Right-hand side (N floats). */
  rhs: GPUBuffer;
  /** ||rhs||, for the relative residual (the CPU knows it from the setup). */
  rhsNorm: number;
}

export interface PcgOptions {
  /** Stop at ||r|| <= tol ||rhs|| (recursive residual); default 1e-5. */
  tol?: number;
  /** Default 1000. */
  maxIterations?: number;
  /** Iterations between convergence reads; default 25. */
  checkEvery?: number;
}

export interface PcgResult {
  iterations: number;
  /** ||rhs - A x|| / ||rhs||, recomputed from x at the end (not the recursive residual). */
  relResidual: number;
  /** The recursive relative residual after each iteration (index 0: the initial guess). */
  history: number[];
}

/**
 * nPart invocations, invocation w taking unknowns w, w + nPart, ... (so neighbouring invocations
 * touch neighbouring pixels), two partial sums (v1, v2) each.
 */
export const PCG_RUN = (body: string) => `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = ${flatIndex(WG)};
  if (w >= u.nPart) { return; }
  var v1 = 0.0;
  var v2 = 0.0;
  for (var t = w; t < u.m; t += u.nPart) {
    let i = pixels[t];
${body}
  }
  partial[w] = v1;
  partial[u.nPart + w] = v2;
}`;

/** Workgroups of a PCG_RUN kernel over m unknowns. */
export function pcgGrid(m: number): [number, number, number] {
  return grid1d(Math.max(1, Math.ceil(m / PCG_PER)), WG);
}

/** r = rhs - q (q = A x); partials of r.r (second half). */
const pcgResidual: KernelDef = {
  name: 'pcgResidual',
  uniforms: [['m', 'u32'], ['nPart', 'u32']],
  storage: [
    ['pixels', 'read', 'array<u32>'],
    ['q', 'read', 'array<f32>'],
    ['rhs', 'read', 'array<f32>'],
    ['r', 'write', 'array<f32>'],
    ['partial', 'write', 'array<f32>'],
  ],
  body: PCG_RUN(`    let ri = rhs[i] - q[i];
    r[i] = ri;
    v2 += ri * ri;`),
};

/** Jacobi: z = D^-1 r; partials of r.z and r.r. */
const jacobiApply: KernelDef = {
  name: 'pcgJacobi',
  uniforms: [['m', 'u32'], ['nPart', 'u32']],
  storage: [
    ['pixels', 'read', 'array<u32>'],
    ['r', 'read', 'array<f32>'],
    ['dinv', 'read', 'array<f32>'],
    ['z', 'write', 'array<f32>'],
    ['partial', 'write', 'array<f32>'],
  ],
  body: PCG_RUN(`    let ri = r[i];
    let zi = dinv[i] * ri;
    z[i] = zi;
    v1 += ri * zi;
    v2 += ri * ri;`),
};

/** The diagonal preconditioner D^-1 (dinv: N floats, 1 / diag(A) on the unknowns). */
export class JacobiPreconditioner implements PcgPreconditioner {
  constructor(private readonly pixels: GPUBuffer, private readonly m: number, private readonly dinv: GPUBuffer) {}

  apply(r: GPUBuffer, z: GPUBuffer, partial: GPUBuffer): void {
    const nPart = Math.max(1, Math.ceil(this.m / PCG_PER));
    engine().dispatch(jacobiApply, { m: this.m, nPart }, [this.pixels, r, this.dinv, z, partial], pcgGrid(this.m));
  }
}

/**
 * Sums the partials (one workgroup, fixed order) and updates the scalars:
 * mode 0 (after the first z): rz = sum1, beta = 0, log[slot] = sum2; mode 1 (after A p): step = rz / sum1;
 * mode 2 (after z = M^-1 r): beta = sum1 / rz, rz = sum1, log[slot] = sum2; mode 3: log[slot] = sum2.
 */
const pcgReduce: KernelDef = {
  name: 'pcgReduce',
  uniforms: [['nPart', 'u32'], ['mode', 'u32'], ['slot', 'u32']],
  storage: [
    ['partial', 'read', 'array<f32>'],
    ['scal', 'write', 'array<f32>'],
  ],
  body: `
var<workgroup> red: array<f32, ${REDUCE_WG}>;
var<workgroup> red2: array<f32, ${REDUCE_WG}>;
@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(local_invocation_index) li: u32) {
  var a = 0.0;
  var b = 0.0;
  for (var j = li; j < u.nPart; j += ${REDUCE_WG}u) {
    if (u.mode != 3u) { a += partial[j]; }
    if (u.mode != 1u) { b += partial[u.nPart + j]; }
  }
  red[li] = a;
  red2[li] = b;
  workgroupBarrier();
  for (var s = ${REDUCE_WG / 2}u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; red2[li] += red2[li + s]; }
    workgroupBarrier();
  }
  if (li == 0u) {
    let s1 = red[0];
    let rz = scal[${S_RZ}];
    if (u.mode == 0u) {
      scal[${S_RZ}] = s1;
      scal[${S_BETA}] = 0.0;
      scal[u.slot] = red2[0];
    } else if (u.mode == 1u) {
      scal[${S_ALPHA}] = select(0.0, rz / s1, s1 > 0.0);
    } else if (u.mode == 2u) {
      scal[${S_BETA}] = select(0.0, s1 / rz, rz > 0.0);
      scal[${S_RZ}] = s1;
      scal[u.slot] = red2[0];
    } else {
      scal[u.slot] = red2[0];
    }
  }
}`,
};

/** x += step p, r -= step q. */
const pcgUpdate: KernelDef = {
  name: 'pcgUpdate',
  uniforms: [['m', 'u32']],
  storage: [
    ['scal', 'read', 'array<f32>'],
    ['pixels', 'read', 'array<u32>'],
    ['x', 'write', 'array<f32>'],
    ['p', 'read', 'array<f32>'],
    ['q', 'read', 'array<f32>'],
    ['r', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(WG)};
  if (t >= u.m) { return; }
  let i = pixels[t];
  let a = scal[${S_ALPHA}];
  x[i] += a * p[i];
  r[i] -= a * q[i];
}`,
};

/** p = z + beta p (p starts zeroed, and beta is 0 after the first z). */
const pcgDirection: KernelDef = {
  name: 'pcgDirection',
  uniforms: [['m', 'u32']],
  storage: [
    ['scal', 'read', 'array<f32>'],
    ['pixels', 'read', 'array<u32>'],
    ['z', 'read', 'array<f32>'],
    ['p', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(WG)};
  if (t >= u.m) { return; }
  let i = pixels[t];
  p[i] = z[i] + scal[${S_BETA}] * p[i];
}`,
};

/** Solves A x = rhs from the initial guess in `x` (overwritten with the solution). */
export async function pcgSolve(op: PcgOperator, pre: PcgPreconditioner, s: PcgSystem, x: GPUBuffer, o: PcgOptions = {}): Promise<PcgResult> {
  const e = engine();
  const tol = o.tol ?? 1e-5;
  const maxIt = Math.max(0, o.maxIterations ?? 1000);
  const checkEvery = Math.max(1, o.checkEvery ?? 25);
  const { m, N } = s;
  const nPart = Math.max(1, Math.ceil(m / PCG_PER));
  const grid = pcgGrid(m);
  const r = Tensor.empty([N], 'f32', 'pcg r');
  const z = Tensor.empty([N], 'f32', 'pcg z');
  const p = Tensor.empty([N], 'f32', 'pcg p');
  const q = Tensor.empty([N], 'f32', 'pcg q');
  const partial = Tensor.empty([2 * nPart], 'f32', 'pcg partials');
  const scal = Tensor.empty([S_HIST + maxIt + 1], 'f32', 'pcg scalars');
  const norm = s.rhsNorm > 0 ? s.rhsNorm : 1;
  const relOf = (rr: number) => Math.sqrt(Math.max(0, rr)) / norm;
  const readLog = async (slot: number) => relOf(new Float32Array(await e.read(scal.buffer, slot * 4, 4))[0]!);
  try {
    engine().write(p.buffer, 0, new Float32Array(N));
    op.apply(x, q.buffer, partial.buffer);
    e.dispatch(pcgResidual, { m, nPart }, [s.pixels, q.buffer, s.rhs, r.buffer, partial.buffer], grid);
    pre.apply(r.buffer, z.buffer, partial.buffer);
    e.dispatch(pcgReduce, { nPart, mode: 0, slot: S_HIST }, [partial.buffer, scal.buffer], [1, 1, 1]);
    e.dispatch(pcgDirection, { m }, [scal.buffer, s.pixels, z.buffer, p.buffer], grid1d(m, WG));
    let it = 0;
    let done = (await readLog(S_HIST)) <= tol;
    while (!done && it < maxIt) {
      it++;
      op.apply(p.buffer, q.buffer, partial.buffer);
      e.dispatch(pcgReduce, { nPart, mode: 1, slot: 0 }, [partial.buffer, scal.buffer], [1, 1, 1]);
      e.dispatch(pcgUpdate, { m }, [scal.buffer, s.pixels, x, p.buffer, q.buffer, r.buffer], grid1d(m, WG));
      pre.apply(r.buffer, z.buffer, partial.buffer);
      e.dispatch(pcgReduce, { nPart, mode: 2, slot: S_HIST + it }, [partial.buffer, scal.buffer], [1, 1, 1]);
      e.dispatch(pcgDirection, { m }, [scal.buffer, s.pixels, z.buffer, p.buffer], grid1d(m, WG));
      if (it % checkEvery === 0 || it === maxIt) done = (await readLog(S_HIST + it)) <= tol;
    }
    const history = Array.from(new Float32Array(await e.read(scal.buffer, S_HIST * 4, (it + 1) * 4)), relOf);
    // The true residual of the returned x (f32 recursion drifts from it on ill-conditioned systems).
    op.apply(x, q.buffer, partial.buffer);
    e.dispatch(pcgResidual, { m, nPart }, [s.pixels, q.buffer, s.rhs, r.buffer, partial.buffer], grid);
    e.dispatch(pcgReduce, { nPart, mode: 3, slot: S_HIST }, [partial.buffer, scal.buffer], [1, 1, 1]);
    const relResidual = await readLog(S_HIST);
    return { iterations: it, relResidual, history };
  } finally {
    for (const t of [r, z, p, q, partial, scal]) t.dispose();
  }
}
