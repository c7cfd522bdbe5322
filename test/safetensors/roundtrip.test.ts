import { access, open, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  SafetensorsError,
  bf16Entry,
  boolEntry,
  f16Entry,
  f32Entry,
  f64Entry,
  i16Entry,
  i32Entry,
  i64Entry,
  i8Entry,
  readSafetensors,
  readSafetensorsHeader,
  toFloat32,
  toTypedArray,
  u8Entry,
  writeSafetensors,
  type TensorEntry,
} from '../../engine/io/safetensors.ts';
import { assemble, bytesOf, concatBytes, useTempDir, u64le, writeBytes } from './helpers.ts';

const tmp = useTempDir();

/** F32 bit patterns that a value-based copy would lose or alter. */
const F32_BITS = new Uint32Array([
  0x7fc00001, // quiet NaN with payload
  0xffa12345, // negative signalling NaN with payload
  0x80000000, // -0
  0x00000001, // smallest denormal
  0x807fffff, // largest negative denormal
  0x7f800000, // +inf
  0xff800000, // -inf
  0x3f800000, // 1
  0x7f7fffff, // max finite
]);

function sampleTensors(): Map<string, TensorEntry> {
  const m = new Map<string, TensorEntry>();
  m.set('f32.special', f32Entry([3, 3], new Float32Array(F32_BITS.slice().buffer)));
  m.set(
    'i64',
    i64Entry([5], new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, -1n, 0n, 123456789012345n])),
  );
  m.set('u8', u8Entry([2, 3], bytesOf(0, 1, 127, 128, 254, 255)));
  m.set('empty', f32Entry([3, 0, 2], new Float32Array(0)));
  m.set('scalar', f32Entry([], new Float32Array([-1.5])));
  m.set('f64', f64Entry([2], new Float64Array([Math.PI, -0])));
  m.set('f16', f16Entry([4], new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001])));
  m.set('bf16', bf16Entry([2], new Uint16Array([0x3f80, 0xff81])));
  m.set('i32', i32Entry([2], new Int32Array([-2147483648, 2147483647])));
  m.set('i16', i16Entry([2], new Int16Array([-32768, 32767])));
  m.set('i8', i8Entry([3], new Int8Array([-128, 0, 127])));
  m.set('bool', boolEntry([3], [true, false, 1]));
  m.set('odd.size', u8Entry([3], bytesOf(9, 8, 7))); // following tensors land unaligned
  m.set('after.odd', i32Entry([1], new Int32Array([0x01020304])));
  return m;
}

const META = { format: 'pt', note: 'ünïcødé ✓ "quoted" \\ \n', empty: '' };

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

describe('round trip', () => {
  it('is bit-exact for every dtype, NaN payloads, -0, denormals, empty and scalar tensors', async () => {
    const path = join(tmp.dir, 'rt.safetensors');
    const src = sampleTensors();
    await writeSafetensors(path, src, META);
    const { metadata, tensors } = await readSafetensors(path);
    expect({ ...metadata }).toEqual(META);
    expect([...tensors.keys()]).toEqual([...src.keys()]);
    for (const [name, e] of src) {
      const got = tensors.get(name)!;
      expect(got.dtype, name).toBe(e.dtype);
      expect(got.shape, name).toEqual(e.shape);
      expect(same(got.data, e.data), name).toBe(true);
    }
    // NaN payloads survive toFloat32 (a view, no value round trip).
    const f = toFloat32(tensors.get('f32.special')!);
    expect([...new Uint32Array(f.buffer, f.byteOffset, f.length)]).toEqual([...F32_BITS]);
    expect(toTypedArray(tensors.get('i64')! as TensorEntry & { dtype: 'I64' })[0]).toBe(-(2n ** 63n));
    expect(tensors.get('empty')!.data.byteLength).toBe(0);
    expect(tensors.get('scalar')!.shape).toEqual([]);
    expect([...toFloat32(tensors.get('scalar')!)]).toEqual([-1.5]);
  });

  it('metadata round trip, and absent metadata reads as {}', async () => {
    const a = join(tmp.dir, 'meta-a.safetensors');
    await writeSafetensors(a, { x: u8Entry([1], bytesOf(1)) }, { k: 'v', 'weird key ✓': 'x' });
    expect({ ...(await readSafetensors(a)).metadata }).toEqual({ k: 'v', 'weird key ✓': 'x' });
    const b = join(tmp.dir, 'meta-b.safetensors');
    await writeSafetensors(b, { x: u8Entry([1], bytesOf(1)) });
    const h = await readSafetensorsHeader(b);
    expect({ ...h.metadata }).toEqual({});
    expect(Object.getPrototypeOf(h.metadata)).toBe(null);
  });

  it('writes byte-identical files for the same content, and write(read(f)) reproduces f', async () => {
    const a = join(tmp.dir, 'same-a.safetensors');
    const b = join(tmp.dir, 'same-b.safetensors');
    const c = join(tmp.dir, 'same-c.safetensors');
    await writeSafetensors(a, sampleTensors(), META);
    await writeSafetensors(b, sampleTensors(), { ...META });
    const back = await readSafetensors(a);
    await writeSafetensors(c, back.tensors, back.metadata);
    const [ba, bb, bc] = await Promise.all([readFile(a), readFile(b), readFile(c)]);
    expect(same(ba, bb)).toBe(true);
    expect(same(ba, bc)).toBe(true);
    // Overwriting an existing checkpoint with the same content keeps the bytes too.
    await writeSafetensors(a, sampleTensors(), META);
    expect(same(await readFile(a), ba)).toBe(true);
  });

  it('a record input keeps insertion order and Map/record give identical files', async () => {
    const rec: Record<string, TensorEntry> = {
      zeta: u8Entry([1], bytesOf(1)),
      alpha: u8Entry([2], bytesOf(2, 3)),
    };
    const p1 = join(tmp.dir, 'rec.safetensors');
    const p2 = join(tmp.dir, 'map.safetensors');
    await writeSafetensors(p1, rec);
    await writeSafetensors(p2, new Map(Object.entries(rec)));
    expect(same(await readFile(p1), await readFile(p2))).toBe(true);
    expect([...(await readSafetensors(p1)).tensors.keys()]).toEqual(['zeta', 'alpha']);
  });

  it('an empty checkpoint (no tensors) round-trips', async () => {
    const p = join(tmp.dir, 'empty.safetensors');
    await writeSafetensors(p, new Map(), { only: 'metadata' });
    const { metadata, tensors } = await readSafetensors(p);
    expect(tensors.size).toBe(0);
    expect({ ...metadata }).toEqual({ only: 'metadata' });
    await writeSafetensors(p, {});
    const bytes = new Uint8Array(await readFile(p));
    expect(same(bytes, concatBytes(u64le(8), new TextEncoder().encode('{}      ')))).toBe(true);
    expect((await readSafetensors(p)).tensors.size).toBe(0);
  });

  it('leaves no temp files behind', async () => {
    const names = await readdir(tmp.dir);
    expect(names.filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('tensor names constructor/prototype/toString are ordinary names and pollute nothing', async () => {
    const p = join(tmp.dir, 'names.safetensors');
    await writeSafetensors(
      p,
      new Map([
        ['constructor', u8Entry([1], bytesOf(1))],
        ['prototype', u8Entry([1], bytesOf(2))],
        ['toString', u8Entry([1], bytesOf(3))],
      ]),
      { constructor: 'c', hasOwnProperty: 'h' },
    );
    const { metadata, tensors } = await readSafetensors(p);
    expect([...tensors.keys()]).toEqual(['constructor', 'prototype', 'toString']);
    expect(tensors.get('prototype')!.data[0]).toBe(2);
    expect(metadata.constructor).toBe('c');
    expect(({} as Record<string, unknown>).constructor).toBe(Object);
    expect(typeof ({} as Record<string, unknown>).toString).toBe('function');
  });
});

describe('streaming I/O', () => {
  it('writes one tensor per write call and reads each tensor with one positional read', async () => {
    const probe = await open(join(tmp.dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as {
      write: (...a: unknown[]) => Promise<unknown>;
      read: (...a: unknown[]) => Promise<unknown>;
      sync: (...a: unknown[]) => Promise<unknown>;
    };
    await probe.close();
    const { write, read, sync } = proto;
    const path = join(tmp.dir, 'stream.safetensors');
    const syncs: boolean[] = []; // did the target exist when sync() was called?
    proto.sync = async function (this: unknown, ...a: unknown[]) {
      syncs.push(await access(path).then(() => true, () => false));
      return sync.apply(this, a);
    };
    const writes: { length: number; position: unknown }[] = [];
    const reads: { length: number; position: unknown }[] = [];
    proto.write = function (this: unknown, ...a: unknown[]) {
      writes.push({ length: a[2] as number, position: a[3] });
      return write.apply(this, a);
    };
    proto.read = function (this: unknown, ...a: unknown[]) {
      reads.push({ length: a[2] as number, position: a[3] });
      return read.apply(this, a);
    };
    try {
      const src = new Map([
        ['a', f32Entry([1024], new Float32Array(1024).fill(1))],
        ['b', f32Entry([2048], new Float32Array(2048).fill(2))],
      ]);
      await writeSafetensors(path, src);
      // fsync of the temp file before the rename, then fsync of the folder after it.
      expect(syncs).toEqual([false, true]);
      const headerBytes = writes[0]!.length;
      expect(headerBytes % 8).toBe(0);
      expect(writes).toEqual([
        { length: headerBytes, position: 0 },
        { length: 4096, position: headerBytes },
        { length: 8192, position: headerBytes + 4096 },
      ]);
      await readSafetensors(path);
      // 8-byte length, header, then one positional read per tensor.
      expect(reads).toEqual([
        { length: 8, position: 0 },
        { length: headerBytes - 8, position: 8 },
        { length: 4096, position: headerBytes },
        { length: 8192, position: headerBytes + 4096 },
      ]);
    } finally {
      proto.write = write;
      proto.read = read;
      proto.sync = sync;
    }
  });
});

describe('independent parser (not using the module reader)', () => {
  it('checks a written file byte for byte against the spec', async () => {
    const path = join(tmp.dir, 'spec.safetensors');
    const src = sampleTensors();
    await writeSafetensors(path, src, META);
    const file = new Uint8Array(await readFile(path));

    const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
    const n = Number(dv.getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const headerBytes = file.subarray(8, 8 + n);
    const text = Buffer.from(headerBytes).toString('utf8');
    const jsonEnd = text.lastIndexOf('}') + 1;
    // Padding: only spaces after the JSON, fewer than 8 of them.
    expect(/^ *$/.test(text.slice(jsonEnd))).toBe(true);
    expect(n - Buffer.byteLength(text.slice(0, jsonEnd))).toBeLessThan(8);
    expect(text.startsWith('{"__metadata__":')).toBe(true);

    const header = JSON.parse(text) as Record<string, unknown>;
    expect(header.__metadata__).toEqual(META);
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    expect(names).toEqual([...src.keys()]);

    const data = file.subarray(8 + n);
    let expectedBegin = 0;
    for (const name of names) {
      const info = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
      expect(Object.keys(info)).toEqual(['dtype', 'shape', 'data_offsets']);
      const e = src.get(name)!;
      expect(info.dtype).toBe(e.dtype);
      expect(info.shape).toEqual(e.shape);
      const [begin, end] = info.data_offsets;
      expect(begin, `${name} begins where the previous ended`).toBe(expectedBegin);
      expect(end - begin).toBe(e.data.byteLength);
      expect(same(data.subarray(begin, end), e.data), name).toBe(true);
      expectedBegin = end;
    }
    expect(expectedBegin).toBe(data.length);
  });
});

describe('interop with the reference format', () => {
  it('reads a file assembled by hand from the spec (mixed dtypes, header order != data order)', async () => {
    // Header lists tensors in a different order than their data, as other writers may do.
    const json =
      '{"__metadata__":{"format":"pt"},' +
      '"b.i64":{"dtype":"I64","shape":[2],"data_offsets":[8,24]},' +
      '"a.f32":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"c.f16":{"dtype":"F16","shape":[1,3],"data_offsets":[24,30]},' +
      '"d.bf16":{"dtype":"BF16","shape":[],"data_offsets":[30,32]},' +
      '"e.empty":{"dtype":"U8","shape":[0],"data_offsets":[32,32]}}';
    const data = bytesOf(
      0x00, 0x00, 0x80, 0x3f, // F32 1.0
      0x00, 0x00, 0x20, 0xc0, // F32 -2.5
      0x01, 0, 0, 0, 0, 0, 0, 0, // I64 1
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // I64 -1
      0x00, 0x3c, // F16 1.0
      0x00, 0xc0, // F16 -2.0
      0xff, 0x7b, // F16 65504
      0x80, 0x3f, // BF16 1.0
    );
    const path = await writeBytes(tmp.dir, 'handmade.safetensors', assemble(json, data));
    const { metadata, tensors } = await readSafetensors(path);
    expect({ ...metadata }).toEqual({ format: 'pt' });
    expect([...tensors.keys()]).toEqual(['a.f32', 'b.i64', 'c.f16', 'd.bf16', 'e.empty']); // data order
    expect([...toFloat32(tensors.get('a.f32')!)]).toEqual([1, -2.5]);
    expect([...toTypedArray(tensors.get('b.i64')! as TensorEntry & { dtype: 'I64' })]).toEqual([1n, -1n]);
    expect(tensors.get('c.f16')!.shape).toEqual([1, 3]);
    expect([...toFloat32(tensors.get('c.f16')!)]).toEqual([1, -2, 65504]);
    expect([...toFloat32(tensors.get('d.bf16')!)]).toEqual([1]);
    expect(tensors.get('e.empty')!.data.length).toBe(0);

    const header = await readSafetensorsHeader(path);
    const headerLen = json.length + ((8 - (json.length % 8)) % 8);
    expect(header.dataOffset).toBe(8 + headerLen);
    expect(header.tensors.get('b.i64')).toEqual({ dtype: 'I64', shape: [2], offset: 8 + headerLen + 8, byteLength: 16 });
  });

  it('reads the unpadded byte string from the reference implementation tests', async () => {
    // From huggingface/safetensors bindings/python/tests/test_simple.py (test_serialization,
    // older, unpadded form): N = 0x3c = 60, 8 + 60 is not a multiple of 8.
    const json = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
    expect(json.length).toBe(60);
    const data = new Uint8Array(16);
    data[12] = 1; // data[1, 1] = 1
    const bytes = concatBytes(bytesOf(0x3c, 0, 0, 0, 0, 0, 0, 0), new TextEncoder().encode(json), data);
    const path = await writeBytes(tmp.dir, 'reference-unpadded.safetensors', bytes);
    const { tensors } = await readSafetensors(path);
    const t = tensors.get('test')!;
    expect(t.dtype).toBe('I32');
    expect(t.shape).toEqual([2, 2]);
    expect([...toTypedArray(t as TensorEntry & { dtype: 'I32' })]).toEqual([0, 0, 0, 1]);
  });

  it('writes exactly the bytes the reference writer produces (padded to 8)', async () => {
    const path = join(tmp.dir, 'reference-written.safetensors');
    await writeSafetensors(path, { test: i32Entry([2, 2], new Int32Array([0, 0, 0, 1])) });
    const json = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
    const data = new Uint8Array(16);
    data[12] = 1;
    const expected = concatBytes(
      u64le(64),
      new TextEncoder().encode(json + '    '),
      data,
    );
    expect(same(new Uint8Array(await readFile(path)), expected)).toBe(true);

    const withMeta = join(tmp.dir, 'reference-written-meta.safetensors');
    await writeSafetensors(withMeta, { test1: i32Entry([2, 2], new Int32Array(4)) }, { framework: 'pt' });
    const json2 = '{"__metadata__":{"framework":"pt"},"test1":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
    const pad2 = (8 - (json2.length % 8)) % 8;
    expect(
      same(
        new Uint8Array(await readFile(withMeta)),
        concatBytes(u64le(json2.length + pad2), new TextEncoder().encode(json2 + ' '.repeat(pad2)), new Uint8Array(16)),
      ),
    ).toBe(true);
  });
});

describe('conversions and entry helpers', () => {
  it('toFloat32 widens F16 (subnormal, inf, NaN) and BF16 exactly, rounds F64, converts ints', () => {
    const f16 = toFloat32(f16Entry([6], new Uint16Array([0x0001, 0x8000, 0x7c00, 0xfc00, 0x7e01, 0x03ff])));
    expect(f16[0]).toBe(2 ** -24);
    expect(Object.is(f16[1], -0)).toBe(true);
    expect(f16[2]).toBe(Infinity);
    expect(f16[3]).toBe(-Infinity);
    expect(new Uint32Array(f16.buffer)[4]).toBe(0x7fc02000); // payload shifted into place
    expect(f16[5]).toBe(1023 * 2 ** -24);
    const bf = toFloat32(bf16Entry([2], new Uint16Array([0x4049, 0x8000])));
    expect(bf[0]).toBe(Math.fround(3.140625));
    expect(Object.is(bf[1], -0)).toBe(true);
    expect([...toFloat32(f64Entry([2], new Float64Array([0.1, 1e300])))]).toEqual([Math.fround(0.1), Infinity]);
    expect([...toFloat32(i64Entry([2], new BigInt64Array([-3n, 5n])))]).toEqual([-3, 5]);
    expect([...toFloat32(i8Entry([2], new Int8Array([-3, 5])))]).toEqual([-3, 5]);
  });

  it('toFloat32 copies bit-exactly when the F32 bytes are unaligned', () => {
    const raw = new Uint8Array(9);
    const bits = 0xffa12345;
    raw.set([bits & 0xff, (bits >>> 8) & 0xff, (bits >>> 16) & 0xff, bits >>> 24, 0, 0, 0x80, 0x3f], 1);
    const f = toFloat32({ dtype: 'F32', shape: [2], data: raw.subarray(1) });
    expect(new Uint32Array(f.buffer)[0]).toBe(bits);
    expect(f[1]).toBe(1);
  });

  it('entry helpers validate element counts and toTypedArray validates byte counts', () => {
    expect(() => f32Entry([2, 2], new Float32Array(3))).toThrow(SafetensorsError);
    expect(() => f32Entry([-1], new Float32Array(0))).toThrow(/non-negative/);
    expect(() => toFloat32({ dtype: 'F32', shape: [2], data: new Uint8Array(7) })).toThrow(/7 bytes/);
  });
});
