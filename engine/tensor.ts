/**
 * GPU tensors: a shape over f32 (or i32, for pooling indices) storage in one GPU buffer from the pool.
 * Layout is row-major (NCHW for images). Storage is reference counted so that views (reshape,
 * detach) and autograd's saved tensors keep a buffer alive after the tensor that made it is disposed.
 */
import { engine, type Engine } from './engine.ts';
import { track, keep } from './scope.ts';
import type { GradNode } from './autograd/graph.ts';
// A cycle (backward.ts works on Tensors); safe because neither module uses the other at load time.
import { backward as runBackward } from './autograd/backward.ts';

export type DType = 'f32' | 'i32';

export class Storage {
  private refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    readonly byteLength: number,
    private readonly owner: Engine,
  ) {}
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs === 0) this.owner.pool.release(this.buffer);
  }
  get shared(): boolean {
    return this.refs > 1;
  }
  get alive(): boolean {
    return this.refs > 0;
  }
}

let nextId = 1;

let shapesOnlyDepth = 0;

/**
 * Runs `fn` with tensors that have a shape and no storage: nothing is allocated or computed on the
 * device and no values are drawn, so a model can be built for its parameter table alone (`info
 * --model`), without an adapter. Such tensors read as disposed.
 */
export function shapesOnly<T>(fn: () => T): T {
  shapesOnlyDepth++;
  try {
    return fn();
  } finally {
    shapesOnlyDepth--;
  }
}

export const inShapesOnly = (): boolean => shapesOnlyDepth > 0;

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(shape: readonly number[], what = 'shape'): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TypeError(`${what} must be an array of non-negative integers, got [${String(shape)}]`);
  }
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly size: number;
  readonly dtype: DType;
  private _storage: Storage | null;
  /** Set on parameters: backward accumulates into `.grad`. */
  requiresGrad = false;
  grad: Tensor | null = null;
  /** The autograd node that produced this tensor, while a graph is recorded. */
  node: GradNode | null = null;
  /** A name for errors and checkpoints (parameters carry their dotted name). */
  name = '';

  constructor(shape: readonly number[], storage: Storage, dtype: DType = 'f32') {
    checkShape(shape);
    this.shape = Object.freeze([...shape]);
    this.size = shapeSize(shape);
    this.dtype = dtype;
    this._storage = storage;
    track(this);
  }

  /** A new tensor with fresh, uninitialised storage from the pool. */
  static empty(shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
    if (shapesOnlyDepth > 0) {
      return new Tensor(shape, null as unknown as Storage, dtype);
    }
    const e = engine();
    const bytes = Math.max(4, shapeSize(shape) * 4);
    const buffer = e.pool.acquire(bytes, undefined, label);
    return new Tensor(shape, new Storage(buffer, bytes, e), dtype);
  }

  get storage(): Storage {
    if (!this._storage) throw new Error(`tensor${this.name ? ` '${this.name}'` : ''} [${this.shape}] was disposed`);
    return this._storage;
  }

  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }

  get byteLength(): number {
    return this.size * 4;
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this._storage === null;
  }

  dispose(): void {
    if (!this._storage) return;
    this._storage.release();
    this._storage = null;
    // `node` stays: a disposed intermediate is still a link of the graph a later backward walks.
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** Another tensor over the same storage (no copy); `shape` may contain one -1. */
  view(shape: readonly number[]): Tensor {
    const resolved = resolveShape(shape, this.size);
    return new Tensor(resolved, this.storage.retain(), this.dtype);
  }

  /** The same data without autograd history. */
  detach(): Tensor {
    return new Tensor(this.shape, this.storage.retain(), this.dtype);
  }

  /** An untracked second reference to the storage, for autograd's saved tensors. */
  retainAlias(): Tensor {
    return keep(new Tensor(this.shape, this.storage.retain(), this.dtype));
  }

  /** Reads the data back to the CPU (waits for the GPU); i32 tensors are converted to floats. */
  async data(): Promise<Float32Array> {
    const bytes = await engine().read(this.buffer, 0, this.byteLength);
    return this.dtype === 'i32' ? Float32Array.from(new Int32Array(bytes)) : new Float32Array(bytes);
  }

  /** Reads an i32 tensor (pooling indices) back exactly. */
  async dataInt(): Promise<Int32Array> {
    if (this.dtype !== 'i32') throw new Error('dataInt() on an f32 tensor');
    return new Int32Array(await engine().read(this.buffer, 0, this.byteLength));
  }

  /** Nested arrays in the tensor's shape (a number for a scalar). */
  async toArray(): Promise<unknown> {
    const flat: number[] = Array.from(this.dtype === 'i32' ? await this.dataInt() : await this.data());
    if (this.shape.length === 0) return flat[0];
    const build = (dim: number, offset: number): unknown[] => {
      const n = this.shape[dim]!;
      const stride = shapeSize(this.shape.slice(dim + 1));
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(dim === this.shape.length - 1 ? flat[offset + i] : build(dim + 1, offset + i * stride));
      return out;
    };
    return build(0, 0);
  }

  /**
   * Backpropagates from this tensor, as PyTorch's `loss.backward()`: accumulates into `.grad` of
   * every tensor with `requiresGrad` it depends on. A non-scalar needs `gradient` (same shape).
   * Same as `backward(this, gradient)`.
   */
  backward(gradient?: Tensor): void {
    runBackward(this, gradient);
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs a one-element tensor, got shape [${this.shape}]`);
    return (await this.data())[0]!;
  }

  toString(): string {
    return `Tensor${this.name ? `(${this.name})` : ''}[${this.shape.join(', ')}]${this.dtype === 'i32' ? ' i32' : ''}`;
  }
}

export function resolveShape(shape: readonly number[], size: number): number[] {
  const free = shape.filter((d) => d === -1).length;
  if (free > 1) throw new Error(`reshape: at most one -1 in [${shape}]`);
  const known = shapeSize(shape.filter((d) => d !== -1));
  const out = shape.map((d) => (d === -1 ? (known === 0 ? 0 : size / known) : d));
  checkShape(out, 'reshape target');
  if (shapeSize(out) !== size) throw new Error(`reshape: cannot view ${size} elements as [${shape}]`);
  return out;
}
