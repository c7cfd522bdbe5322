/** Creating tensors from CPU data, constants and seeded random numbers. */
import { engine } from './engine.ts';
import { Tensor, checkShape, shapeSize, inShapesOnly, type DType } from './tensor.ts';
import { fill } from './kernels/elementwise.ts';
import { Generator } from './random.ts';

export type NestedArray = number | NestedArray[];

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let d: NestedArray = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    d = d[0] as NestedArray;
    if (d === undefined) break;
  }
  return shape;
}

function flatten(data: NestedArray, shape: number[], out: number[], dim = 0): void {
  if (dim === shape.length) {
    if (typeof data !== 'number') throw new TypeError('tensor(): nested arrays must hold numbers');
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) {
    throw new TypeError(`tensor(): ragged nested array (expected length ${shape[dim]} at depth ${dim})`);
  }
  for (const v of data) flatten(v, shape, out, dim + 1);
}

/** A tensor from a typed array (with a shape) or from nested arrays (shape inferred). */
export function tensor(data: Float32Array | Int32Array | ArrayLike<number> | NestedArray, shape?: readonly number[], dtype?: DType): Tensor {
  let flat: Float32Array | Int32Array;
  let s: number[];
  if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    const kind: DType = dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');
    flat = data instanceof (kind === 'i32' ? Int32Array : Float32Array)
      ? (data as Float32Array | Int32Array)
      : kind === 'i32' ? Int32Array.from(data as ArrayLike<number>) : Float32Array.from(data as ArrayLike<number>);
    s = shape ? [...shape] : [flat.length];
  } else if (typeof data === 'number' || Array.isArray(data)) {
    const inferred = inferShape(data as NestedArray);
    const values: number[] = [];
    flatten(data as NestedArray, inferred, values);
    flat = dtype === 'i32' ? Int32Array.from(values) : Float32Array.from(values);
    s = shape ? [...shape] : inferred;
  } else {
    throw new TypeError('tensor(): data must be a typed array, an array or a number');
  }
  checkShape(s);
  if (shapeSize(s) !== flat.length) throw new Error(`tensor(): ${flat.length} values do not fill shape [${s}]`);
  const t = Tensor.empty(s, dtype ?? (flat instanceof Int32Array ? 'i32' : 'f32'));
  if (flat.length > 0 && !inShapesOnly()) engine().write(t.buffer, 0, flat);
  return t;
}

export const zeros = (shape: readonly number[]): Tensor => fill(shape, 0);
export const ones = (shape: readonly number[]): Tensor => fill(shape, 1);
export const full = (shape: readonly number[], value: number): Tensor => fill(shape, value);

export interface RandomOptions {
  /** A seed for a fresh generator, or a generator to draw from (keeps a stream going). */
  seed?: number | Generator;
}

function generatorOf(o: RandomOptions): Generator {
  return o.seed instanceof Generator ? o.seed : new Generator(o.seed ?? 0);
}

/** Uniform in [lo, hi), seeded; identical on every adapter (drawn on the CPU). */
export function rand(shape: readonly number[], o: RandomOptions & { lo?: number; hi?: number } = {}): Tensor {
  checkShape(shape);
  return tensor(generatorOf(o).fillUniform(new Float32Array(shapeSize(shape)), o.lo ?? 0, o.hi ?? 1), shape);
}

/** Normal with the given mean and std, seeded; identical on every adapter. */
export function randn(shape: readonly number[], o: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  checkShape(shape);
  return tensor(generatorOf(o).fillNormal(new Float32Array(shapeSize(shape)), o.mean ?? 0, o.std ?? 1), shape);
}
