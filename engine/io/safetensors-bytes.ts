// safetensors in memory: parse a file's bytes (an ArrayBuffer or Uint8Array, e.g. from fetch() or
// a file input) and serialise tensors to bytes, with the same validation as the file reader and
// writer. No file system: usable in a browser. See safetensors.ts for the format.
import { SafetensorsError, type TensorEntry } from './safetensors-common.ts';
import { checkFileSize, decodeHeader, headerLength } from './safetensors-header.ts';
import { planSafetensors } from './safetensors-plan.ts';

/** A parsed safetensors file: metadata (a null-prototype object) and tensors in data order. */
export interface SafetensorsContent {
  metadata: Record<string, string>;
  tensors: Map<string, TensorEntry>;
}

/**
 * Parses a whole safetensors file held in memory. The header is validated completely before any
 * tensor is returned; each tensor's `data` is a copy in its own ArrayBuffer (so typed-array views
 * of it are aligned, and the input may be reused). `name` labels error messages.
 */
export function parseSafetensors(bytes: ArrayBuffer | Uint8Array, name = '<bytes>'): SafetensorsContent {
  const u8 = bytes instanceof Uint8Array ? bytes : bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : null;
  if (!u8) throw new SafetensorsError(name, 'expected an ArrayBuffer or a Uint8Array');
  const size = u8.byteLength;
  checkFileSize(name, size);
  const headerLen = headerLength(name, u8.subarray(0, 8), size);
  const header = decodeHeader(name, u8.subarray(8, 8 + headerLen), size);
  const tensors = new Map<string, TensorEntry>();
  for (const [tensorName, info] of header.tensors) {
    tensors.set(tensorName, { dtype: info.dtype, shape: [...info.shape], data: u8.slice(info.offset, info.offset + info.byteLength) });
  }
  return { metadata: header.metadata, tensors };
}

/**
 * The bytes of a safetensors file holding `tensors` (in insertion order) and `metadata`; the same
 * bytes the file writer produces for the same input.
 */
export function serializeSafetensors(
  tensors: Map<string, TensorEntry> | Record<string, TensorEntry>,
  metadata?: Record<string, string>,
): Uint8Array {
  const { header, items, dataBytes } = planSafetensors('<bytes>', tensors, metadata);
  const out = new Uint8Array(header.byteLength + dataBytes);
  out.set(header, 0);
  let at = header.byteLength;
  for (const { entry } of items) {
    out.set(entry.data, at);
    at += entry.data.byteLength;
  }
  return out;
}
