/**
 * Element-wise kernels: one generated kernel family for every map of up to three operands with
 * NumPy broadcasting. The op is a WGSL expression over `a`, `b`, `c` (operand values) and `s0`, `s1`
 * (scalar uniforms). Operands with the output's shape are read by flat index; broadcast operands
 * through their strides (0 along broadcast axes) over the output's coordinates, padded to 4-D.
 * Work is split into windows of at most one binding (see binding.ts), so any size works.
 */
import { engine } from '../engine.ts';
import { Tensor, shapeSize, inShapesOnly } from '../tensor.ts';
import { flatIndex, grid1d, type KernelDef } from './kernel.ts';
import { maxBindingElements, pieces, windowOf } from './binding.ts';

const WG = 256;
const NAMES = ['a', 'b', 'c'] as const;

/** The broadcast shape of several shapes (NumPy rules); throws naming the op on mismatch. */
export function broadcastShapes(op: string, ...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i] ?? 1;
      if (v !== 1) {
        if (d !== 1 && d !== v) throw new Error(`${op}: shapes ${shapes.map((x) => `[${x}]`).join(' and ')} do not broadcast`);
        d = v;
      }
    }
    out.push(d);
  }
  return out;
}

/** Strides of `shape` read as `outShape` (0 along broadcast axes), padded on the left to 4-D. */
function broadcastStrides4(shape: readonly number[], outShape: readonly number[]): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let i = rank - 1; i >= 0; i--) {
    const d = shape[shape.length - rank + i] ?? 1;
    strides[i] = d === 1 ? 0 : acc;
    acc *= d;
  }
  return pad4(strides, 0);
}

function pad4(v: number[], fill: number): number[] {
  if (v.length > 4) throw new Error(`element-wise ops support rank <= 4, got rank ${v.length}`);
  return [...new Array(4 - v.length).fill(fill), ...v];
}

const defCache = new Map<string, KernelDef>();

function mapKernel(name: string, expr: string, broadcast: boolean[], inPlace: boolean): KernelDef {
  const key = `${name}|${expr}|${broadcast.join()}|${inPlace}`;
  let def = defCache.get(key);
  if (def) return def;
  const uniforms: [string, 'u32' | 'f32'][] = [
    ['n', 'u32'],
    ['base', 'u32'],
    ['outOff', 'u32'],
    ['d1', 'u32'],
    ['d2', 'u32'],
    ['d3', 'u32'],
    ['s0', 'f32'],
    ['s1', 'f32'],
  ];
  const reads: string[] = [];
  broadcast.forEach((bc, k) => {
    const v = NAMES[k]!;
    uniforms.push([`${v}Off`, 'u32']);
    if (bc) for (let d = 0; d < 4; d++) uniforms.push([`${v}S${d}`, 'u32']);
    const index = bc ? `c0 * u.${v}S0 + c1 * u.${v}S1 + c2 * u.${v}S2 + c3 * u.${v}S3 - u.${v}Off` : `g - u.${v}Off`;
    reads.push(`  let ${v} = ${v}In[${index}];`);
  });
  const anyBroadcast = broadcast.some(Boolean);
  const storage: [string, 'read' | 'write', string][] = broadcast.map((_, k) => [`${NAMES[k]}In`, 'read', 'array<f32>']);
  storage.push(['outBuf', 'write', 'array<f32>']);
  if (inPlace) storage.shift(); // operand a is the output itself
  const body = `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(WG)};
  if (i >= u.n) { return; }
  let g = i + u.base;
  ${anyBroadcast ? 'let c3 = g % u.d3; let r2 = g / u.d3; let c2 = r2 % u.d2; let r1 = r2 / u.d2; let c1 = r1 % u.d1; let c0 = r1 / u.d1;' : ''}
  let s0 = u.s0; let s1 = u.s1;
${(inPlace ? ['  let a = outBuf[g - u.outOff];', ...reads.slice(1)] : reads).join('\n')}
  outBuf[g - u.outOff] = ${expr};
}`;
  def = { name, uniforms, storage, body };
  defCache.set(key, def);
  return def;
}

export interface MapOptions {
  scalars?: [number, number?];
  /** Write into this tensor (it must have the output shape); with `inPlace`, it is also operand a. */
  out?: Tensor;
  inPlace?: boolean;
}

/** Runs `expr` element-wise over the broadcast of `inputs` and returns the output. */
export function mapElementwise(name: string, expr: string, inputs: Tensor[], opts: MapOptions = {}): Tensor {
  const outShape = broadcastShapes(name, ...inputs.map((t) => t.shape), ...(opts.out ? [opts.out.shape] : []));
  const out = opts.out ?? Tensor.empty(outShape);
  if (out.size !== shapeSize(outShape)) throw new Error(`${name}: output [${out.shape}] does not match [${outShape}]`);
  const total = out.size;
  if (total === 0) return out;
  const broadcast = inputs.map((t) => t.size !== total);
  const def = mapKernel(name, expr, broadcast, !!opts.inPlace);
  const dims = pad4(outShape, 1);
  const maxElems = maxBindingElements();
  for (const t of inputs) {
    if (t.size !== total && t.size > maxElems) throw new Error(`${name}: a broadcast operand of ${t.size} elements exceeds one binding`);
  }
  const e = engine();
  for (const [start, end] of pieces(total, maxElems)) {
    const outWin = windowOf(out.buffer, start, end);
    const uniforms: Record<string, number> = {
      n: end - start,
      base: start,
      outOff: outWin.first,
      d1: dims[1]!,
      d2: dims[2]!,
      d3: dims[3]!,
      s0: opts.scalars?.[0] ?? 0,
      s1: opts.scalars?.[1] ?? 0,
    };
    const slices = [];
    inputs.forEach((t, k) => {
      const v = NAMES[k]!;
      if (opts.inPlace && k === 0) {
        uniforms[`${v}Off`] = 0;
        return;
      }
      const win = broadcast[k] ? windowOf(t.buffer, 0, t.size) : windowOf(t.buffer, start, end);
      uniforms[`${v}Off`] = win.first;
      if (broadcast[k]) broadcastStrides4(t.shape, outShape).forEach((s, d) => (uniforms[`${v}S${d}`] = s));
      slices.push(win.slice);
    });
    slices.push(outWin.slice);
    e.dispatch(def, uniforms, slices, grid1d(end - start, WG));
  }
  return out;
}

/** A tensor of `shape` filled with `value`. */
export function fill(shape: readonly number[], value: number): Tensor {
  if (inShapesOnly()) return Tensor.empty(shape);
  return mapElementwise('fill', 's0', [], { out: Tensor.empty(shape), scalars: [value] });
}

/** Fills an existing tensor in place. */
export function fillInto(t: Tensor, value: number): Tensor {
  return mapElementwise('fill', 's0', [], { out: t, scalars: [value] });
}

/** A copy with its own storage, optionally viewed as another shape of the same size. */
export function copy(t: Tensor, shape: readonly number[] = t.shape): Tensor {
  const out = Tensor.empty(shape);
  engine().copy(t.buffer, 0, out.buffer, 0, t.byteLength);
  return out;
}

/** dst += src (same shape), in place: gradient accumulation into `.grad`. */
export function addInto(dst: Tensor, src: Tensor): void {
  if (dst.size !== src.size) throw new Error(`addInto: [${dst.shape}] vs [${src.shape}]`);
  mapElementwise('addInto', 'a + b', [dst, src.view(dst.shape)], { out: dst, inPlace: true });
}

// Expressions shared by forward ops and backward formulas.
export const EXPR = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  affine: 'a * s0 + s1',
  sqrt: 'sqrt(a)',
  square: 'a * a',
  relu: 'max(a, 0.0)',
  addRelu: 'max(a + b, 0.0)', // a transposed conv's bias and fused ReLU
  // Written to stay finite for large |a| (exp overflow gives 1/(1+inf) = 0, fine; avoid inf/inf).
  sigmoid: 'select(exp(a) / (1.0 + exp(a)), 1.0 / (1.0 + exp(-a)), a >= 0.0)',
  where: 'select(c, b, a != 0.0)',
  reluBackward: 'select(0.0, b, a > 0.0)', // a = x, b = gy
  sigmoidBackward: 'b * a * (1.0 - a)', // a = y, b = gy
  sqrtBackward: 'b * 0.5 / a', // a = y, b = gy
  squareBackward: 'b * 2.0 * a', // a = x, b = gy
  divBackwardB: '-(c * a) / (b * b)', // a, b, c = gy
} as const;
