// Plain f64 n-dimensional arrays for the CPU reference implementations.
//
// These references are the oracle that the GPU kernels are checked against, so everything here
// favours obviousness over speed: row-major (C order) storage, shape as a plain number[], and 4-D
// tensors are always NCHW (the PyTorch layout the checkpoints use).

export interface Arr {
  shape: number[];
  data: Float64Array;
}

/** Number of elements of a shape (1 for the scalar shape []). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`bad dimension ${d} in shape [${shape}]`);
    n *= d;
  }
  return n;
}

/** Row-major strides: stride[last] = 1, stride[i] = stride[i+1] * shape[i+1]. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** An array of the given shape; zero-filled when `data` is omitted. The data is copied. */
export function arr(shape: number[], data?: ArrayLike<number>): Arr {
  const n = sizeOf(shape);
  const out = new Float64Array(n);
  if (data !== undefined) {
    if (data.length !== n) {
      throw new Error(`arr: shape [${shape}] needs ${n} values, got ${data.length}`);
    }
    for (let i = 0; i < n; i++) out[i] = data[i];
  }
  return { shape: [...shape], data: out };
}

export function zeros(shape: number[]): Arr {
  return arr(shape);
}

export function full(shape: number[], value: number): Arr {
  const a = arr(shape);
  a.data.fill(value);
  return a;
}

export function cloneArr(a: Arr): Arr {
  return { shape: [...a.shape], data: new Float64Array(a.data) };
}

/** Uniform values in [lo, hi) drawn from `rng` in row-major order. */
export function randomArr(shape: number[], rng: () => number, lo = -1, hi = 1): Arr {
  const a = arr(shape);
  for (let i = 0; i < a.data.length; i++) a.data[i] = lo + (hi - lo) * rng();
  return a;
}

/**
 * Seeded generator of floats in [0, 1) (the well-known mulberry32). Deterministic so that test
 * failures are reproducible; not for anything where quality of randomness matters.
 */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function assertShape(a: Arr, shape: readonly number[], what: string): void {
  if (!sameShape(a.shape, shape)) {
    throw new Error(`${what}: expected shape [${shape}], got [${a.shape}]`);
  }
  if (a.data.length !== sizeOf(a.shape)) {
    throw new Error(`${what}: data length ${a.data.length} does not match shape [${a.shape}]`);
  }
}

/** sum_i a_i * b_i over two arrays of the same shape (used to turn an array output into a scalar). */
export function dot(a: Arr, b: Arr): number {
  assertShape(b, a.shape, 'dot');
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i] * b.data[i];
  return s;
}

/** Flat row-major offset of a multi-index. */
export function ravel(index: readonly number[], shape: readonly number[]): number {
  let off = 0;
  for (let i = 0; i < shape.length; i++) off = off * shape[i] + index[i];
  return off;
}

/** Multi-index of a flat row-major offset. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i];
    idx[i] = flat % d;
    flat = Math.floor(flat / d);
  }
  return idx;
}


/** A cheap deterministic value in [-0.5, 0.5) for element i (fills of 100+ MB tensors, where a seeded generator is slow). */
export function hashValue(i: number, seed: number): number {
  let x = Math.imul(i ^ seed, 0x9e3779b1) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x85ebca77) >>> 0;
  x ^= x >>> 13;
  return (x >>> 0) / 4294967296 - 0.5;
}
