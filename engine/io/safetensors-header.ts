// safetensors header validation: pure functions over bytes and text (no file system), shared by
// the file reader (safetensors-read.ts) and the in-memory reader (safetensors-bytes.ts).
// See safetensors.ts for the format description and the guarantees.

import {
  MAX_HEADER_BYTES,
  SafetensorsError,
  clip,
  dtypeSize,
  formatShape,
  isDtype,
  isNonNegativeSafeInteger,
  shapeNumel,
  type Dtype,
  type TensorEntry,
} from './safetensors-common.ts';
import { JsonNonInteger, JsonSyntaxError, parseStrictJson, type JsonValue } from './safetensors-json.ts';

/** Where one tensor lives in the file. */
export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  /** Absolute byte offset of the tensor's first byte in the file (8 + N + data_offsets[0]). */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  /** `__metadata__` ({} when absent); a null-prototype object. */
  metadata: Record<string, string>;
  /** Tensors in data order (ascending data_offsets; header order breaks ties of empty tensors). */
  tensors: Map<string, TensorInfo>;
  /** Absolute offset of the data section (8 + N). */
  dataOffset: number;
}

const TENSOR_FIELDS = ['dtype', 'shape', 'data_offsets'] as const;

function typeName(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Map) return 'an object';
  if (v instanceof JsonNonInteger) return `the non-integer number ${v.text}`;
  return `a ${typeof v}`;
}

function renderArray(v: JsonValue[]): string {
  const items = v.map((x) =>
    x instanceof JsonNonInteger
      ? x.text
      : typeof x === 'number' || typeof x === 'boolean' || x === null
        ? String(x)
        : typeof x === 'string'
          ? JSON.stringify(x)
          : Array.isArray(x)
            ? '[…]'
            : '{…}',
  );
  return clip(`[${items.join(',')}]`, 120);
}

/**
 * Validates a decoded header against a data section of `dataSize` bytes. Pure function; throws
 * SafetensorsError naming `file`, the problem and (where there is one) the tensor.
 */
export function validateHeader(
  file: string,
  headerText: string,
  dataSize: number,
  dataOffset: number,
): SafetensorsHeader {
  let root: JsonValue;
  try {
    root = parseStrictJson(headerText);
  } catch (e) {
    if (e instanceof JsonSyntaxError) {
      const [first] = e.path;
      if (first === undefined) throw new SafetensorsError(file, `invalid header JSON: ${e.message}`);
      if (first === '__metadata__') {
        throw new SafetensorsError(file, `invalid header JSON in __metadata__: ${e.message}`);
      }
      throw new SafetensorsError(file, `invalid header JSON: ${e.message}`, first);
    }
    throw e;
  }
  if (!(root instanceof Map)) {
    throw new SafetensorsError(file, `header is not a JSON object (got ${typeName(root)})`);
  }

  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  interface Pending extends TensorInfo {
    name: string;
    begin: number;
    end: number;
  }
  const pending: Pending[] = [];

  for (const [name, value] of root) {
    if (name === '__metadata__') {
      if (!(value instanceof Map)) {
        throw new SafetensorsError(
          file,
          `__metadata__ must be an object mapping strings to strings (got ${typeName(value)})`,
        );
      }
      for (const [k, v] of value) {
        if (typeof v !== 'string') {
          throw new SafetensorsError(
            file,
            `__metadata__ must map strings to strings, but key '${clip(k)}' holds ${typeName(v)}`,
          );
        }
        metadata[k] = v;
      }
      continue;
    }

    const bad = (problem: string): never => {
      throw new SafetensorsError(file, problem, name);
    };
    if (!(value instanceof Map)) return bad(`tensor entry must be an object (got ${typeName(value)})`);
    for (const key of value.keys()) {
      if (!(TENSOR_FIELDS as readonly string[]).includes(key)) {
        bad(`unexpected field '${clip(key)}' in tensor entry (allowed: dtype, shape, data_offsets)`);
      }
    }
    for (const key of TENSOR_FIELDS) if (!value.has(key)) bad(`missing field '${key}' in tensor entry`);

    const dtype = value.get('dtype')!;
    if (typeof dtype !== 'string') return bad(`dtype must be a string (got ${typeName(dtype)})`);
    if (!isDtype(dtype)) return bad(`unsupported dtype '${clip(dtype)}'`);

    const shape = value.get('shape')!;
    if (!Array.isArray(shape)) return bad(`shape must be an array (got ${typeName(shape)})`);
    if (!shape.every(isNonNegativeSafeInteger)) {
      return bad(`shape must be an array of non-negative integers (got ${renderArray(shape)})`);
    }
    const dims = shape as number[];

    const offsets = value.get('data_offsets')!;
    if (!Array.isArray(offsets) || offsets.length !== 2) {
      return bad(
        `data_offsets must be an array [begin, end] (got ${Array.isArray(offsets) ? renderArray(offsets) : typeName(offsets)})`,
      );
    }
    if (!offsets.every(isNonNegativeSafeInteger)) {
      return bad(`data_offsets must be non-negative integers (got ${renderArray(offsets)})`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) bad(`data_offsets begin ${begin} is greater than end ${end}`);
    if (end > dataSize) {
      bad(`data_offsets end ${end} is beyond the data section (${dataSize} bytes; file truncated?)`);
    }

    const numel = shapeNumel(dims);
    const bytes = numel === null ? null : numel * dtypeSize(dtype);
    if (bytes === null || !Number.isSafeInteger(bytes)) {
      return bad(`shape ${formatShape(dims)} is too large (element count overflows)`);
    }
    if (bytes !== end - begin) {
      bad(
        `byte count mismatch: shape ${formatShape(dims)} of ${dtype} needs ${bytes} bytes but data_offsets [${begin},${end}] span ${end - begin}`,
      );
    }
    pending.push({ name, dtype, shape: dims, offset: dataOffset + begin, byteLength: bytes, begin, end });
  }

  // Contiguity: sorted by (begin, end), every range must start exactly where the previous one
  // ended, the first at 0, and the last must end at the end of the data section.
  // Array.prototype.sort is stable, so zero-length tensors at the same offset keep header order.
  pending.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let prev: Pending | undefined;
  for (const t of pending) {
    if (t.begin < expected) {
      throw new SafetensorsError(
        file,
        `overlapping data ranges: [${t.begin},${t.end}) overlaps tensor '${clip(prev!.name)}' [${prev!.begin},${prev!.end})`,
        t.name,
      );
    }
    if (t.begin > expected) {
      throw new SafetensorsError(
        file,
        `gap in data section: bytes [${expected},${t.begin}) before this tensor belong to no tensor (the format requires contiguous data)`,
        t.name,
      );
    }
    expected = t.end;
    prev = t;
  }
  if (expected !== dataSize) {
    throw new SafetensorsError(
      file,
      `data section not fully covered: bytes [${expected},${dataSize}) belong to no tensor (the format requires the tensors to cover the data section exactly)`,
    );
  }

  const tensors = new Map<string, TensorInfo>();
  for (const t of pending) {
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, offset: t.offset, byteLength: t.byteLength });
  }
  return { metadata, tensors, dataOffset };
}

/** The header length from the file's first 8 bytes, checked against the limit and the file size. */
export function headerLength(file: string, lenBytes: Uint8Array, size: number): number {
  const n = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const headerLen = Number(n);
  if (8 + headerLen > size) {
    throw new SafetensorsError(file, `header length ${headerLen} extends beyond the end of the file (${size} bytes)`);
  }
  return headerLen;
}

/** Decodes (strict UTF-8) and validates the header bytes of a file of `size` bytes. */
export function decodeHeader(file: string, headerBytes: Uint8Array, size: number): SafetensorsHeader {
  let text: string;
  try {
    // fatal: reject invalid UTF-8; ignoreBOM: keep a BOM so that it is rejected as non-JSON.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch (e) {
    throw new SafetensorsError(file, 'header is not valid UTF-8', undefined, { cause: e });
  }
  const headerLen = headerBytes.byteLength;
  return validateHeader(file, text, size - 8 - headerLen, 8 + headerLen);
}

export function checkFileSize(file: string, size: number): void {
  if (size < 8) throw new SafetensorsError(file, `file too short (${size} bytes) to hold the 8-byte header length`);
}
