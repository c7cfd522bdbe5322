/**
 * The strided box copy behind concat, slice and crop2d and their gradients: copies a rank-4 box of
 * `box` elements from `src` at `srcOrigin` into `dst` at `dstOrigin` (both row-major, any shapes of
 * rank <= 4, padded on the left to 4-D). One invocation per element; no reductions, so the result
 * is exact and deterministic.
 *
 * A box that is one contiguous run in both tensors (e.g. concat along axis 0) is a plain buffer copy,
 * which has no binding limit. Otherwise the box is split along its outer axes until the touched span
 * of each tensor fits one storage binding (binding.ts), so tensors of any size work.
 */
import { engine } from '../engine.ts';
import type { Tensor } from '../tensor.ts';
import { flatIndex, grid1d, type KernelDef } from './kernel.ts';
import { maxBindingElements, windowOf } from './binding.ts';

const WG = 256;

export const copyBoxKernel: KernelDef = {
  name: 'copyBox',
  uniforms: [
    ['n', 'u32'], ['b1', 'u32'], ['b2', 'u32'], ['b3', 'u32'],
    ['ss0', 'u32'], ['ss1', 'u32'], ['ss2', 'u32'], ['sBase', 'u32'],
    ['ds0', 'u32'], ['ds1', 'u32'], ['ds2', 'u32'], ['dBase', 'u32'],
  ],
  storage: [
    ['src', 'read', 'array<f32>'],
    ['dst', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(WG)};
  if (t >= u.n) { return; }
  let i3 = t % u.b3;
  let r2 = t / u.b3;
  let i2 = r2 % u.b2;
  let r1 = r2 / u.b2;
  let i1 = r1 % u.b1;
  let i0 = r1 / u.b1;
  dst[u.dBase + i0 * u.ds0 + i1 * u.ds1 + i2 * u.ds2 + i3] = src[u.sBase + i0 * u.ss0 + i1 * u.ss1 + i2 * u.ss2 + i3];
}`,
};

type V4 = [number, number, number, number];

function pad4(v: readonly number[], fill: number, what: string): V4 {
  if (v.length > 4) throw new Error(`copyBox: ${what} has rank ${v.length} > 4`);
  return [...new Array<number>(4 - v.length).fill(fill), ...v] as V4;
}

function strides4(shape: V4): V4 {
  return [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
}

/** Elements from the box's first to its last element (inclusive) in a tensor with these strides. */
function span(box: V4, strides: V4): number {
  let s = 1;
  for (let a = 0; a < 4; a++) s += (box[a]! - 1) * strides[a]!;
  return s;
}

function offset(origin: V4, strides: V4): number {
  return origin[0] * strides[0] + origin[1] * strides[1] + origin[2] * strides[2] + origin[3];
}

/** True when the box is one contiguous run of the tensor. */
function contiguous(box: V4, shape: V4): boolean {
  let a = 0;
  while (a < 3 && box[a] === 1) a++;
  for (let b = a + 1; b < 4; b++) if (box[b] !== shape[b]) return false;
  return true;
}

interface Piece {
  box: V4;
  so: V4;
  do: V4;
}

/** Splits a box along its outer axes until both spans fit `max` elements. */
function split(p: Piece, ss: V4, ds: V4, max: number, out: Piece[]): void {
  if (span(p.box, ss) <= max && span(p.box, ds) <= max) {
    out.push(p);
    return;
  }
  const a = p.box.findIndex((d) => d > 1);
  if (a < 0 || a === 3) throw new Error(`copyBox: a row of ${p.box[3]} elements exceeds a storage binding`);
  // Largest q with (q - 1) * stride + inner span <= max, for both tensors.
  const unit = [...p.box] as V4;
  unit[a] = 1;
  const fit = (s: V4) => Math.floor((max - span(unit, s)) / s[a]!) + 1;
  const q = Math.max(1, Math.min(fit(ss), fit(ds), p.box[a]!));
  for (let i = 0; i < p.box[a]!; i += q) {
    const box = [...p.box] as V4, so = [...p.so] as V4, dO = [...p.do] as V4;
    box[a] = Math.min(q, p.box[a]! - i);
    so[a] += i;
    dO[a] += i;
    split({ box, so, do: dO }, ss, ds, max, out);
  }
}

/**
 * dst[dstOrigin + i] = src[srcOrigin + i] for every index i of `box` (all given in the tensors' own
 * rank, which must be equal, or any rank <= 4 with 4-D origins and box). Both must be f32 and distinct
 * storage.
 */
export function copyBox(src: Tensor, srcOrigin: readonly number[], dst: Tensor, dstOrigin: readonly number[], box: readonly number[]): void {
  const sShape = pad4(src.shape, 1, 'src'), dShape = pad4(dst.shape, 1, 'dst');
  const b = pad4(box, 1, 'box'), so = pad4(srcOrigin, 0, 'srcOrigin'), dO = pad4(dstOrigin, 0, 'dstOrigin');
  for (let a = 0; a < 4; a++) {
    if (!(Number.isInteger(b[a]) && b[a] >= 0 && so[a] >= 0 && dO[a] >= 0 && so[a] + b[a] <= sShape[a] && dO[a] + b[a] <= dShape[a])) {
      throw new Error(`copyBox: box [${box}] at [${srcOrigin}] of [${src.shape}] -> [${dstOrigin}] of [${dst.shape}] is out of bounds`);
    }
  }
  const n = b[0] * b[1] * b[2] * b[3];
  if (n === 0) return;
  if (src.buffer === dst.buffer) throw new Error('copyBox: source and destination share storage');
  const e = engine();
  const ss = strides4(sShape), ds = strides4(dShape);
  if (contiguous(b, sShape) && contiguous(b, dShape)) {
    e.copy(src.buffer, offset(so, ss) * 4, dst.buffer, offset(dO, ds) * 4, n * 4);
    return;
  }
  const pieces: Piece[] = [];
  split({ box: b, so, do: dO }, ss, ds, maxBindingElements(), pieces);
  for (const p of pieces) {
    const s0 = offset(p.so, ss), d0 = offset(p.do, ds);
    const sw = windowOf(src.buffer, s0, s0 + span(p.box, ss));
    const dw = windowOf(dst.buffer, d0, d0 + span(p.box, ds));
    const count = p.box[0] * p.box[1] * p.box[2] * p.box[3];
    e.dispatch(
      copyBoxKernel,
      {
        n: count, b1: p.box[1], b2: p.box[2], b3: p.box[3],
        ss0: ss[0], ss1: ss[1], ss2: ss[2], sBase: s0 - sw.first,
        ds0: ds[0], ds1: ds[1], ds2: ds[2], dBase: d0 - dw.first,
      },
      [sw.slice, dw.slice],
      grid1d(count, WG),
    );
  }
}
