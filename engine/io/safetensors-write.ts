// safetensors writer: atomic (temp file + fsync + rename + directory fsync) and streaming
// (tensor data goes to the file one tensor at a time, in chunks, never concatenated).
// See safetensors.ts for the format description and the guarantees.

import { randomBytes } from 'node:crypto';
import { open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  IO_CHUNK_BYTES,
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

interface Planned {
  name: string;
  entry: TensorEntry;
}

function plan(
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

async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const len = Math.min(bytes.byteLength - done, IO_CHUNK_BYTES);
    const { bytesWritten } = await fh.write(bytes, done, len, position + done);
    if (bytesWritten <= 0) throw new Error('write() wrote nothing');
    done += bytesWritten;
  }
}

/** fsync a directory so that a rename in it is durable. Best effort where unsupported. */
async function syncDirectory(dir: string): Promise<void> {
  let dh: FileHandle;
  try {
    dh = await open(dir, 'r');
  } catch (e) {
    // Windows cannot open directories this way; nothing more can be done there.
    if (process.platform === 'win32') return;
    throw e;
  }
  try {
    await dh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Some filesystems / platforms do not support fsync on a directory.
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EBADF') throw e;
  } finally {
    await dh.close();
  }
}

/** The temp-file name pattern: `<base>.tmp-<pid>-<12 hex>` in the target's folder. */
function tempNameFor(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

const TEMP_SUFFIX_RE = /^\.tmp-(\d+)-[0-9a-f]{12}$/;

/**
 * Writes `tensors` (in insertion order: Map order, or Object.keys order for a record, where
 * integer-like keys come first) to `path`, atomically: data goes to `<path>.tmp-<pid>-<rand>`
 * in the same folder, one tensor at a time; the temp file is fsynced, renamed over `path`,
 * and the folder is fsynced. Until the rename, `path` is untouched; a crash leaves at most a
 * stray temp file (see removeStaleTempFiles). On a failure the temp file is removed.
 * Every entry is validated before anything is created. Output is deterministic: the same
 * inputs give byte-identical files. An existing file's permission bits are kept.
 */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, TensorEntry> | Record<string, TensorEntry>,
  metadata?: Record<string, string>,
): Promise<void> {
  const { header, items } = plan(path, tensors, metadata);

  const tmp = tempNameFor(path);
  const fh = await open(tmp, 'wx');
  let closed = false;
  try {
    try {
      const st = await stat(path);
      if (st.isFile()) await fh.chmod(st.mode & 0o7777);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await writeAll(fh, header, 0);
    let position = header.byteLength;
    for (const { entry } of items) {
      await writeAll(fh, entry.data, position);
      position += entry.data.byteLength;
    }
    await fh.sync();
    closed = true;
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    if (!closed) await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    // ENOSPC and friends say "write" but not which file: name it.
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new Error(`cannot write ${path} (${code}: ${(e as Error).message.replace(/^[A-Z]+: /, '')})`, { cause: e });
    throw e;
  }
  await syncDirectory(dirname(resolve(path)));
}

/**
 * Removes temp files left next to `path` by writers that were killed mid-write: names
 * `<base>.tmp-<pid>-<hex>` whose pid is no longer a live process on this machine. Files of
 * live processes (possibly still writing) are kept. Returns the removed paths.
 */
export async function removeStaleTempFiles(path: string): Promise<string[]> {
  const dir = dirname(resolve(path));
  const base = basename(path);
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    if (!name.startsWith(base)) continue;
    const m = TEMP_SUFFIX_RE.exec(name.slice(base.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (isAlive(pid)) continue;
    const full = join(dir, name);
    try {
      await unlink(full);
      removed.push(full);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
