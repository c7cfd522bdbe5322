/**
 * Differentiable element-wise arithmetic and reductions. Each op's backward sits beside it and is
 * made of the same forward kernels (the broadcast map and the axis sum).
 */
import { Tensor, resolveShape } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { EXPR, mapElementwise, fill } from '../kernels/elementwise.ts';
import { normaliseAxes, sumRaw } from '../kernels/reduce.ts';

/** Sums a broadcast gradient back to the shape of the operand that was broadcast. */
export function reduceToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.size === shapeProduct(shape) && g.shape.length === shape.length) return g.detach();
  const rank = g.shape.length;
  const padded = [...new Array(rank - shape.length).fill(1), ...shape];
  const axes = padded.flatMap((d, i) => (d === 1 && g.shape[i] !== 1 ? [i] : []));
  const s = sumRaw(g, axes, true);
  const out = s.view(shape);
  s.dispose();
  return out;
}

function shapeProduct(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

/** A tensor or a plain number (PyTorch's "Python scalar" operand). */
export type Operand = Tensor | number;

function bothNumbers(op: string, a: Operand, b: Operand): never | void {
  if (typeof a === 'number' && typeof b === 'number') throw new TypeError(`${op}: at least one operand must be a Tensor`);
}

/** a + b, broadcasting; either operand may be a number. */
export function add(a: Operand, b: Operand): Tensor {
  bothNumbers('add', a, b);
  if (typeof b === 'number') return affine(a as Tensor, 1, b);
  if (typeof a === 'number') return affine(b, 1, a);
  return addTensors(a, b);
}

function addTensors(a: Tensor, b: Tensor): Tensor {
  const y = mapElementwise('add', EXPR.add, [a, b]);
  return record('add', y, [a, b], [], (gy) => [reduceToShape(gy, a.shape), reduceToShape(gy, b.shape)]);
}

/** a - b, broadcasting; either operand may be a number. */
export function sub(a: Operand, b: Operand): Tensor {
  bothNumbers('sub', a, b);
  if (typeof b === 'number') return affine(a as Tensor, 1, -b);
  if (typeof a === 'number') return affine(b, -1, a);
  return subTensors(a, b);
}

function subTensors(a: Tensor, b: Tensor): Tensor {
  const y = mapElementwise('sub', EXPR.sub, [a, b]);
  return record('sub', y, [a, b], [], (gy) => {
    const gb = reduceToShape(gy, b.shape);
    const neg = mapElementwise('neg', '-a', [gb]);
    gb.dispose();
    return [reduceToShape(gy, a.shape), neg];
  });
}

/** a * b, broadcasting; either operand may be a number. */
export function mul(a: Operand, b: Operand): Tensor {
  bothNumbers('mul', a, b);
  if (typeof b === 'number') return affine(a as Tensor, b, 0);
  if (typeof a === 'number') return affine(b, a, 0);
  return mulTensors(a, b);
}

function mulTensors(a: Tensor, b: Tensor): Tensor {
  const y = mapElementwise('mul', EXPR.mul, [a, b]);
  return record('mul', y, [a, b], [a, b], (gy, [sa, sb]) => [
    a.node || a.requiresGrad ? reduceOwned(mapElementwise('mul', EXPR.mul, [gy, sb!]), a.shape) : null,
    b.node || b.requiresGrad ? reduceOwned(mapElementwise('mul', EXPR.mul, [gy, sa!]), b.shape) : null,
  ]);
}

/** a / b, broadcasting; either operand may be a number (divided exactly, not multiplied by 1/b). */
export function div(a: Operand, b: Operand): Tensor {
  bothNumbers('div', a, b);
  if (typeof b === 'number') {
    const y = mapElementwise('divScalar', 'a / s0', [a as Tensor], { scalars: [b] });
    return record('div', y, [a as Tensor], [], (gy) => [mapElementwise('divScalar', 'a / s0', [gy], { scalars: [b] })]);
  }
  if (typeof a === 'number') {
    const y = mapElementwise('rdivScalar', 's0 / a', [b], { scalars: [a] });
    // d(s/b)/db = -s / b^2
    return record('div', y, [b], [b], (gy, [sb]) => [mapElementwise('rdivBackward', '-(s0 * b) / (a * a)', [sb!, gy], { scalars: [a] })]);
  }
  return divTensors(a, b);
}

function divTensors(a: Tensor, b: Tensor): Tensor {
  const y = mapElementwise('div', EXPR.div, [a, b]);
  return record('div', y, [a, b], [a, b], (gy, [sa, sb]) => [
    reduceOwned(mapElementwise('div', EXPR.div, [gy, sb!]), a.shape),
    reduceOwned(mapElementwise('divBackwardB', EXPR.divBackwardB, [sa!, sb!, gy]), b.shape),
  ]);
}

/** -a. */
export const neg = (a: Tensor): Tensor => affine(a, -1, 0);

function reduceOwned(g: Tensor, shape: readonly number[]): Tensor {
  const r = reduceToShape(g, shape);
  g.dispose();
  return r;
}

/** a * scale + shift, with scalars (addScalar / mulScalar are special cases). */
export function affine(a: Tensor, scale: number, shift = 0): Tensor {
  const y = mapElementwise('affine', EXPR.affine, [a], { scalars: [scale, shift] });
  return record('affine', y, [a], [], (gy) => [mapElementwise('affine', EXPR.affine, [gy], { scalars: [scale, 0] })]);
}

export const addScalar = (a: Tensor, s: number): Tensor => affine(a, 1, s);
export const mulScalar = (a: Tensor, s: number): Tensor => affine(a, s, 0);

export function sqrt(a: Tensor): Tensor {
  const y = mapElementwise('sqrt', EXPR.sqrt, [a]);
  return record('sqrt', y, [a], [y], (gy, [sy]) => [mapElementwise('sqrtBackward', EXPR.sqrtBackward, [sy!, gy])]);
}

export function square(a: Tensor): Tensor {
  const y = mapElementwise('square', EXPR.square, [a]);
  return record('square', y, [a], [a], (gy, [sa]) => [mapElementwise('squareBackward', EXPR.squareBackward, [sa!, gy])]);
}

export function relu(a: Tensor): Tensor {
  const y = mapElementwise('relu', EXPR.relu, [a]);
  // The gradient at exactly 0 is taken as 0, as PyTorch does.
  return record('relu', y, [a], [y], (gy, [sy]) => [mapElementwise('reluBackward', EXPR.reluBackward, [sy!, gy])]);
}

export function sigmoid(a: Tensor): Tensor {
  const y = mapElementwise('sigmoid', EXPR.sigmoid, [a]);
  return record('sigmoid', y, [a], [y], (gy, [sy]) => [mapElementwise('sigmoidBackward', EXPR.sigmoidBackward, [sy!, gy])]);
}

/** mask != 0 ? a : b, broadcasting all three; the mask gets no gradient. */
export function where(mask: Tensor, a: Tensor, b: Tensor): Tensor {
  const y = mapElementwise('where', EXPR.where, [mask, a, b]);
  return record('where', y, [null, a, b], [mask], (gy, [m]) => {
    const zero = fill([1], 0);
    const ga = reduceOwned(mapElementwise('where', EXPR.where, [m!, gy, zero]), a.shape);
    const gb = reduceOwned(mapElementwise('where', EXPR.where, [m!, zero, gy]), b.shape);
    zero.dispose();
    return [null, ga, gb];
  });
}

export function sum(x: Tensor, axes: number | readonly number[] | null = null, keepDims = false): Tensor {
  const ax = normaliseAxes('sum', x.rank, axes);
  const y = sumRaw(x, ax, keepDims);
  return record('sum', y, [x], [], (gy) => {
    const keptShape = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
    const g = gy.view(keptShape);
    const out = mapElementwise('broadcast', 'a', [g], { out: Tensor.empty(x.shape) });
    g.dispose();
    return [out];
  });
}

export function mean(x: Tensor, axes: number | readonly number[] | null = null, keepDims = false): Tensor {
  const ax = normaliseAxes('mean', x.rank, axes);
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  const s = sum(x, ax, keepDims);
  const m = affine(s, 1 / count);
  s.dispose();
  return m;
}

/** A view with another shape (no copy); the gradient is viewed back. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const y = x.view(resolveShape(shape, x.size));
  return record('reshape', y, [x], [], (gy) => [gy.view(x.shape)]);
}

/** Clamps to [lo, hi]; the gradient passes where lo <= x <= hi (PyTorch's rule: it passes at the bounds). */
export function clamp(a: Tensor, lo: number, hi: number): Tensor {
  const y = mapElementwise('clamp', 'clamp(a, s0, s1)', [a], { scalars: [lo, hi] });
  return record('clamp', y, [a], [a], (gy, [sa]) => [
    mapElementwise('clampBackward', 'select(0.0, b, a >= s0 && a <= s1)', [sa!, gy], { scalars: [lo, hi] }),
  ]);
}

const COMPARE = { eq: '==', ne: '!=', gt: '>', ge: '>=', lt: '<', le: '<=' } as const;

/**
 * Element-wise comparison, broadcasting; 1.0 where it holds, 0.0 elsewhere (an f32 tensor: the
 * engine has no bool dtype). Either operand may be a number. Not differentiable (no gradient
 * flows, as in PyTorch, where the result is a bool tensor).
 */
function compare(op: keyof typeof COMPARE, a: Operand, b: Operand): Tensor {
  bothNumbers(op, a, b);
  const rel = COMPARE[op];
  if (typeof b === 'number') return mapElementwise(`${op}Scalar`, `select(0.0, 1.0, a ${rel} s0)`, [a as Tensor], { scalars: [b] });
  if (typeof a === 'number') return mapElementwise(`${op}ScalarLeft`, `select(0.0, 1.0, s0 ${rel} a)`, [b], { scalars: [a] });
  return mapElementwise(op, `select(0.0, 1.0, a ${rel} b)`, [a, b]);
}

/** a == b element-wise (1/0). */
export const eq = (a: Operand, b: Operand): Tensor => compare('eq', a, b);
/** a != b element-wise (1/0). */
export const ne = (a: Operand, b: Operand): Tensor => compare('ne', a, b);
/** a > b element-wise (1/0). */
export const gt = (a: Operand, b: Operand): Tensor => compare('gt', a, b);
/** a >= b element-wise (1/0). */
export const ge = (a: Operand, b: Operand): Tensor => compare('ge', a, b);
/** a < b element-wise (1/0). */
export const lt = (a: Operand, b: Operand): Tensor => compare('lt', a, b);
/** a <= b element-wise (1/0). */
export const le = (a: Operand, b: Operand): Tensor => compare('le', a, b);
