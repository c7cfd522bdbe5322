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

export function add(a: Tensor, b: Tensor): Tensor {
  const y = mapElementwise('add', EXPR.add, [a, b]);
  return record('add', y, [a, b], [], (gy) => [reduceToShape(gy, a.shape), reduceToShape(gy, b.shape)]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  const y = mapElementwise('sub', EXPR.sub, [a, b]);
  return record('sub', y, [a, b], [], (gy) => {
    const gb = reduceToShape(gy, b.shape);
    const neg = mapElementwise('neg', '-a', [gb]);
    gb.dispose();
    return [reduceToShape(gy, a.shape), neg];
  });
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const y = mapElementwise('mul', EXPR.mul, [a, b]);
  return record('mul', y, [a, b], [a, b], (gy, [sa, sb]) => [
    a.node || a.requiresGrad ? reduceOwned(mapElementwise('mul', EXPR.mul, [gy, sb!]), a.shape) : null,
    b.node || b.requiresGrad ? reduceOwned(mapElementwise('mul', EXPR.mul, [gy, sa!]), b.shape) : null,
  ]);
}

export function div(a: Tensor, b: Tensor): Tensor {
  const y = mapElementwise('div', EXPR.div, [a, b]);
  return record('div', y, [a, b], [a, b], (gy, [sa, sb]) => [
    reduceOwned(mapElementwise('div', EXPR.div, [gy, sb!]), a.shape),
    reduceOwned(mapElementwise('divBackwardB', EXPR.divBackwardB, [sa!, sb!, gy]), b.shape),
  ]);
}

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
