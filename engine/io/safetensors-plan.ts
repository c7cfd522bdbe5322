// safetensors writer's first half: validates the entries and lays out the header (pure; no file
// system), shared by the atomic file writer (safetensors-write.ts) and serializeSafetensors.
import {
  SafetensorsError,
  clip,
  formatShape,
  isDtype,
  isNonNegativeSafeInteger,
  isWellFormedString,
  tensorByteLength,
  type TensorEntry,
} from './safetensors-common.ts';

/** Names the writer refuses for tensors (the reader rejects/reserves them too). */
const RESERVED_TENSOR_NAMES = new Set(['__metadata__', '__proto__']);

export interface Planned {
  name: string;
  entry: TensorEntry;
}

export function planSafetensors(
  file: string,
  tensors: Map<string, TensorEntry> | Record<string, TensorEntry>,
  metadata: Record<string, string> | undefined,
): { header: Uint8Array; items: Planned[]; dataBytes: number } {
  if (tensors === null || typeof tensors !== 'object') {
    throw new SafetensorsError(file, 'tensors must be a Map or a plain object of TensorEntry');
  }
  const pairs: [string, TensorEntry][] =
    tensors instanceof Map ? [...tensors] : Object.keys(tensors).map((k) => [k, (tensors as Record<string, TensorEntry>)[k]!]);

  const parts: string[] = [];
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new SafetensorsError(file, '__metadata__ must be an object mapping strings to strings');
    }
    const kv: string[] = [];
    for (const k of Object.keys(metadata)) {
      const v = (metadata as Record<string, unknown>)[k];
      if (k === '__proto__') throw new SafetensorsError(file, `forbidden __metadata__ key '__proto__'`);
      if (typeof v !== 'string') {
        throw new SafetensorsError(file, `__metadata__ must map strings to strings, but key '${clip(k)}' holds a ${typeof v}`);
      }
      if (!isWellFormedString(k) || !isWellFormedString(v)) {
        throw new SafetensorsError(file, `__metadata__ entry '${clip(k)}' contains a lone UTF-16 surrogate`);
      }
      kv.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    // Like the reference writer: no __metadata__ key at all when there is nothing in it.
    if (kv.length > 0) parts.push(`"__metadata__":{${kv.join(',')}}`);
  }

  const items: Planned[] = [];
  let offset = 0;
  for (const [name, entry] of pairs) {
    if (typeof name !== 'string') throw new SafetensorsError(file, `tensor name must be a string, got ${typeof name}`);
    if (RESERVED_TENSOR_NAMES.has(name)) throw new SafetensorsError(file, `reserved tensor name`, name);
    if (!isWellFormedString(name)) throw new SafetensorsError(file, 'tensor name contains a lone UTF-16 surrogate', name);
    if (entry === null || typeof entry !== 'object') throw new SafetensorsError(file, 'entry is not a TensorEntry', name);
    const { dtype, shape, data } = entry;
    if (!isDtype(dtype)) throw new SafetensorsError(file, `unsupported dtype '${clip(String(dtype))}'`, name);
    if (!Array.isArray(shape) || !shape.every(isNonNegativeSafeInteger)) {
      throw new SafetensorsError(file, `shape must be an array of non-negative safe integers (got ${Array.isArray(shape) ? formatShape(shape) : typeof shape})`, name);
    }
    if (!(data instanceof Uint8Array)) throw new SafetensorsError(file, 'data must be a Uint8Array of raw little-endian bytes', name);
    const bytes = tensorByteLength(dtype, shape);
    if (bytes === null) throw new SafetensorsError(file, `shape ${formatShape(shape)} is too large`, name);
    if (data.byteLength !== bytes) {
      throw new SafetensorsError(
        file,
        `byte count mismatch: shape ${formatShape(shape)} of ${dtype} needs ${bytes} bytes but data has ${data.byteLength}`,
        name,
      );
    }
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${offset},${offset + bytes}]}`,
    );
    items.push({ name, entry });
    offset += bytes;
    if (!Number.isSafeInteger(offset)) throw new SafetensorsError(file, 'total data size overflows', name);
  }

  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  // Pad with spaces so that 8 + N is a multiple of 8 (tensor data then starts 8-aligned).
  const pad = (8 - (json.length % 8)) % 8;
  const n = json.length + pad;
  const header = new Uint8Array(8 + n);
  new DataView(header.buffer).setBigUint64(0, BigInt(n), true);
  header.set(json, 8);
  header.fill(0x20, 8 + json.length);
  return { header, items, dataBytes: offset };
}
