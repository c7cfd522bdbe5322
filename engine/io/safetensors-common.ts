// Shared pieces of the safetensors reader and writer: dtypes, the error type,
// shape arithmetic, typed-array <-> raw-byte helpers and float conversion.
// See safetensors.ts for the format description and the guarantees.

/** Element types understood by this implementation (a subset of the safetensors dtypes). */
export type Dtype = 'F32' | 'F64' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** One tensor: dtype, row-major shape and its raw little-endian bytes. */
export interface TensorEntry {
  dtype: Dtype;
  shape: number[];
  /** Raw little-endian, row-major bytes; byteLength === product(shape) * dtypeSize(dtype). */
  data: Uint8Array;
}

/** Bytes per element. A null-prototype record so that 'constructor' & co. are not dtypes. */
const DTYPE_SIZES: Readonly<Record<Dtype, number>> = Object.freeze(
  Object.assign(Object.create(null) as Record<Dtype, number>, {
    F64: 8,
    I64: 8,
    F32: 4,
    I32: 4,
    F16: 2,
    BF16: 2,
    I16: 2,
    I8: 1,
    U8: 1,
    BOOL: 1,
  }),
);

export const DTYPES: readonly Dtype[] = Object.freeze(Object.keys(DTYPE_SIZES) as Dtype[]);

export function isDtype(x: unknown): x is Dtype {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, x);
}

export function dtypeSize(dtype: Dtype): number {
  return DTYPE_SIZES[dtype];
}

/** Largest header accepted by the reader (same limit as the reference implementation). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Largest single read()/write() syscall we issue (the kernel/libuv caps one call near 2 GiB). */
export const IO_CHUNK_BYTES = 64 * 1024 * 1024;

/**
 * Every error raised by the reader and writer for a bad file, bad input or bad entry.
 * `message` reads `<file>: <what is wrong> (tensor '<name>')`; `file`, `problem` and `tensor`
 * carry the parts separately.
 */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
  readonly file: string;
  readonly problem: string;
  readonly tensor: string | undefined;

  constructor(file: string, problem: string, tensor?: string, options?: { cause?: unknown }) {
    super(
      `${file}: ${problem}${tensor === undefined ? '' : ` (tensor '${clip(tensor)}')`}`,
      options,
    );
    this.file = file;
    this.problem = problem;
    this.tensor = tensor;
  }
}

/** Shortens user-controlled strings before they go into messages. */
export function clip(s: string, max = 200): string {
  return s.length <= max ? s : `${s.slice(0, max)}…(${s.length} chars)`;
}

export function isNonNegativeSafeInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Number of elements of `shape` (1 for the scalar shape []), or null if the product is not a
 * safe integer. A zero dimension makes the product 0 whatever the other dimensions are.
 */
export function shapeNumel(shape: readonly number[]): number | null {
  if (shape.some((d) => d === 0)) return 0;
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) return null;
  }
  return n;
}

/** Byte count of a tensor, or null on overflow beyond Number.MAX_SAFE_INTEGER. */
export function tensorByteLength(dtype: Dtype, shape: readonly number[]): number | null {
  const n = shapeNumel(shape);
  if (n === null) return null;
  const bytes = n * dtypeSize(dtype);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** True when a string holds no lone UTF-16 surrogate (so it survives UTF-8 encoding). */
export function isWellFormedString(s: string): boolean {
  return !/\p{Surrogate}/u.test(s);
}

export function formatShape(shape: readonly unknown[]): string {
  return `[${shape.map((d) => (typeof d === 'number' ? String(d) : JSON.stringify(d) ?? String(d))).join(',')}]`;
}

// ---------------------------------------------------------------------------------------------
// Typed arrays <-> raw little-endian bytes

export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type ElementArray =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

function checkedNumel(what: string, shape: readonly number[]): number {
  if (!Array.isArray(shape) || !shape.every(isNonNegativeSafeInteger)) {
    throw new SafetensorsError(what, `shape must be an array of non-negative safe integers, got ${formatShape(shape)}`);
  }
  const n = shapeNumel(shape);
  if (n === null) throw new SafetensorsError(what, `shape ${formatShape(shape)} has too many elements`);
  return n;
}

/**
 * Wraps a typed array as raw little-endian bytes. On a little-endian host this is a zero-copy
 * view over the same memory (mutating the array later mutates the entry); on a big-endian
 * host the bytes are copied and swapped.
 */
function entryFrom(fn: string, dtype: Dtype, shape: number[], data: ElementArray): TensorEntry {
  const numel = checkedNumel(fn, shape);
  if (data.length !== numel) {
    throw new SafetensorsError(
      fn,
      `shape ${formatShape(shape)} needs ${numel} elements, got an array of ${data.length}`,
    );
  }
  const size = dtypeSize(dtype);
  let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (!HOST_IS_LITTLE_ENDIAN && size > 1) {
    const swapped = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i += size) {
      for (let j = 0; j < size; j++) swapped[i + j] = bytes[i + size - 1 - j]!;
    }
    bytes = swapped;
  }
  return { dtype, shape: [...shape], data: bytes };
}

export function f32Entry(shape: number[], data: Float32Array): TensorEntry {
  return entryFrom('f32Entry', 'F32', shape, data);
}
export function f64Entry(shape: number[], data: Float64Array): TensorEntry {
  return entryFrom('f64Entry', 'F64', shape, data);
}
/** F16 from raw IEEE binary16 bit patterns. */
export function f16Entry(shape: number[], bits: Uint16Array): TensorEntry {
  return entryFrom('f16Entry', 'F16', shape, bits);
}
/** BF16 from raw bfloat16 bit patterns (the upper 16 bits of an f32). */
export function bf16Entry(shape: number[], bits: Uint16Array): TensorEntry {
  return entryFrom('bf16Entry', 'BF16', shape, bits);
}
export function i64Entry(shape: number[], data: BigInt64Array): TensorEntry {
  return entryFrom('i64Entry', 'I64', shape, data);
}
export function i32Entry(shape: number[], data: Int32Array): TensorEntry {
  return entryFrom('i32Entry', 'I32', shape, data);
}
export function i16Entry(shape: number[], data: Int16Array): TensorEntry {
  return entryFrom('i16Entry', 'I16', shape, data);
}
export function i8Entry(shape: number[], data: Int8Array): TensorEntry {
  return entryFrom('i8Entry', 'I8', shape, data);
}
export function u8Entry(shape: number[], data: Uint8Array): TensorEntry {
  return entryFrom('u8Entry', 'U8', shape, data);
}
/** BOOL (one byte per element, 0 or 1) from any truthy/falsy values; always copies. */
export function boolEntry(shape: number[], values: ArrayLike<boolean | number>): TensorEntry {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] ? 1 : 0;
  return entryFrom('boolEntry', 'BOOL', shape, out);
}

/** The natural typed array for each dtype (F16/BF16 come back as raw Uint16 bit patterns). */
export interface DtypeArrays {
  F32: Float32Array;
  F64: Float64Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I64: BigInt64Array;
  I32: Int32Array;
  I16: Int16Array;
  I8: Int8Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
}

function checkEntry(fn: string, entry: TensorEntry): void {
  if (!isDtype(entry.dtype)) throw new SafetensorsError(fn, `unsupported dtype '${String(entry.dtype)}'`);
  checkedNumel(fn, entry.shape);
  const want = tensorByteLength(entry.dtype, entry.shape);
  if (want === null || entry.data.byteLength !== want) {
    throw new SafetensorsError(
      fn,
      `entry of dtype ${entry.dtype} and shape ${formatShape(entry.shape)} has ${entry.data.byteLength} bytes, expected ${want ?? 'an overflowing count of'}`,
    );
  }
}

/**
 * The entry's data as its natural typed array. Zero-copy view when the host is little-endian
 * and the bytes are suitably aligned (always true for tensors returned by readSafetensors),
 * otherwise a converted copy.
 */
export function toTypedArray<D extends Dtype>(entry: TensorEntry & { dtype: D }): DtypeArrays[D];
export function toTypedArray(entry: TensorEntry): DtypeArrays[Dtype];
export function toTypedArray(entry: TensorEntry): DtypeArrays[Dtype] {
  checkEntry('toTypedArray', entry);
  const { data } = entry;
  const size = dtypeSize(entry.dtype);
  const n = data.byteLength / size;
  const aligned = HOST_IS_LITTLE_ENDIAN && data.byteOffset % size === 0;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (entry.dtype) {
    case 'F32': {
      if (aligned) return new Float32Array(data.buffer, data.byteOffset, n);
      const out = new Float32Array(n);
      // Copy bits (not values) so NaN payloads survive.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = dv.getUint32(i * 4, true);
      return out;
    }
    case 'F64': {
      if (aligned) return new Float64Array(data.buffer, data.byteOffset, n);
      const out = new Float64Array(n);
      const bits = new BigUint64Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = dv.getBigUint64(i * 8, true);
      return out;
    }
    case 'F16':
    case 'BF16': {
      if (aligned) return new Uint16Array(data.buffer, data.byteOffset, n);
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getUint16(i * 2, true);
      return out;
    }
    case 'I64': {
      if (aligned) return new BigInt64Array(data.buffer, data.byteOffset, n);
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getBigInt64(i * 8, true);
      return out;
    }
    case 'I32': {
      if (aligned) return new Int32Array(data.buffer, data.byteOffset, n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
      return out;
    }
    case 'I16': {
      if (aligned) return new Int16Array(data.buffer, data.byteOffset, n);
      const out = new Int16Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true);
      return out;
    }
    case 'I8':
      return new Int8Array(data.buffer, data.byteOffset, n);
    case 'U8':
    case 'BOOL':
      return data;
  }
}

let f16Table: Float32Array | null = null;

/** Lookup table binary16 bits -> f32 (exact; NaN payloads and signs preserved). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    let man = h & 0x3ff;
    let out: number;
    if (exp === 0) {
      if (man === 0) {
        out = sign;
      } else {
        // Subnormal half -> normal float: shift the mantissa up until the implicit bit appears.
        let e = 113;
        while ((man & 0x400) === 0) {
          man <<= 1;
          e--;
        }
        out = sign | (e << 23) | ((man & 0x3ff) << 13);
      }
    } else if (exp === 31) {
      out = sign | 0x7f800000 | (man << 13);
    } else {
      out = sign | ((exp + 112) << 23) | (man << 13);
    }
    bits[h] = out >>> 0;
  }
  f16Table = table;
  return table;
}

/**
 * The entry as Float32Array. F32: zero-copy view when aligned on a little-endian host (bit
 * exact), else a bit-exact copy. F16/BF16: exact widening (NaN payloads kept). F64: rounded to
 * nearest f32. Integer and BOOL dtypes: converted by value (I64 and large I32 lose precision).
 */
export function toFloat32(entry: TensorEntry): Float32Array {
  const arr = toTypedArray(entry);
  switch (entry.dtype) {
    case 'F32':
      return arr as Float32Array;
    case 'F16': {
      const table = halfTable();
      const src = arr as Uint16Array;
      const out = new Float32Array(src.length);
      const outBits = new Uint32Array(out.buffer);
      const tableBits = new Uint32Array(table.buffer);
      for (let i = 0; i < src.length; i++) outBits[i] = tableBits[src[i]!]!;
      return out;
    }
    case 'BF16': {
      const src = arr as Uint16Array;
      const out = new Float32Array(src.length);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) outBits[i] = (src[i]! << 16) >>> 0;
      return out;
    }
    case 'I64': {
      const src = arr as BigInt64Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]!);
      return out;
    }
    default:
      return Float32Array.from(arr as Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array);
  }
}
