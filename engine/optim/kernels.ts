/**
 * The optimisers' WGSL kernels: fused in-place parameter updates (Adam/AdamW, SGD), and the three
 * stages of global-norm gradient clipping (sum-of-squares partials, finish, scale). Every kernel
 * that touches a parameter-sized buffer is split into windows of at most one binding (binding.ts),
 * so the 411 MB fc6 weight and its moments work like any other tensor. No atomics: every sum is
 * taken in a fixed order, so results are bit-identical run after run.
 */
import { engine } from '../engine.ts';
import type { Tensor } from '../tensor.ts';
import { flatIndex, grid1d, type KernelDef, type UniformValues } from '../kernels/kernel.ts';
import { maxBindingElements, pieces, windowOf } from '../kernels/binding.ts';

/** Workgroup size of every optimiser kernel (the multi-tensor launches use the same, so their sums match). */
export const WG = 256;

/**
 * Runs `def` over elements [0, total) of same-sized tensors, window by window. Binding k is
 * `tensors[k]`; the kernel receives `n`, `base` (first element of the window) and one `<name>Off`
 * uniform per binding (the element index where that binding's window starts), plus `extra`.
 * `tail` buffers (small, bound whole) follow the windowed bindings.
 */
function windowedDispatch(
  def: KernelDef,
  tensors: readonly Tensor[],
  offNames: readonly string[],
  extra: UniformValues,
  tail: readonly GPUBuffer[] = [],
  unit: 1 | 4 = 1,
): void {
  const total = tensors[0]!.size;
  if (total === 0) return;
  const e = engine();
  // with unit 4 the kernel's arrays are vec4s: windows start on multiples of 4 elements (a binding
  // offset is a multiple of 8 at least), and n, base and the offsets count vec4s
  for (const [start, end] of pieces(total, maxBindingElements(), unit)) {
    const uniforms: UniformValues = { ...extra, n: (end - start) / unit, base: start / unit };
    const slices = tensors.map((t, k) => {
      const w = windowOf(t.buffer, start, end);
      uniforms[offNames[k]!] = w.first / unit;
      return w.slice;
    });
    e.dispatch(def, uniforms, [...slices, ...tail], grid1d((end - start) / unit, WG));
  }
}

/**
 * Whether an elementwise optimiser kernel runs on vec4s: on llvmpipe every per-lane load or store
 * is a loop of bounds-checked scalar accesses whatever its width, so a vec4 moves 4 elements for
 * the cost of one (Adam: 7 accesses per element, 1.4 s of the paper step's 37 as scalars). The
 * arithmetic is componentwise, the same operations in the same order: results are bit-identical.
 */
export function vec4Elementwise(size: number): boolean {
  return size % 4 === 0;
}

// ---------------------------------------------------------------------------------------------
// Adam / AdamW

const adamDefs = new Map<string, KernelDef>();

function adamDef(amsgrad: boolean, vec4: boolean): KernelDef {
  const key = `${amsgrad}/${vec4}`;
  let def = adamDefs.get(key);
  if (def) return def;
  const t = vec4 ? 'array<vec4<f32>>' : 'array<f32>';
  const storage: [string, 'read' | 'write', string][] = [
    ['p', 'write', t],
    ['g', 'read', t],
    ['m', 'write', t],
    ['v', 'write', t],
  ];
  if (amsgrad) storage.push(['vmax', 'write', t]);
  def = {
    name: `${amsgrad ? 'adamStepAmsgrad' : 'adamStep'}${vec4 ? '4' : ''}`,
    uniforms: [
      ['n', 'u32'], ['base', 'u32'],
      ['pOff', 'u32'], ['gOff', 'u32'], ['mOff', 'u32'], ['vOff', 'u32'], ['vmaxOff', 'u32'],
      ['l2', 'f32'], ['decay', 'f32'],
      ['oneMinusBeta1', 'f32'], ['beta2', 'f32'], ['oneMinusBeta2', 'f32'],
      ['eps', 'f32'], ['stepSize', 'f32'], ['bc2Sqrt', 'f32'],
    ],
    storage,
    // Mirrors torch.optim's single-tensor (non-fused) implementation operation by operation:
    //   grad = grad + wd*param (Adam) | param *= 1 - lr*wd (AdamW, before everything else)
    //   exp_avg.lerp_(grad, 1-beta1); exp_avg_sq = exp_avg_sq*beta2 + (1-beta2)*grad*grad
    //   denom = sqrt(v)/sqrt(1-beta2^t) + eps; param -= lr/(1-beta1^t) * exp_avg/denom
    body: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(WG)};
  if (i >= u.n) { return; }
  let e = i + u.base;
  let p0 = p[e - u.pOff];
  let gr = g[e - u.gOff] + u.l2 * p0;
  let p1 = p0 * u.decay;
  let m0 = m[e - u.mOff];
  let m1 = m0 + u.oneMinusBeta1 * (gr - m0);
  let v1 = v[e - u.vOff] * u.beta2 + u.oneMinusBeta2 * (gr * gr);
  m[e - u.mOff] = m1;
  v[e - u.vOff] = v1;
${amsgrad
  ? `  let vm = max(vmax[e - u.vmaxOff], v1);
  vmax[e - u.vmaxOff] = vm;
  let denom = sqrt(vm) / u.bc2Sqrt + u.eps;`
  : `  let denom = sqrt(v1) / u.bc2Sqrt + u.eps;`}
  p[e - u.pOff] = p1 - u.stepSize * (m1 / denom);
}`,
  };
  adamDefs.set(key, def);
  return def;
}

export interface AdamScalars {
  /** L2 weight decay added to the gradient (Adam), 0 for AdamW. */
  l2: number;
  /** Decoupled decay factor 1 - lr*wd (AdamW), 1 for Adam. */
  decay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** lr / (1 - beta1^t), computed on the CPU in f64. */
  stepSize: number;
  /** sqrt(1 - beta2^t), computed on the CPU in f64. */
  bc2Sqrt: number;
}

/** One fused Adam/AdamW update of `p` in place (`vmax` given: the AMSGrad variant). */
export function adamStepKernel(p: Tensor, g: Tensor, m: Tensor, v: Tensor, vmax: Tensor | null, s: AdamScalars): void {
  const tensors = vmax ? [p, g, m, v, vmax] : [p, g, m, v];
  const vec4 = vec4Elementwise(p.size);
  windowedDispatch(adamDef(!!vmax, vec4), tensors, ['pOff', 'gOff', 'mOff', 'vOff', 'vmaxOff'], {
    vmaxOff: 0,
    l2: s.l2,
    decay: s.decay,
    oneMinusBeta1: 1 - s.beta1,
    beta2: s.beta2,
    oneMinusBeta2: 1 - s.beta2,
    eps: s.eps,
    stepSize: s.stepSize,
    bc2Sqrt: s.bc2Sqrt,
  }, [], vec4 ? 4 : 1);
}

// ---------------------------------------------------------------------------------------------
// SGD

const sgdDefs = new Map<string, KernelDef>();

type SgdVariant = 'plain' | 'first' | 'momentum';

function sgdDef(variant: SgdVariant): KernelDef {
  let def = sgdDefs.get(variant);
  if (def) return def;
  const storage: [string, 'read' | 'write', string][] = [
    ['p', 'write', 'array<f32>'],
    ['g', 'read', 'array<f32>'],
  ];
  if (variant !== 'plain') storage.push(['buf', 'write', 'array<f32>']);
  // torch.optim.SGD (single tensor): grad += wd*param; buf = grad on the first step, else
  // buf = momentum*buf + (1-dampening)*grad; grad = grad + momentum*buf (Nesterov) or buf;
  // param -= lr*grad.
  let update: string;
  if (variant === 'plain') update = '  let d = gr;';
  else {
    const b = variant === 'first' ? '  let b = gr;' : '  let b = buf[e - u.bOff] * u.momentum + u.oneMinusDampening * gr;';
    update = `${b}
  buf[e - u.bOff] = b;
  let d = select(b, gr + u.momentum * b, u.nesterov != 0u);`;
  }
  def = {
    name: `sgdStep_${variant}`,
    uniforms: [
      ['n', 'u32'], ['base', 'u32'], ['pOff', 'u32'], ['gOff', 'u32'], ['bOff', 'u32'], ['nesterov', 'u32'],
      ['lr', 'f32'], ['wd', 'f32'], ['momentum', 'f32'], ['oneMinusDampening', 'f32'],
    ],
    storage,
    body: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(WG)};
  if (i >= u.n) { return; }
  let e = i + u.base;
  let p0 = p[e - u.pOff];
  let gr = g[e - u.gOff] + u.wd * p0;
${update}
  p[e - u.pOff] = p0 - u.lr * d;
}`,
  };
  sgdDefs.set(variant, def);
  return def;
}

export interface SgdScalars {
  lr: number;
  weightDecay: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
}

/**
 * One fused SGD update of `p` in place. `buf` is the momentum buffer (null without momentum);
 * `first` marks the step that initialises it to the gradient (no dampening), as PyTorch does.
 */
export function sgdStepKernel(p: Tensor, g: Tensor, buf: Tensor | null, first: boolean, s: SgdScalars): void {
  const variant: SgdVariant = buf ? (first ? 'first' : 'momentum') : 'plain';
  const tensors = buf ? [p, g, buf] : [p, g];
  windowedDispatch(sgdDef(variant), tensors, ['pOff', 'gOff', 'bOff'], {
    bOff: 0,
    nesterov: s.nesterov ? 1 : 0,
    lr: s.lr,
    wd: s.weightDecay,
    momentum: s.momentum,
    oneMinusDampening: 1 - s.dampening,
  });
}

// ---------------------------------------------------------------------------------------------
// Gradient norm and clipping

/** Elements each invocation of the partial-sum kernel squares and adds, in a fixed order. */
export const PER_THREAD = 16;
/** Elements per workgroup (one partial each). */
export const SUMSQ_CHUNK = WG * PER_THREAD;

/** A fixed-order tree reduction of `sh` (WG entries) into sh[0]; every invocation must call it. */
export const TREE = `
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid.x < s) { sh[lid.x] = sh[lid.x] + sh[lid.x + s]; }
    workgroupBarrier();
  }`;

const sumSqDef: KernelDef = {
  name: 'sumSquaresPartials',
  uniforms: [['n', 'u32'], ['base', 'u32'], ['xOff', 'u32'], ['partOff', 'u32'], ['groups', 'u32']],
  storage: [
    ['x', 'read', 'array<f32>'],
    ['partials', 'write', 'array<f32>'],
  ],
  body: `
var<workgroup> sh: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let group = wid.x + wid.y * nwg.x;
  let start = group * ${SUMSQ_CHUNK}u;
  var acc = 0.0;
  for (var k = 0u; k < ${PER_THREAD}u; k++) {
    let i = start + k * ${WG}u + lid.x;
    if (group < u.groups && i < u.n) {
      let val = x[i + u.base - u.xOff];
      acc = acc + val * val;
    }
  }
  sh[lid.x] = acc;
${TREE}
  if (lid.x == 0u && group < u.groups) { partials[u.partOff + group] = sh[0]; }
}`,
};

/** Partials one tensor of `size` elements produces (one per SUMSQ_CHUNK of each window). */
export function sumSquaresPartialCount(size: number): number {
  if (size === 0) return 0;
  let count = 0;
  for (const [s, e] of pieces(size, maxBindingElements())) count += Math.ceil((e - s) / SUMSQ_CHUNK);
  return count;
}

/** Writes the sum-of-squares partials of `x` into `partials` from element `at`; returns the next free index. */
export function sumSquaresPartials(x: Tensor, partials: Tensor, at: number): number {
  if (x.size === 0) return at;
  const e = engine();
  for (const [start, end] of pieces(x.size, maxBindingElements())) {
    const w = windowOf(x.buffer, start, end);
    const groups = Math.ceil((end - start) / SUMSQ_CHUNK);
    e.dispatch(
      sumSqDef,
      { n: end - start, base: start, xOff: w.first, partOff: at, groups },
      [w.slice, partials.buffer],
      grid1d(groups * WG, WG),
    );
    at += groups;
  }
  return at;
}

const finishDef: KernelDef = {
  name: 'gradNormFinish',
  uniforms: [['count', 'u32'], ['maxNorm', 'f32'], ['withScale', 'u32']],
  storage: [
    ['partials', 'read', 'array<f32>'],
    ['norm', 'write', 'array<f32>'],
    ['scale', 'write', 'array<f32>'],
  ],
  // One workgroup: each invocation adds a strided subset of the partials in order, then a tree.
  // scale = min(1, maxNorm / (norm + 1e-6)) as torch.nn.utils.clip_grad_norm_ (NaN propagates).
  body: `
var<workgroup> sh: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var acc = 0.0;
  for (var i = lid.x; i < u.count; i += ${WG}u) { acc = acc + partials[i]; }
  sh[lid.x] = acc;
${TREE}
  if (lid.x == 0u) {
    let total = sqrt(sh[0]);
    norm[0] = total;
    if (u.withScale != 0u) {
      let c = u.maxNorm / (total + 1e-6);
      scale[0] = select(c, 1.0, c > 1.0);
    }
  }
}`,
};

/** Sums `count` partials into norm[0] = sqrt(sum) and, with `maxNorm`, the clip scale into scale[0]. */
export function gradNormFinish(partials: Tensor, count: number, norm: Tensor, scale: Tensor, maxNorm: number | null): void {
  engine().dispatch(
    finishDef,
    { count, maxNorm: maxNorm ?? 0, withScale: maxNorm === null ? 0 : 1 },
    [partials.buffer, norm.buffer, scale.buffer],
    [1, 1, 1],
  );
}

const scaleDef: KernelDef = {
  name: 'scaleByDeviceScalar',
  uniforms: [['n', 'u32'], ['base', 'u32'], ['xOff', 'u32']],
  storage: [
    ['x', 'write', 'array<f32>'],
    ['scale', 'read', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(WG)};
  if (i >= u.n) { return; }
  let e = i + u.base - u.xOff;
  x[e] = x[e] * scale[0];
}`,
};

/** x *= scale[0] in place, the scale read from a one-element GPU tensor (no readback). */
export function scaleInPlaceByDevice(x: Tensor, scale: Tensor): void {
  windowedDispatch(scaleDef, [x], ['xOff'], {}, [scale.buffer]);
}
