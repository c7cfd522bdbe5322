/**
 * maxPool2d (with PyTorch indices) and maxUnpool2d, with autograd, on the kernels of kernels/pool.ts.
 *
 * Output size, for an input of H rows (columns alike), kernel k, stride s:
 * - numeric padding p (PyTorch, p <= k/2 as PyTorch requires):
 *     floor mode (default): out = floor((H + 2p - k) / s) + 1
 *     ceilMode:             out = ceil((H + 2p - k) / s) + 1, minus one when the last window would
 *                           start at or past H + p (PyTorch's "last window starts inside" rule)
 *   so an odd input loses its last row in floor mode (7 -> 3 with 2x2/2) and keeps a partial
 *   window in ceil mode (7 -> 4).
 * - 'same' (TensorFlow): out = ceil(H / s); the total padding max((out-1)s + k - H, 0) is split with
 *   the smaller half at the top/left (the odd extra pixel goes bottom/right).
 * - 'valid' (TensorFlow): out = ceil((H - k + 1) / s), no padding (= PyTorch floor mode, p = 0).
 * Padded cells never win (they count as -Infinity), as in both frameworks. Inputs are assumed finite
 * (a NaN is not propagated).
 *
 * Indices: i32, `h*W + w` within each (n, c) plane of the INPUT (PyTorch's convention); ties go to the
 * first maximum in the window's row-major order.
 */
import { engine } from '../engine.ts';
import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { grid1d, type KernelDef } from '../kernels/kernel.ts';
import { maxBindingElements, windowOf } from '../kernels/binding.ts';
import { fillInto } from '../kernels/elementwise.ts';
import { POOL_WG, maxPool2dBackward, maxPool2dForward, maxUnpool2dBackward, maxUnpool2dScatter } from '../kernels/pool.ts';

export type PoolPair = number | readonly [number, number];
export type PoolPadding = PoolPair | 'same' | 'valid';

export interface MaxPool2dOptions {
  kernelSize: PoolPair;
  /** Default: the kernel size. */
  stride?: PoolPair;
  /** Numeric (PyTorch, both sides, at most half the kernel) or TensorFlow's 'same' / 'valid'. Default 0. */
  padding?: PoolPadding;
  /** PyTorch's ceil_mode (numeric padding only). */
  ceilMode?: boolean;
  /** Return the indices tensor (default true); false returns `indices: null` (backward still works). */
  returnIndices?: boolean;
}

export interface PoolGeometry {
  N: number; C: number; H: number; W: number;
  OH: number; OW: number;
  KH: number; KW: number; SH: number; SW: number;
  /** top and left padding (bottom/right padding is implied by the output size) */
  PT: number; PL: number;
}

const pair = (p: PoolPair, what: string): [number, number] => {
  const v: [number, number] = typeof p === 'number' ? [p, p] : [p[0], p[1]];
  if (!v.every((x) => Number.isInteger(x) && x >= 0)) throw new Error(`maxPool2d: ${what} must be non-negative integers, got [${v}]`);
  return v;
};

function check(cond: boolean, msg: string): void {
  if (!cond) throw new Error(msg);
}

/** The output size and padding of a max pool on an input of shape `xShape` (NCHW). */
export function maxPool2dGeometry(xShape: readonly number[], o: MaxPool2dOptions): PoolGeometry {
  check(xShape.length === 4, `maxPool2d: input must be NCHW (rank 4), got [${xShape}]`);
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [KH, KW] = pair(o.kernelSize, 'kernelSize');
  const [SH, SW] = pair(o.stride ?? [KH, KW], 'stride');
  check(KH >= 1 && KW >= 1 && SH >= 1 && SW >= 1, `maxPool2d: kernel and stride must be positive, got k[${KH},${KW}] s[${SH},${SW}]`);
  const p = o.padding ?? 0;
  const inSize = [H, W], k = [KH, KW], s = [SH, SW];
  const out = [0, 0], pad = [0, 0];
  for (let a = 0; a < 2; a++) {
    if (p === 'same' || p === 'valid') {
      check(!o.ceilMode, `maxPool2d: ceilMode applies to numeric padding, not '${p}'`);
      if (p === 'same') {
        out[a] = Math.ceil(inSize[a]! / s[a]!);
        pad[a] = Math.floor(Math.max((out[a]! - 1) * s[a]! + k[a]! - inSize[a]!, 0) / 2);
      } else {
        check(inSize[a]! >= k[a]!, `maxPool2d: a ${KH}x${KW} 'valid' window does not fit the ${H}x${W} input`);
        out[a] = Math.ceil((inSize[a]! - k[a]! + 1) / s[a]!);
      }
    } else {
      const pp = pair(p, 'padding')[a]!;
      check(pp <= k[a]! / 2, `maxPool2d: padding ${pp} exceeds half the kernel (${k[a]}), as PyTorch refuses`);
      const span = inSize[a]! + 2 * pp - k[a]!;
      // Ceil mode keeps a window larger than the input as PyTorch does (x [3,1,1,1], k 2, s 2 -> 1x1):
      // the partial window starts inside the input, so only the computed size must be >= 1.
      check(span >= 0 || !!o.ceilMode, `maxPool2d: a ${KH}x${KW} window does not fit the ${H}x${W} input with padding ${pp}`);
      out[a] = (o.ceilMode ? Math.ceil(span / s[a]!) : Math.floor(span / s[a]!)) + 1;
      if (o.ceilMode && (out[a]! - 1) * s[a]! >= inSize[a]! + pp) out[a]!--;
      check(out[a]! >= 1, `maxPool2d: a ${KH}x${KW} window does not fit the ${H}x${W} input with padding ${pp}`);
      pad[a] = pp;
    }
  }
  return { N, C, H, W, OH: out[0]!, OW: out[1]!, KH, KW, SH, SW, PT: pad[0]!, PL: pad[1]! };
}

const u32 = (v: number): number => v >>> 0; // window offsets may wrap: the kernels' u32 arithmetic is modular

/** Ranges of (n, c) planes such that every operand's window (per-plane sizes given) fits one binding. */
function planeChunks(planes: number, perPlane: number[]): [number, number][] {
  const maxElems = maxBindingElements();
  const worst = Math.max(1, ...perPlane);
  check(worst <= maxElems, `maxPool2d: one ${worst * 4}-byte plane exceeds a storage binding (${maxElems * 4})`);
  const per = Math.max(1, Math.floor(maxElems / worst));
  const out: [number, number][] = [];
  for (let p = 0; p < planes; p += per) out.push([p, Math.min(planes, p + per)]);
  return out;
}

/** Launches a plane-wise kernel over three operands (two read, one written), chunked by planes. */
function launchPlanes(
  def: KernelDef,
  base: Record<string, number>,
  planes: number,
  threadsPerPlane: number,
  operands: [Tensor, number, string][],
): void {
  const e = engine();
  for (const [p0, p1] of planeChunks(planes, operands.map(([, per]) => per))) {
    const uniforms: Record<string, number> = { ...base, planes: p1 - p0 };
    const slices = operands.map(([t, per, off]) => {
      const w = windowOf(t.buffer, p0 * per, p1 * per);
      uniforms[off] = u32(w.first - p0 * per);
      return w.slice;
    });
    e.dispatch(def, uniforms, slices, grid1d((p1 - p0) * threadsPerPlane, POOL_WG));
  }
}

function geometryUniforms(g: PoolGeometry): Record<string, number> {
  return { H: g.H, W: g.W, OH: g.OH, OW: g.OW, KH: g.KH, KW: g.KW, SH: g.SH, SW: g.SW, PT: g.PT, PL: g.PL };
}

/** Indices made by maxPool2d, with whether their windows overlapped (for maxUnpool2d's check). */
const poolOrigin = new WeakMap<Tensor, { overlapping: boolean; geometry: PoolGeometry }>();

/** Raw forward: y [N, C, OH, OW] and i32 indices of the same shape (no autograd). */
export function maxPool2dRaw(x: Tensor, g: PoolGeometry): { y: Tensor; indices: Tensor } {
  const y = Tensor.empty([g.N, g.C, g.OH, g.OW]);
  const indices = Tensor.empty([g.N, g.C, g.OH, g.OW], 'i32', 'pool indices');
  if (y.size === 0) return { y, indices };
  const inPlane = g.H * g.W, outPlane = g.OH * g.OW;
  launchPlanes(maxPool2dForward, geometryUniforms(g), g.N * g.C, outPlane, [
    [x, inPlane, 'xOff'],
    [y, outPlane, 'yOff'],
    [indices, outPlane, 'iOff'],
  ]);
  return { y, indices };
}

/** dx [N, C, H, W] from dy and the forward's indices (a deterministic gather). */
export function maxPool2dBackwardRaw(dy: Tensor, indices: Tensor, g: PoolGeometry): Tensor {
  const dx = Tensor.empty([g.N, g.C, g.H, g.W]);
  if (dx.size === 0) return dx;
  const inPlane = g.H * g.W, outPlane = g.OH * g.OW;
  launchPlanes(maxPool2dBackward, geometryUniforms(g), g.N * g.C, inPlane, [
    [dy, outPlane, 'dyOff'],
    [indices, outPlane, 'iOff'],
    [dx, inPlane, 'dxOff'],
  ]);
  return dx;
}

export function maxPool2d(x: Tensor, o: MaxPool2dOptions & { returnIndices: false }): { y: Tensor; indices: null };
export function maxPool2d(x: Tensor, o: MaxPool2dOptions & { returnIndices?: true }): { y: Tensor; indices: Tensor };
export function maxPool2d(x: Tensor, o: MaxPool2dOptions): { y: Tensor; indices: Tensor | null };
export function maxPool2d(x: Tensor, o: MaxPool2dOptions): { y: Tensor; indices: Tensor | null } {
  check(x.dtype === 'f32', 'maxPool2d: input must be f32');
  const g = maxPool2dGeometry(x.shape, o);
  const { y, indices } = maxPool2dRaw(x, g);
  poolOrigin.set(indices, { overlapping: g.SH < g.KH || g.SW < g.KW, geometry: g });
  record('maxPool2d', y, [x], [indices], (gy, [idx]) => [maxPool2dBackwardRaw(gy, idx!, g)]);
  if (o.returnIndices === false) {
    indices.dispose(); // backward keeps its own reference
    return { y, indices: null };
  }
  return { y, indices };
}

/** y [N, C, OH, OW]: zeros except y[n, c, indices[i]] = x[i] (no autograd). */
export function maxUnpool2dRaw(x: Tensor, indices: Tensor, OH: number, OW: number): Tensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const y = Tensor.empty([N, C, OH, OW]);
  if (y.size === 0) return y;
  fillInto(y, 0);
  if (x.size === 0) return y;
  launchPlanes(maxUnpool2dScatter, { inPlane: H * W, outPlane: OH * OW }, N * C, H * W, [
    [x, H * W, 'xOff'],
    [indices, H * W, 'iOff'],
    [y, OH * OW, 'yOff'],
  ]);
  return y;
}

/** dx [N, C, H, W] = dy[n, c, indices[i]] (0 where an index lies outside the plane). */
export function maxUnpool2dBackwardRaw(dy: Tensor, indices: Tensor): Tensor {
  const [N, C, H, W] = indices.shape as [number, number, number, number];
  const [, , OH, OW] = dy.shape as [number, number, number, number];
  const dx = Tensor.empty([N, C, H, W]);
  if (dx.size === 0) return dx;
  launchPlanes(maxUnpool2dBackward, { inPlane: H * W, outPlane: OH * OW }, N * C, H * W, [
    [dy, OH * OW, 'dyOff'],
    [indices, H * W, 'iOff'],
    [dx, H * W, 'dxOff'],
  ]);
  return dx;
}

/**
 * Max unpooling (the decoder's inverse of maxPool2d): y [N, C, OH, OW] is zero except
 * y[n, c, indices[n, c, i, j]] = x[n, c, i, j]; `outputSize` is [OH, OW] (or a full NCHW shape),
 * usually the pooled input's size. The gradient goes to x only: dx = dy gathered at the indices.
 *
 * Indices must be distinct within each (n, c) plane, as the reference requires: only then is the
 * scatter free of collisions (deterministic) and the gather its exact gradient. Indices that come
 * from a maxPool2d whose windows overlap (stride < kernel) are refused for that reason; indices of
 * other origin are trusted (duplicates would leave one of the colliding values, unspecified which).
 * An index outside [0, OH*OW) writes nothing and gets a zero gradient.
 */
export function maxUnpool2d(x: Tensor, indices: Tensor, outputSize: readonly number[]): Tensor {
  check(x.rank === 4, `maxUnpool2d: input must be NCHW (rank 4), got [${x.shape}]`);
  check(x.dtype === 'f32', 'maxUnpool2d: input must be f32');
  check(indices.dtype === 'i32', 'maxUnpool2d: indices must be an i32 tensor (as returned by maxPool2d)');
  check(
    indices.rank === 4 && indices.shape.every((d, i) => d === x.shape[i]),
    `maxUnpool2d: indices [${indices.shape}] must have the input's shape [${x.shape}]`,
  );
  let OH: number, OW: number;
  if (outputSize.length === 4) {
    check(outputSize[0] === x.shape[0] && outputSize[1] === x.shape[1], `maxUnpool2d: outputSize [${outputSize}] must keep N and C of [${x.shape}]`);
    [OH, OW] = [outputSize[2]!, outputSize[3]!];
  } else {
    check(outputSize.length === 2, `maxUnpool2d: outputSize must be [H, W] or NCHW, got [${outputSize}]`);
    [OH, OW] = [outputSize[0]!, outputSize[1]!];
  }
  check(Number.isInteger(OH) && Number.isInteger(OW) && OH >= 0 && OW >= 0, `maxUnpool2d: bad outputSize [${outputSize}]`);
  const origin = poolOrigin.get(indices);
  check(
    !origin?.overlapping,
    `maxUnpool2d: the indices come from a ${origin?.geometry.KH}x${origin?.geometry.KW} pool with stride ` +
      `${origin?.geometry.SH}x${origin?.geometry.SW}; overlapping windows can repeat an index, which unpooling refuses`,
  );
  const y = maxUnpool2dRaw(x, indices, OH, OW);
  return record('maxUnpool2d', y, [x], [indices], (gy, [idx]) => [maxUnpool2dBackwardRaw(gy, idx!)]);
}
