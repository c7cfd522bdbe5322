/** safetensors in memory: the same bytes as the file writer, and a lossless round trip. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, serializeSafetensors } from '../../engine/io/safetensors-bytes.ts';
import { f32Entry, i64Entry, u8Entry, f16Entry, readSafetensors, writeSafetensors, type TensorEntry } from '../../engine/io/safetensors.ts';
import { useTempDir } from './helpers.ts';

const tmp = useTempDir();

const tensors = (): Map<string, TensorEntry> =>
  new Map([
    ['conv.weight', f32Entry([2, 3], new Float32Array([1, -2, 3.5, 0, 1e-30, -0]))],
    ['bn.num_batches_tracked', i64Entry([], new BigInt64Array([123n]))],
    ['empty', u8Entry([0, 4], new Uint8Array(0))],
    ['half', f16Entry([3], new Uint16Array([0x3c00, 0xc000, 0x7bff]))],
  ]);

describe('serializeSafetensors / parseSafetensors', () => {
  it('writes exactly the bytes writeSafetensors writes, and the file reader reads them back', async () => {
    const meta = { format: 'x/1', note: 'ünïcode' };
    const bytes = serializeSafetensors(tensors(), meta);
    const path = join(tmp.dir, 'a.safetensors');
    await writeSafetensors(path, tensors(), meta);
    expect(Buffer.from(bytes).equals(await readFile(path))).toBe(true);
    const fromFile = await readSafetensors(path);
    expect([...fromFile.tensors.keys()]).toEqual([...tensors().keys()]);
  });

  it('round-trips names, dtypes, shapes, data and metadata, from an ArrayBuffer or a Uint8Array view', () => {
    const bytes = serializeSafetensors(tensors(), { a: 'b' });
    // a view at an odd offset of a larger buffer, as a fetch() slice could be
    const big = new Uint8Array(bytes.byteLength + 3);
    big.set(bytes, 3);
    for (const input of [bytes.buffer.slice(0) as ArrayBuffer, big.subarray(3)]) {
      const back = parseSafetensors(input, 'mem');
      expect(back.metadata).toEqual({ a: 'b' });
      for (const [name, e] of tensors()) {
        const got = back.tensors.get(name)!;
        expect(got.dtype).toBe(e.dtype);
        expect(got.shape).toEqual(e.shape);
        expect(Array.from(got.data)).toEqual(Array.from(e.data));
        expect(got.data.byteOffset).toBe(0); // its own buffer: typed views are aligned
      }
    }
  });

  it('refuses what is not bytes, naming the source', () => {
    expect(() => parseSafetensors('nope' as never, 'model.safetensors')).toThrow(/^model\.safetensors: expected an ArrayBuffer or a Uint8Array/);
  });
});
