/**
 * concat, slice and crop2d (rank <= 4, any axis; negative axes count from the end), with autograd,
 * all on the one strided box copy of kernels/concat.ts:
 * - concat's gradient is a slice of dy per input;
 * - slice's and crop2d's gradient is dy placed into zeros of the input's shape.
 * Copies are exact: forward and backward are bit-identical run after run.
 */
import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { fillInto } from '../kernels/elementwise.ts';
import { copyBox } from '../kernels/concat.ts';

function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!(Number.isInteger(a) && a >= 0 && a < rank)) throw new Error(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

function checkInput(op: string, x: Tensor): void {
  if (x.dtype !== 'f32') throw new Error(`${op}: f32 tensors only, got ${x}`);
  if (x.rank < 1 || x.rank > 4) throw new Error(`${op}: rank 1 to 4 supported, got [${x.shape}]`);
}

/** The part of `x` of shape `box` at `origin` (same rank), as a new tensor. */
function extract(x: Tensor, origin: readonly number[], box: readonly number[]): Tensor {
  const y = Tensor.empty(box);
  copyBox(x, origin, y, box.map(() => 0), box);
  return y;
}

/** Zeros of `shape` with `g` written at `origin`. */
function place(g: Tensor, shape: readonly number[], origin: readonly number[]): Tensor {
  const dx = Tensor.empty(shape);
  if (dx.size > 0) fillInto(dx, 0);
  copyBox(g, g.shape.map(() => 0), dx, origin, g.shape);
  return dx;
}

/** Joins tensors along `axis`; every other dimension must agree. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error('concat: no inputs');
  for (const x of xs) checkInput('concat', x);
  const rank = xs[0]!.rank;
  const ax = normAxis('concat', axis, rank);
  const shape = [...xs[0]!.shape];
  shape[ax] = 0;
  for (const x of xs) {
    if (x.rank !== rank || x.shape.some((d, i) => i !== ax && d !== shape[i])) {
      throw new Error(`concat: shapes ${xs.map((t) => `[${t.shape}]`).join(', ')} differ outside axis ${ax}`);
    }
    shape[ax] += x.shape[ax]!;
  }
  const y = Tensor.empty(shape);
  const starts: number[] = [];
  let at = 0;
  for (const x of xs) {
    const origin = shape.map((_, i) => (i === ax ? at : 0));
    starts.push(at);
    copyBox(x, x.shape.map(() => 0), y, origin, x.shape);
    at += x.shape[ax]!;
  }
  return record('concat', y, xs, [], (gy) =>
    xs.map((x, k) => (x.node || x.requiresGrad ? extract(gy, shape.map((_, i) => (i === ax ? starts[k]! : 0)), x.shape) : null)),
  );
}

/** x[..., start:end, ...] along `axis`, with 0 <= start <= end <= size (no negative or clamped bounds). */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  checkInput('slice', x);
  const ax = normAxis('slice', axis, x.rank);
  const size = x.shape[ax]!;
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= size)) {
    throw new Error(`slice: bad range [${start}, ${end}) on axis ${ax} of size ${size}`);
  }
  const box = x.shape.map((d, i) => (i === ax ? end - start : d));
  const origin = x.shape.map((_, i) => (i === ax ? start : 0));
  const y = extract(x, origin, box);
  return record('slice', y, [x], [], (gy) => [place(gy, x.shape, origin)]);
}

/** The h x w window of an NCHW tensor whose top-left corner is (top, left); it must lie inside x. */
export function crop2d(x: Tensor, top: number, left: number, h: number, w: number): Tensor {
  checkInput('crop2d', x);
  if (x.rank !== 4) throw new Error(`crop2d: input must be NCHW (rank 4), got [${x.shape}]`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const ints = [top, left, h, w].every((v) => Number.isInteger(v) && v >= 0);
  if (!ints || top + h > H || left + w > W) throw new Error(`crop2d: window (${top}, ${left}, ${h}, ${w}) outside ${H}x${W}`);
  const origin = [0, 0, top, left];
  const y = extract(x, origin, [N, C, h, w]);
  return record('crop2d', y, [x], [], (gy) => [place(gy, x.shape, origin)]);
}
