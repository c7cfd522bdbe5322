// Reference elementwise, broadcasting, shape and reduction ops, f64, with their gradients.
//
// Broadcasting follows numpy: shapes are aligned at their LAST axis; two dimensions are compatible
// when equal or when one is 1 (a size-1 dimension is repeated); missing leading dimensions count as 1.
// A broadcast operand's gradient is the output gradient summed over every position it was repeated to,
// so backward passes accumulate (+=) into the operand's own index.
//
// Axes may be given negative (-1 = last), as in numpy.

import { type Arr, arr, assertShape, ravel, sameShape, unravel } from './array.ts';

// ---------------------------------------------------------------------------------------------
// broadcasting helpers

export function broadcastShapes(...shapes: number[][]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let j = 0; j < s.length; j++) {
      const o = rank - s.length + j; // right-aligned position
      const d = s[j];
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) {
        out[o] = d;
        continue;
      }
      throw new Error(`cannot broadcast shapes ${shapes.map((x) => `[${x}]`).join(' ')}`);
    }
  }
  return out;
}

/** Flat offset inside an operand of shape `shape` that the output multi-index `outIdx` reads. */
function broadcastOffset(outIdx: number[], shape: number[]): number {
  const lead = outIdx.length - shape.length;
  let off = 0;
  for (let j = 0; j < shape.length; j++) {
    const i = shape[j] === 1 ? 0 : outIdx[lead + j];
    off = off * shape[j] + i;
  }
  return off;
}

/** x repeated along its size-1 (or missing leading) axes up to `shape`. */
export function broadcastTo(x: Arr, shape: number[]): Arr {
  if (!sameShape(broadcastShapes(x.shape, shape), shape)) {
    throw new Error(`broadcastTo: [${x.shape}] does not broadcast to [${shape}]`);
  }
  const y = arr(shape);
  for (let i = 0; i < y.data.length; i++) y.data[i] = x.data[broadcastOffset(unravel(i, shape), x.shape)];
  return y;
}

/** Gradient of broadcastTo: dy summed back down to `shape`. */
export function sumToShape(dy: Arr, shape: number[]): Arr {
  if (!sameShape(broadcastShapes(shape, dy.shape), dy.shape)) {
    throw new Error(`sumToShape: [${shape}] does not broadcast to [${dy.shape}]`);
  }
  const dx = arr(shape);
  for (let i = 0; i < dy.data.length; i++) dx.data[broadcastOffset(unravel(i, dy.shape), shape)] += dy.data[i];
  return dx;
}

// ---------------------------------------------------------------------------------------------
// binary arithmetic

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';

function apply(op: BinaryOp, x: number, y: number): number {
  switch (op) {
    case 'add':
      return x + y;
    case 'sub':
      return x - y;
    case 'mul':
      return x * y;
    case 'div':
      return x / y;
  }
}

export function binary(op: BinaryOp, a: Arr, b: Arr): Arr {
  const shape = broadcastShapes(a.shape, b.shape);
  const y = arr(shape);
  for (let i = 0; i < y.data.length; i++) {
    const idx = unravel(i, shape);
    y.data[i] = apply(op, a.data[broadcastOffset(idx, a.shape)], b.data[broadcastOffset(idx, b.shape)]);
  }
  return y;
}

export const add = (a: Arr, b: Arr): Arr => binary('add', a, b);
export const sub = (a: Arr, b: Arr): Arr => binary('sub', a, b);
export const mul = (a: Arr, b: Arr): Arr => binary('mul', a, b);
export const div = (a: Arr, b: Arr): Arr => binary('div', a, b);

/**
 * Gradients of y = a (op) b, each reduced over the axes along which that operand was broadcast:
 *   add: da = dy,     db = dy
 *   sub: da = dy,     db = -dy
 *   mul: da = dy * b, db = dy * a
 *   div: da = dy / b, db = -dy * a / b^2
 */
export function binaryBackward(op: BinaryOp, a: Arr, b: Arr, dy: Arr): { da: Arr; db: Arr } {
  const shape = broadcastShapes(a.shape, b.shape);
  assertShape(dy, shape, `${op} backward dy`);
  const da = arr(a.shape);
  const db = arr(b.shape);
  for (let i = 0; i < dy.data.length; i++) {
    const idx = unravel(i, shape);
    const ai = broadcastOffset(idx, a.shape);
    const bi = broadcastOffset(idx, b.shape);
    const g = dy.data[i];
    const av = a.data[ai];
    const bv = b.data[bi];
    switch (op) {
      case 'add':
        da.data[ai] += g;
        db.data[bi] += g;
        break;
      case 'sub':
        da.data[ai] += g;
        db.data[bi] -= g;
        break;
      case 'mul':
        da.data[ai] += g * bv;
        db.data[bi] += g * av;
        break;
      case 'div':
        da.data[ai] += g / bv;
        db.data[bi] -= (g * av) / (bv * bv);
        break;
    }
  }
  return { da, db };
}

// ---------------------------------------------------------------------------------------------
// scalar and unary ops

export function addScalar(x: Arr, s: number): Arr {
  const y = arr(x.shape);
  for (let i = 0; i < x.data.length; i++) y.data[i] = x.data[i] + s;
  return y;
}

/** d(x + s)/dx = 1: the gradient passes through unchanged (returned as a copy). */
export function addScalarBackward(dy: Arr): Arr {
  return arr(dy.shape, dy.data);
}

export function mulScalar(x: Arr, s: number): Arr {
  const y = arr(x.shape);
  for (let i = 0; i < x.data.length; i++) y.data[i] = x.data[i] * s;
  return y;
}

export function mulScalarBackward(dy: Arr, s: number): Arr {
  return mulScalar(dy, s);
}

export function sqrt(x: Arr): Arr {
  const y = arr(x.shape);
  for (let i = 0; i < x.data.length; i++) y.data[i] = Math.sqrt(x.data[i]);
  return y;
}

/** Takes the OUTPUT y = sqrt(x): dx = dy / (2 y) (infinite at x = 0, like every framework). */
export function sqrtBackward(y: Arr, dy: Arr): Arr {
  assertShape(dy, y.shape, 'sqrtBackward dy');
  const dx = arr(y.shape);
  for (let i = 0; i < y.data.length; i++) dx.data[i] = dy.data[i] / (2 * y.data[i]);
  return dx;
}

export function square(x: Arr): Arr {
  const y = arr(x.shape);
  for (let i = 0; i < x.data.length; i++) y.data[i] = x.data[i] * x.data[i];
  return y;
}

/** Takes the INPUT x: dx = 2 x dy. */
export function squareBackward(x: Arr, dy: Arr): Arr {
  assertShape(dy, x.shape, 'squareBackward dy');
  const dx = arr(x.shape);
  for (let i = 0; i < x.data.length; i++) dx.data[i] = 2 * x.data[i] * dy.data[i];
  return dx;
}

// ---------------------------------------------------------------------------------------------
// where

/** y = mask != 0 ? a : b, with mask, a and b broadcast together. The mask gets no gradient. */
export function where(mask: Arr, a: Arr, b: Arr): Arr {
  const shape = broadcastShapes(mask.shape, a.shape, b.shape);
  const y = arr(shape);
  for (let i = 0; i < y.data.length; i++) {
    const idx = unravel(i, shape);
    const m = mask.data[broadcastOffset(idx, mask.shape)];
    y.data[i] = m !== 0 ? a.data[broadcastOffset(idx, a.shape)] : b.data[broadcastOffset(idx, b.shape)];
  }
  return y;
}

/** dy goes to a where the mask is nonzero and to b elsewhere, then is reduced to each operand's shape. */
export function whereBackward(mask: Arr, dy: Arr, aShape: number[], bShape: number[]): { da: Arr; db: Arr } {
  const shape = broadcastShapes(mask.shape, aShape, bShape);
  assertShape(dy, shape, 'whereBackward dy');
  const da = arr(aShape);
  const db = arr(bShape);
  for (let i = 0; i < dy.data.length; i++) {
    const idx = unravel(i, shape);
    if (mask.data[broadcastOffset(idx, mask.shape)] !== 0) da.data[broadcastOffset(idx, aShape)] += dy.data[i];
    else db.data[broadcastOffset(idx, bShape)] += dy.data[i];
  }
  return { da, db };
}

// ---------------------------------------------------------------------------------------------
// concat / slice / crop

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!(Number.isInteger(a) && a >= 0 && a < rank)) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Product of shape[from .. to-1]. */
function prod(shape: number[], from: number, to: number): number {
  let p = 1;
  for (let i = from; i < to; i++) p *= shape[i];
  return p;
}

/**
 * Joins arrays along `axis`; all other dimensions must agree. Viewing every array as
 * [outer, size_along_axis * inner], the output row `o` is the inputs' rows `o` laid end to end.
 */
export function concat(xs: Arr[], axis: number): Arr {
  if (xs.length === 0) throw new Error('concat: no inputs');
  const rank = xs[0].shape.length;
  const ax = normAxis(axis, rank);
  const shape = [...xs[0].shape];
  shape[ax] = 0;
  for (const x of xs) {
    if (x.shape.length !== rank) throw new Error('concat: ranks differ');
    for (let d = 0; d < rank; d++) {
      if (d !== ax && x.shape[d] !== xs[0].shape[d]) throw new Error(`concat: shapes differ on axis ${d}`);
    }
    shape[ax] += x.shape[ax];
  }
  const outer = prod(shape, 0, ax);
  const inner = prod(shape, ax + 1, rank);
  const y = arr(shape);
  let pos = 0;
  for (let o = 0; o < outer; o++) {
    for (const x of xs) {
      const row = x.shape[ax] * inner;
      for (let k = 0; k < row; k++) y.data[pos++] = x.data[o * row + k];
    }
  }
  return y;
}

/** Splits dy back into pieces of the inputs' shapes (the inverse of the copy). */
export function concatBackward(dy: Arr, xShapes: number[][], axis: number): Arr[] {
  const rank = dy.shape.length;
  const ax = normAxis(axis, rank);
  const outer = prod(dy.shape, 0, ax);
  const inner = prod(dy.shape, ax + 1, rank);
  let total = 0;
  for (const s of xShapes) total += s[ax];
  if (total !== dy.shape[ax]) throw new Error('concatBackward: sizes do not add up');
  const dxs = xShapes.map((s) => arr(s));
  let pos = 0;
  for (let o = 0; o < outer; o++) {
    for (const dx of dxs) {
      const row = dx.shape[ax] * inner;
      for (let k = 0; k < row; k++) dx.data[o * row + k] = dy.data[pos++];
    }
  }
  return dxs;
}

/** x[..., start:end, ...] along `axis`, with 0 <= start <= end <= size (no negative or clamped bounds). */
export function slice(x: Arr, axis: number, start: number, end: number): Arr {
  const rank = x.shape.length;
  const ax = normAxis(axis, rank);
  const size = x.shape[ax];
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= size)) {
    throw new Error(`slice: bad range [${start}, ${end}) on axis of size ${size}`);
  }
  const shape = [...x.shape];
  shape[ax] = end - start;
  const outer = prod(x.shape, 0, ax);
  const inner = prod(x.shape, ax + 1, rank);
  const y = arr(shape);
  for (let o = 0; o < outer; o++)
    for (let s = start; s < end; s++)
      for (let k = 0; k < inner; k++) y.data[(o * (end - start) + (s - start)) * inner + k] = x.data[(o * size + s) * inner + k];
  return y;
}

/** Zeros of x's shape with dy written back into the sliced range. */
export function sliceBackward(dy: Arr, xShape: number[], axis: number, start: number, end: number): Arr {
  const rank = xShape.length;
  const ax = normAxis(axis, rank);
  const size = xShape[ax];
  const expected = [...xShape];
  expected[ax] = end - start;
  assertShape(dy, expected, 'sliceBackward dy');
  const outer = prod(xShape, 0, ax);
  const inner = prod(xShape, ax + 1, rank);
  const dx = arr(xShape);
  for (let o = 0; o < outer; o++)
    for (let s = start; s < end; s++)
      for (let k = 0; k < inner; k++) dx.data[(o * size + s) * inner + k] = dy.data[(o * (end - start) + (s - start)) * inner + k];
  return dx;
}

/** The h x w window of an NCHW array whose top-left corner is (top, left); it must lie inside x. */
export function crop2d(x: Arr, top: number, left: number, h: number, w: number): Arr {
  if (x.shape.length !== 4) throw new Error('crop2d: x must be 4-D');
  const [N, C, H, W] = x.shape as [number, number, number, number];
  if (!(top >= 0 && left >= 0 && h >= 0 && w >= 0 && top + h <= H && left + w <= W)) {
    throw new Error(`crop2d: window (${top}, ${left}, ${h}, ${w}) outside ${H}x${W}`);
  }
  const y = arr([N, C, h, w]);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) y.data[((n * C + c) * h + i) * w + j] = x.data[((n * C + c) * H + top + i) * W + left + j];
  return y;
}

/** Zeros of x's shape with dy written back at (top, left). */
export function crop2dBackward(dy: Arr, xShape: number[], top: number, left: number): Arr {
  if (dy.shape.length !== 4 || xShape.length !== 4) throw new Error('crop2dBackward: 4-D only');
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [, , h, w] = dy.shape as [number, number, number, number];
  if (dy.shape[0] !== N || dy.shape[1] !== C || top + h > H || left + w > W) throw new Error('crop2dBackward: bad shapes');
  const dx = arr(xShape);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) dx.data[((n * C + c) * H + top + i) * W + left + j] = dy.data[((n * C + c) * h + i) * w + j];
  return dx;
}

// ---------------------------------------------------------------------------------------------
// reductions

/** Normalised, de-duplicated reduced axes (null = all axes) and the output shape with those axes set to 1. */
function reduction(xShape: number[], axes: number[] | null): { reduced: boolean[]; keptShape: number[]; count: number } {
  const rank = xShape.length;
  const reduced = new Array<boolean>(rank).fill(axes === null);
  if (axes !== null) for (const a of axes) reduced[normAxis(a, rank)] = true;
  const keptShape = xShape.map((d, i) => (reduced[i] ? 1 : d));
  let count = 1;
  for (let i = 0; i < rank; i++) if (reduced[i]) count *= xShape[i];
  return { reduced, keptShape, count };
}

function dropReduced(keptShape: number[], reduced: boolean[], keepDims: boolean): number[] {
  return keepDims ? keptShape : keptShape.filter((_, i) => !reduced[i]);
}

/** Flat index into the keepDims-shaped result that input element `idx` is summed into. */
function reducedOffset(idx: number[], reduced: boolean[], keptShape: number[]): number {
  return ravel(
    idx.map((v, i) => (reduced[i] ? 0 : v)),
    keptShape,
  );
}

/**
 * Sum over `axes` (null = every axis, giving shape [] unless keepDims). Dropping the size-1 axes does
 * not move any data, so the keepDims and squeezed results share one flat layout.
 */
export function sum(x: Arr, axes: number[] | null, keepDims = false): Arr {
  const { reduced, keptShape } = reduction(x.shape, axes);
  const y = arr(dropReduced(keptShape, reduced, keepDims));
  for (let i = 0; i < x.data.length; i++) y.data[reducedOffset(unravel(i, x.shape), reduced, keptShape)] += x.data[i];
  return y;
}

/** Each input element gets the gradient of the sum it went into. */
export function sumBackward(dy: Arr, xShape: number[], axes: number[] | null, keepDims = false): Arr {
  const { reduced, keptShape } = reduction(xShape, axes);
  assertShape(dy, dropReduced(keptShape, reduced, keepDims), 'sumBackward dy');
  const dx = arr(xShape);
  for (let i = 0; i < dx.data.length; i++) dx.data[i] = dy.data[reducedOffset(unravel(i, xShape), reduced, keptShape)];
  return dx;
}

/** sum / (number of elements reduced). */
export function mean(x: Arr, axes: number[] | null, keepDims = false): Arr {
  const { count } = reduction(x.shape, axes);
  return mulScalar(sum(x, axes, keepDims), 1 / count);
}

export function meanBackward(dy: Arr, xShape: number[], axes: number[] | null, keepDims = false): Arr {
  const { count } = reduction(xShape, axes);
  return mulScalar(sumBackward(dy, xShape, axes, keepDims), 1 / count);
}
