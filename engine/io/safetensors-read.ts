// safetensors file reader: validates the whole header against the file before any tensor is
// returned, then reads tensor data with positional reads, one tensor at a time (Node only; for
// bytes already in memory see safetensors-bytes.ts). See safetensors.ts for the format.

import { open, type FileHandle } from 'node:fs/promises';
import { IO_CHUNK_BYTES, SafetensorsError, type TensorEntry } from './safetensors-common.ts';
import { checkFileSize, decodeHeader, headerLength, type SafetensorsHeader } from './safetensors-header.ts';

export { validateHeader, type SafetensorsHeader, type TensorInfo } from './safetensors-header.ts';

async function readExactly(
  fh: FileHandle,
  file: string,
  buf: Uint8Array,
  position: number,
  what: string,
  tensor?: string,
): Promise<void> {
  let done = 0;
  while (done < buf.byteLength) {
    const len = Math.min(buf.byteLength - done, IO_CHUNK_BYTES);
    const { bytesRead } = await fh.read(buf, done, len, position + done);
    if (bytesRead === 0) {
      throw new SafetensorsError(
        file,
        `unexpected end of file while reading ${what} (file shrank while being read?)`,
        tensor,
      );
    }
    done += bytesRead;
  }
}

async function readHeaderFrom(fh: FileHandle, file: string): Promise<SafetensorsHeader> {
  const { size } = await fh.stat();
  checkFileSize(file, size);
  const lenBytes = new Uint8Array(8);
  await readExactly(fh, file, lenBytes, 0, 'the header length');
  const headerBytes = new Uint8Array(headerLength(file, lenBytes, size));
  await readExactly(fh, file, headerBytes, 8, 'the header');
  return decodeHeader(file, headerBytes, size);
}

async function withFile<T>(file: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
  const fh = await open(file, 'r');
  try {
    return await fn(fh);
  } finally {
    await fh.close();
  }
}

/** Reads and fully validates the header; no tensor data is read. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  return withFile(path, (fh) => readHeaderFrom(fh, path));
}

/**
 * Reads a whole file: validates the header completely, then reads every tensor with positional
 * reads into its own buffer (each Uint8Array starts at offset 0 of its own ArrayBuffer, so
 * toTypedArray/toFloat32 return zero-copy views). Either every tensor is returned or it throws.
 * Map order is data order (for files written by writeSafetensors: the order written).
 */
export async function readSafetensors(
  path: string,
): Promise<{ metadata: Record<string, string>; tensors: Map<string, TensorEntry> }> {
  return withFile(path, async (fh) => {
    const header = await readHeaderFrom(fh, path);
    const tensors = new Map<string, TensorEntry>();
    for (const [name, info] of header.tensors) {
      const data = new Uint8Array(info.byteLength);
      await readExactly(fh, path, data, info.offset, 'tensor data', name);
      tensors.set(name, { dtype: info.dtype, shape: [...info.shape], data });
    }
    return { metadata: header.metadata, tensors };
  });
}
