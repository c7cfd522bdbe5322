/**
 * The smoothed-aggregation V-cycle (hierarchy from aggregation.ts) as CG's preconditioner, on the
 * GPU. The fine level is the assembled 25-point stencil of multigrid.ts (9-colour Gauss-Seidel,
 * the same kernels); coarse levels are block-sparse rows of 4x4 blocks over nodes (x, b as
 * vec4 per node; blocks as mat4x4, column-major as WGSL reads them), smoothed by two sweeps of
 * block Gauss-Seidel in 9 colours of (x mod 3, y mod 3) on the node grid, with the diagonal blocks'
 * inverses precomputed. The coarsest level is solved exactly by a dense inverse. Restriction is
 * P^T with the same f32 values as P, forward colour sweeps before the coarse correction and the
 * reverse after it, and the coarsest inverse symmetrised: the V-cycle is a symmetric operator, as
 * CG needs.
 */
import { engine } from '../../engine/engine.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { tensor } from '../../engine/creation.ts';
import { flatIndex, grid1d, type KernelDef } from '../../engine/kernels/kernel.ts';
import { PCG_PER, pcgGrid, type PcgPreconditioner } from './cg.ts';
import { denseInverse, SLOTS, type AggregationLevel } from './aggregation.ts';
import { MG_WG, mgCopyIn, mgCopyOut, mgResidual, mgSmooth, uploadLevel, type GpuLevel } from './multigrid.ts';
import type { StencilLevel } from './stencil.ts';
import type { Bsr } from './sparse.ts';

const WG = MG_WG;
/**
 * The fine level's coarse correction is scaled up (over-correction; a scalar keeps the V-cycle
 * symmetric): the smoothed coarse basis underestimates the error's size. CG iterations to 1e-7
 * with 1 / 1.4 (3x3 fine aggregates, one coarse sweep): GT13 72 / 56, GT26 36 / 32, GT04 32 / 28,
 * GT08 40 / 36 (1.3 and 1.6 gave the same counts; scaling the coarser levels' corrections too gave
 * no further gain). With 5x5 aggregates and two coarse sweeps the gain is smaller: GT13 48 / 46,
 * GT26 28 / 26, GT08 30 / 28 (1.7 and 2.0: 48, 28, 28).
 */
const FINE_CORRECTION_SCALE = 1.4;
/**
 * Block Gauss-Seidel sweeps before and after each block level's coarse correction. Two halve the
 * error that the first coarse level leaves: CG iterations to 1e-7 with 1 / 2 / 3 sweeps on GT13
 * 46 / 36 / 34, GT26 30 / 24; a sweep there costs about 0.7 of a fine-level one.
 */
const BLOCK_SWEEPS = 2;
const entry = (head: string) => `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(WG)};
${head}`;

/**
 * Coarse b = P^T (fine residual), coarse x = 0, one invocation per coarse node over its list of
 * (fine row, weights): from the stencil level (weights vec4 over the coarse slots, residual a
 * padded plane of f32) or between block levels (4x4 blocks, residual vec4 per node).
 */
function restrictKernel(name: string, weight: string, res: string): KernelDef {
  return {
    name,
    uniforms: [['n', 'u32']],
    storage: [['ptr', 'read', 'array<u32>'], ['idx', 'read', 'array<u32>'], ['w', 'read', `array<${weight}>`], ['res', 'read', `array<${res}>`], ['b', 'write', 'array<vec4<f32>>'], ['x', 'write', 'array<vec4<f32>>']],
    body: entry(`  if (t >= u.n) { return; }
  var s = vec4<f32>(0.0);
  for (var e = ptr[t]; e < ptr[t + 1u]; e++) { s += w[e] * res[idx[e]]; }
  b[t] = s;
  x[t] = vec4<f32>(0.0);
}`),
  };
}
export const saRestrictFine = restrictKernel('saRestrictFine', 'vec4<f32>', 'f32');
const saRestrict = restrictKernel('saRestrict', 'mat4x4<f32>', 'vec4<f32>');

/** Stencil level x += scale P (coarse x), per fine unknown (pix: its padded index). */
export const saProlongFine: KernelDef = {
  name: 'saProlongFine',
  uniforms: [['m', 'u32'], ['scale', 'f32']],
  storage: [['ptr', 'read', 'array<u32>'], ['node', 'read', 'array<u32>'], ['w', 'read', 'array<vec4<f32>>'], ['pix', 'read', 'array<u32>'], ['xc', 'read', 'array<vec4<f32>>'], ['x', 'write', 'array<f32>']],
  body: entry(`  if (t >= u.m) { return; }
  var s = 0.0;
  for (var e = ptr[t]; e < ptr[t + 1u]; e++) { s += dot(w[e], xc[node[e]]); }
  x[pix[t]] += u.scale * s;
}`),
};

/** Fine x += P (coarse x) between block levels. */
const saProlong: KernelDef = {
  name: 'saProlong',
  uniforms: [['n', 'u32']],
  storage: [['ptr', 'read', 'array<u32>'], ['node', 'read', 'array<u32>'], ['blk', 'read', 'array<mat4x4<f32>>'], ['xc', 'read', 'array<vec4<f32>>'], ['x', 'write', 'array<vec4<f32>>']],
  body: entry(`  if (t >= u.n) { return; }
  var s = vec4<f32>(0.0);
  for (var e = ptr[t]; e < ptr[t + 1u]; e++) { s += blk[e] * xc[node[e]]; }
  x[t] += s;
}`),
};

/** One colour of block Gauss-Seidel: x_n = D_n^-1 (b_n - sum_{j != n} A_nj x_j). */
const saSmooth: KernelDef = {
  name: 'saSmooth',
  uniforms: [['start', 'u32'], ['count', 'u32']],
  storage: [['order', 'read', 'array<u32>'], ['ptr', 'read', 'array<u32>'], ['col', 'read', 'array<u32>'], ['blk', 'read', 'array<mat4x4<f32>>'], ['dinv', 'read', 'array<mat4x4<f32>>'], ['b', 'read', 'array<vec4<f32>>'], ['x', 'write', 'array<vec4<f32>>']],
  body: entry(`  if (t >= u.count) { return; }
  let n = order[u.start + t];
  var s = b[n];
  for (var e = ptr[n]; e < ptr[n + 1u]; e++) { s -= blk[e] * x[col[e]]; }
  x[n] = dinv[n] * s;
}`),
};

/** res = b - A x on a block level. */
const saResidual: KernelDef = {
  name: 'saResidual',
  uniforms: [['n', 'u32']],
  storage: [['ptr', 'read', 'array<u32>'], ['col', 'read', 'array<u32>'], ['blk', 'read', 'array<mat4x4<f32>>'], ['diag', 'read', 'array<mat4x4<f32>>'], ['b', 'read', 'array<vec4<f32>>'], ['x', 'read', 'array<vec4<f32>>'], ['res', 'write', 'array<vec4<f32>>']],
  body: entry(`  if (t >= u.n) { return; }
  var s = b[t] - diag[t] * x[t];
  for (var e = ptr[t]; e < ptr[t + 1u]; e++) { s -= blk[e] * x[col[e]]; }
  res[t] = s;
}`),
};

/** The coarsest level: x = A^-1 b with the dense inverse (n unknowns, row-major). */
const saCoarsest: KernelDef = {
  name: 'saCoarsest',
  uniforms: [['n', 'u32']],
  storage: [['inv', 'read', 'array<f32>'], ['b', 'read', 'array<f32>'], ['x', 'write', 'array<f32>']],
  body: entry(`  if (t >= u.n) { return; }
  var s = 0.0;
  let row = t * u.n;
  for (var j = 0u; j < u.n; j++) { s += inv[row + j] * b[j]; }
  x[t] = s;
}`),
};

/** A block level on the GPU. */
interface BlockLevel {
  nodes: number;
  /** Colour c's nodes are order[starts[c] .. starts[c + 1]). */
  starts: number[];
  order: Tensor;
  ptr: Tensor;
  col: Tensor;
  blk: Tensor;
  diag: Tensor;
  dinv: Tensor;
  b: Tensor;
  x: Tensor;
  res: Tensor;
}

/** Transfers between level l and l + 1: P per fine row, P^T per coarse row. */
interface Transfer {
  fineRows: number;
  coarseRows: number;
  pPtr: Tensor; pIdx: Tensor; pVal: Tensor;
  rPtr: Tensor; rIdx: Tensor; rVal: Tensor;
  /** Fine level 0 only: the padded index of each fine unknown. */
  pix?: Tensor;
}

const u32 = (a: ArrayLike<number>) => tensor(Int32Array.from(a));

/** Column-major 4x4 (WGSL mat4x4) at out[at] from a row-major one at m[from]. */
function colMajor(m: Float64Array, from: number, out: Float32Array, at: number): void {
  for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) out[at + c * 4 + r] = m[from + r * 4 + c]!;
}

/** The inverse (symmetrised) of the row-major 4x4 at m[from], into inv; a is scratch of 16. */
function invert4(m: Float64Array, from: number, a: Float64Array, inv: Float64Array): Float64Array {
  for (let i = 0; i < 16; i++) { a[i] = m[from + i]!; inv[i] = i % 5 === 0 ? 1 : 0; }
  for (let c = 0; c < 4; c++) {
    let p = c;
    for (let r = c + 1; r < 4; r++) if (Math.abs(a[r * 4 + c]!) > Math.abs(a[p * 4 + c]!)) p = r;
    if (p !== c) {
      for (let j = 0; j < 4; j++) {
        const t = a[c * 4 + j]!, u = inv[c * 4 + j]!;
        a[c * 4 + j] = a[p * 4 + j]!; a[p * 4 + j] = t;
        inv[c * 4 + j] = inv[p * 4 + j]!; inv[p * 4 + j] = u;
      }
    }
    const d = a[c * 5]!;
    if (!(Math.abs(d) > 0)) throw new Error('aggregation multigrid: singular diagonal block');
    for (let j = 0; j < 4; j++) { a[c * 4 + j]! /= d; inv[c * 4 + j]! /= d; }
    for (let r = 0; r < 4; r++) {
      if (r === c) continue;
      const f = a[r * 4 + c]!;
      for (let j = 0; j < 4; j++) { a[r * 4 + j]! -= f * a[c * 4 + j]!; inv[r * 4 + j]! -= f * inv[c * 4 + j]!; }
    }
  }
  for (let r = 0; r < 4; r++) for (let c = 0; c < r; c++) { const s = (inv[r * 4 + c]! + inv[c * 4 + r]!) / 2; inv[r * 4 + c] = s; inv[c * 4 + r] = s; }
  return inv;
}

/** A block level: its operator as node blocks, colours from the node grid (couplings within 2). */
function uploadBlockLevel(L: AggregationLevel): BlockLevel {
  const { A, cells, W } = L;
  const nodes = cells.length;
  const ptr = new Int32Array(nodes + 1);
  const nb = A.ptr[nodes]!;
  const col = new Int32Array(Math.max(1, nb - nodes));
  const blk = new Float32Array(16 * Math.max(1, nb - nodes));
  const diag = new Float32Array(16 * nodes), dinv = new Float32Array(16 * nodes);
  let k = 0;
  const scratch = new Float64Array(16), inv = new Float64Array(16);
  for (let n = 0; n < nodes; n++) {
    const y = (cells[n]! / W) | 0, x = cells[n]! - y * W;
    for (let p = A.ptr[n]!; p < A.ptr[n + 1]!; p++) {
      const cn = A.col[p]!;
      if (cn === n) {
        colMajor(A.val, 16 * p, diag, 16 * n);
        colMajor(invert4(A.val, 16 * p, scratch, inv), 0, dinv, 16 * n);
        continue;
      }
      const cy = (cells[cn]! / W) | 0, cx = cells[cn]! - cy * W;
      if (Math.abs(cy - y) > 2 || Math.abs(cx - x) > 2) throw new Error(`aggregation multigrid: nodes ${n} and ${cn} couple across more than 2 cells`);
      col[k] = cn;
      colMajor(A.val, 16 * p, blk, 16 * k++);
    }
    ptr[n + 1] = k;
  }
  const colour = (n: number) => { const y = (cells[n]! / W) | 0; return (y % 3) * 3 + ((cells[n]! - y * W) % 3); };
  const order = Array.from({ length: nodes }, (_, n) => n).sort((a, b) => colour(a) - colour(b) || a - b);
  const starts = new Array<number>(10).fill(0);
  for (let n = 0; n < nodes; n++) starts[colour(n) + 1]!++;
  for (let c = 0; c < 9; c++) starts[c + 1]! += starts[c]!;
  const zeros = () => tensor(new Float32Array(4 * nodes));
  return {
    nodes, starts, order: u32(order), ptr: u32(ptr), col: tensor(col),
    blk: tensor(blk), diag: tensor(diag), dinv: tensor(dinv), b: zeros(), x: zeros(), res: zeros(),
  };
}

/**
 * P (fine rows x coarse nodes) as per-row lists of (coarse node, weights), and its transpose as
 * per-coarse-node lists of (fine row, weights). Fine rows are unknowns on level 0 (weights a vec4
 * over the coarse slots; pix: their padded indices) and nodes above (weights a 4x4 block).
 */
function uploadTransfer(P: Bsr, pix?: Uint32Array): Transfer {
  const fineRows = P.rows, coarseRows = P.cols, fs = P.rowSlots, width = 4 * fs;
  const ne = P.ptr[fineRows]!;
  const pVal = new Float32Array(Math.max(1, ne) * width), rVal = new Float32Array(Math.max(1, ne) * width);
  const rPtr = new Int32Array(coarseRows + 1);
  for (let e = 0; e < ne; e++) rPtr[P.col[e]! + 1]!++;
  for (let c = 0; c < coarseRows; c++) rPtr[c + 1]! += rPtr[c]!;
  const fillAt = rPtr.slice(0, coarseRows);
  const rIdx = new Int32Array(Math.max(1, ne));
  const v = P.val; // row-major blocks [fine slot][coarse slot]
  for (let f = 0; f < fineRows; f++) {
    for (let e = P.ptr[f]!; e < P.ptr[f + 1]!; e++) {
      const at = fillAt[P.col[e]!]!++, b = e * width;
      rIdx[at] = pix ? pix[f]! : f;
      if (fs === 1) {
        for (let j = 0; j < 4; j++) { pVal[4 * e + j] = v[b + j]!; rVal[4 * at + j] = v[b + j]!; }
      } else {
        colMajor(v, b, pVal, 16 * e);
        // The transposed block, column-major: its column j is row j of the block.
        for (let i = 0; i < 16; i++) rVal[16 * at + i] = v[b + i]!;
      }
    }
  }
  return {
    fineRows, coarseRows,
    pPtr: tensor(P.ptr), pIdx: tensor(ne ? P.col : new Int32Array(1)), pVal: tensor(pVal),
    rPtr: tensor(rPtr), rIdx: tensor(rIdx), rVal: tensor(rVal),
    pix: pix ? u32(pix) : undefined,
  };
}

/** z = V-cycle(r) for an aggregation hierarchy (levels[0] over `fine`'s unknowns). */
export class AggregationPreconditioner implements PcgPreconditioner {
  private readonly fine: GpuLevel;
  private readonly blocks: BlockLevel[];
  private readonly transfers: Transfer[];
  private readonly coarsestInv: Tensor;
  private readonly coarsestN: number;

  /** pixels: the CG's unknowns (a u32 GPU buffer of fine.pixels, in any order). */
  constructor(levels: AggregationLevel[], fine: StencilLevel, private readonly pixels: GPUBuffer) {
    if (levels.length < 2) throw new Error('aggregation multigrid: needs at least two levels');
    this.fine = uploadLevel(fine);
    const Wp = fine.W + 4;
    const pix = Uint32Array.from(fine.pixels, (p) => { const y = (p / fine.W) | 0; return (y + 2) * Wp + (p - y * fine.W) + 2; });
    this.blocks = levels.slice(1).map(uploadBlockLevel);
    this.transfers = levels.slice(0, -1).map((L, l) => uploadTransfer(L.P!, l === 0 ? pix : undefined));
    const last = levels[levels.length - 1]!;
    this.coarsestN = last.A.rows * last.slots;
    this.coarsestInv = tensor(Float32Array.from(denseInverse(last.A)));
  }

  apply(r: GPUBuffer, z: GPUBuffer, partial: GPUBuffer): void {
    const e = engine();
    const f = this.fine;
    const nPart = Math.max(1, Math.ceil(f.m / PCG_PER));
    e.dispatch(mgCopyIn, { m: f.m, W: f.W }, [this.pixels, r, f.b.buffer, f.x.buffer], grid1d(f.m, WG));
    this.fineCycle();
    e.dispatch(mgCopyOut, { m: f.m, nPart, W: f.W }, [this.pixels, f.x.buffer, r, z, partial], pcgGrid(f.m));
  }

  private fineCycle(): void {
    const e = engine();
    const L = this.fine, Wp = L.W + 4, T = this.transfers[0]!, C = this.blocks[0]!;
    for (let c = 0; c < 9; c++) this.smoothFine(c);
    e.dispatch(mgResidual, { m: L.m, Wp }, [L.pts.buffer, L.coef.buffer, L.b.buffer, L.x.buffer, L.res.buffer], grid1d(L.m, WG));
    e.dispatch(saRestrictFine, { n: C.nodes }, [T.rPtr.buffer, T.rIdx.buffer, T.rVal.buffer, L.res.buffer, C.b.buffer, C.x.buffer], grid1d(C.nodes, WG));
    this.blockCycle(0);
    e.dispatch(saProlongFine, { m: T.fineRows, scale: FINE_CORRECTION_SCALE }, [T.pPtr.buffer, T.pIdx.buffer, T.pVal.buffer, T.pix!.buffer, C.x.buffer, L.x.buffer], grid1d(T.fineRows, WG));
    for (let c = 8; c >= 0; c--) this.smoothFine(c);
  }

  /** Block level b (level b + 1 of the hierarchy), from x = 0. */
  private blockCycle(b: number): void {
    const e = engine();
    const L = this.blocks[b]!;
    if (b === this.blocks.length - 1) {
      e.dispatch(saCoarsest, { n: this.coarsestN }, [this.coarsestInv.buffer, L.b.buffer, L.x.buffer], grid1d(this.coarsestN, WG));
      return;
    }
    const T = this.transfers[b + 1]!, C = this.blocks[b + 1]!;
    for (let k = 0; k < BLOCK_SWEEPS; k++) for (let c = 0; c < 9; c++) this.smoothBlock(L, c);
    e.dispatch(saResidual, { n: L.nodes }, [L.ptr.buffer, L.col.buffer, L.blk.buffer, L.diag.buffer, L.b.buffer, L.x.buffer, L.res.buffer], grid1d(L.nodes, WG));
    e.dispatch(saRestrict, { n: C.nodes }, [T.rPtr.buffer, T.rIdx.buffer, T.rVal.buffer, L.res.buffer, C.b.buffer, C.x.buffer], grid1d(C.nodes, WG));
    this.blockCycle(b + 1);
    e.dispatch(saProlong, { n: L.nodes }, [T.pPtr.buffer, T.pIdx.buffer, T.pVal.buffer, C.x.buffer, L.x.buffer], grid1d(L.nodes, WG));
    for (let k = 0; k < BLOCK_SWEEPS; k++) for (let c = 8; c >= 0; c--) this.smoothBlock(L, c);
  }

  private smoothFine(c: number): void {
    const L = this.fine;
    const count = L.starts[c + 1]! - L.starts[c]!;
    if (count === 0) return;
    engine().dispatch(mgSmooth, { start: L.starts[c]!, count, m: L.m, Wp: L.W + 4 }, [L.pts.buffer, L.coef.buffer, L.b.buffer, L.x.buffer], grid1d(count, WG));
  }

  private smoothBlock(L: BlockLevel, c: number): void {
    const count = L.starts[c + 1]! - L.starts[c]!;
    if (count === 0) return;
    engine().dispatch(saSmooth, { start: L.starts[c]!, count }, [L.order.buffer, L.ptr.buffer, L.col.buffer, L.blk.buffer, L.dinv.buffer, L.b.buffer, L.x.buffer], grid1d(count, WG));
  }

  dispose(): void {
    const f = this.fine;
    for (const t of [f.pts, f.coef, f.b, f.x, f.res, f.startsBuf, f.interp]) t?.dispose();
    for (const L of this.blocks) for (const t of [L.order, L.ptr, L.col, L.blk, L.diag, L.dinv, L.b, L.x, L.res]) t.dispose();
    for (const T of this.transfers) for (const t of [T.pPtr, T.pIdx, T.pVal, T.rPtr, T.rIdx, T.rVal, T.pix]) t?.dispose();
    this.coarsestInv.dispose();
  }
}
