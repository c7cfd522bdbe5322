// safetensors writer: atomic (temp file + fsync + rename + directory fsync) and streaming
// (tensor data goes to the file one tensor at a time, in chunks, never concatenated).
// See safetensors.ts for the format description and the guarantees.

import { randomBytes } from 'node:crypto';
import { open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { IO_CHUNK_BYTES, type TensorEntry } from './safetensors-common.ts';
import { planSafetensors } from './safetensors-plan.ts';

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
  const { header, items } = planSafetensors(path, tensors, metadata);

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
