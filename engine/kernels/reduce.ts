/**
 * Sums over any set of axes (rank <= 4), deterministic: each output is split into a fixed number of
 * contiguous partial sums (one invocation each, same order every run), then the partials are summed
 * by the same kernel. No atomics, so results are bit-identical run after run.
 */
import { engine } from '../engine.ts';
import { Tensor, shapeSize } from '../tensor.ts';
import { flatIndex, grid1d, type KernelDef } from './kernel.ts';
import { maxBindingElements, pieces, windowOf } from './binding.ts';
import { fillInto } from './elementwise.ts';

const WG = 128;
/** Elements one invocation sums serially before the work is split into partials. */
const SERIAL = 256;

const sumDef: KernelDef = {
  name: 'sumAxes',
  uniforms: [
    ['nOut', 'u32'],
    ['parts', 'u32'],
    ['reduceCount', 'u32'],
    ['perPart', 'u32'],
    ['k1', 'u32'], ['k2', 'u32'], ['k3', 'u32'],
    ['ks0', 'u32'], ['ks1', 'u32'], ['ks2', 'u32'], ['ks3', 'u32'],
    ['r1', 'u32'], ['r2', 'u32'], ['r3', 'u32'],
    ['rs0', 'u32'], ['rs1', 'u32'], ['rs2', 'u32'], ['rs3', 'u32'],
    ['xOff', 'u32'],
  ],
  storage: [
    ['x', 'read', 'array<f32>'],
    ['out', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(WG)};
  if (t >= u.nOut * u.parts) { return; }
  let o = t / u.parts;
  let p = t % u.parts;
  // kept coordinates of output o -> base offset in x
  let q3 = o % u.k3; let o2 = o / u.k3; let q2 = o2 % u.k2; let o1 = o2 / u.k2; let q1 = o1 % u.k1; let q0 = o1 / u.k1;
  let base = q0 * u.ks0 + q1 * u.ks1 + q2 * u.ks2 + q3 * u.ks3;
  let start = p * u.perPart;
  let stop = min(start + u.perPart, u.reduceCount);
  var acc = 0.0;
  for (var r = start; r < stop; r++) {
    let w3 = r % u.r3; let r2 = r / u.r3; let w2 = r2 % u.r2; let r1 = r2 / u.r2; let w1 = r1 % u.r1; let w0 = r1 / u.r1;
    acc += x[base + w0 * u.rs0 + w1 * u.rs1 + w2 * u.rs2 + w3 * u.rs3 - u.xOff];
  }
  out[t] = acc;
}`,
};

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

function pad4(keptOrReduced: number[], stridesIn: number[]): [number[], number[]] {
  const dims = [...keptOrReduced];
  const strides = [...stridesIn];
  while (dims.length < 4) {
    dims.unshift(1);
    strides.unshift(0);
  }
  return [dims, strides];
}

/** Normalises an axis list (negative axes allowed); null means all axes. */
export function normaliseAxes(op: string, rank: number, axes: number | readonly number[] | null | undefined): number[] {
  if (axes === null || axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = list.map((a) => (a < 0 ? a + rank : a));
  for (const a of out) if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`${op}: axis out of range for rank ${rank}`);
  return [...new Set(out)].sort((a, b) => a - b);
}

/** Sums x over `axes`; the result has the kept axes (or size-1 axes with keepDims). */
export function sumRaw(x: Tensor, axes: readonly number[], keepDims: boolean): Tensor {
  if (x.rank > 4) throw new Error(`sum: rank ${x.rank} > 4`);
  const strides = contiguousStrides(x.shape);
  const keptDims: number[] = [], keptStrides: number[] = [], redDims: number[] = [], redStrides: number[] = [];
  x.shape.forEach((d, i) => {
    if (axes.includes(i)) {
      redDims.push(d);
      redStrides.push(strides[i]!);
    } else {
      keptDims.push(d);
      keptStrides.push(strides[i]!);
    }
  });
  const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : keptDims;
  const nOut = shapeSize(keptDims);
  const reduceCount = shapeSize(redDims);
  if (nOut === 0 || reduceCount === 0) {
    const out = Tensor.empty(outShape);
    if (nOut > 0) fillInto(out, 0); // a sum over an empty set is 0
    return out;
  }
  if (x.size > maxBindingElements()) return sumLarge(x, axes, outShape);
  const [k, ks] = pad4(keptDims, keptStrides);
  const [r, rs] = pad4(redDims, redStrides);
  const parts = reduceCount > SERIAL ? Math.min(Math.ceil(reduceCount / SERIAL), 1024) : 1;
  const perPart = Math.ceil(reduceCount / parts);
  const stage = parts > 1 ? Tensor.empty([nOut, parts], 'f32', 'sum partials') : Tensor.empty(outShape);
  const xWin = windowOf(x.buffer, 0, x.size);
  const uniforms = {
    nOut, parts, reduceCount, perPart,
    k1: k[1]!, k2: k[2]!, k3: k[3]!, ks0: ks[0]!, ks1: ks[1]!, ks2: ks[2]!, ks3: ks[3]!,
    r1: r[1]!, r2: r[2]!, r3: r[3]!, rs0: rs[0]!, rs1: rs[1]!, rs2: rs[2]!, rs3: rs[3]!,
    xOff: xWin.first,
  };
  engine().dispatch(sumDef, uniforms, [xWin.slice, stage.buffer], grid1d(nOut * parts, WG));
  if (parts === 1) return stage;
  const out = sumRaw(stage, [1], false);
  stage.dispose();
  return out.shape.length === outShape.length && out.shape.every((d, i) => d === outShape[i]) ? out : reshapeOwned(out, outShape);
}

function reshapeOwned(t: Tensor, shape: readonly number[]): Tensor {
  const v = t.view(shape);
  t.dispose();
  return v;
}

/**
 * A tensor larger than one binding: sum each window's slab over the reduced axes, then the slabs.
 * Windows are whole slices along axis 0, so any reduction that includes axis 0 or keeps it works.
 */
function sumLarge(x: Tensor, axes: readonly number[], outShape: readonly number[]): Tensor {
  const rows = x.shape[0]!;
  const rowSize = x.size / rows;
  if (rowSize > maxBindingElements()) throw new Error(`sum: one slice of [${x.shape}] exceeds a binding`);
  const partsOut: Tensor[] = [];
  for (const [r0, r1] of pieces(rows, Math.floor(maxBindingElements() / rowSize))) {
    const slab = Tensor.empty([r1 - r0, ...x.shape.slice(1)], 'f32', 'sum slab');
    engine().copy(x.buffer, r0 * rowSize * 4, slab.buffer, 0, (r1 - r0) * rowSize * 4);
    partsOut.push(sumRaw(slab, axes, true));
    slab.dispose();
  }
  if (!axes.includes(0)) {
    // axis 0 kept: the slabs' results are consecutive rows of the output
    const out = Tensor.empty(outShape);
    let at = 0;
    for (const p of partsOut) {
      engine().copy(p.buffer, 0, out.buffer, at, p.byteLength);
      at += p.byteLength;
      p.dispose();
    }
    return out;
  }
  const stacked = Tensor.empty([partsOut.length, partsOut[0]!.size]);
  partsOut.forEach((p, i) => {
    engine().copy(p.buffer, 0, stacked.buffer, i * p.byteLength, p.byteLength);
    p.dispose();
  });
  const out = sumRaw(stacked, [0], false);
  stacked.dispose();
  return reshapeOwned(out, outShape);
}
