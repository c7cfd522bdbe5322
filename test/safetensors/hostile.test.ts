import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  SafetensorsError,
  readSafetensors,
  readSafetensorsHeader,
  u8Entry,
  writeSafetensors,
  type TensorEntry,
} from '../../engine/io/safetensors.ts';
import { parseSafetensors } from '../../engine/io/safetensors-bytes.ts';
import { assemble, bytesOf, concatBytes, useTempDir, u64le, writeBytes } from './helpers.ts';

const tmp = useTempDir();

let counter = 0;

/**
 * Writes `bytes` to a fresh file and expects readSafetensorsHeader, readSafetensors and the
 * in-memory parseSafetensors (given the same bytes and the path as their name) to reject it with a SafetensorsError whose message starts with the file name, matches
 * `problem`, and (when given) names the tensor.
 */
async function expectRejected(bytes: Uint8Array, problem: RegExp, tensor?: string): Promise<SafetensorsError> {
  const path = await writeBytes(tmp.dir, `hostile-${counter++}.safetensors`, bytes);
  let last: SafetensorsError | undefined;
  for (const read of [readSafetensorsHeader, readSafetensors]) {
    const err = await read(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `${read.name} should reject`).toBeInstanceOf(SafetensorsError);
    const e = err as SafetensorsError;
    expect(e.message.startsWith(`${path}: `), e.message).toBe(true);
    expect(e.message).toMatch(problem);
    if (tensor !== undefined) {
      expect(e.message.endsWith(` (tensor '${tensor}')`), e.message).toBe(true);
      expect(e.tensor).toBe(tensor);
    }
    last = e;
  }
  let parseError: unknown;
  try {
    parseSafetensors(bytes, path);
  } catch (e) {
    parseError = e;
  }
  expect(parseError, 'parseSafetensors should reject').toBeInstanceOf(SafetensorsError);
  expect((parseError as SafetensorsError).message).toBe(last!.message);
  return last!;
}

const entry = (dtype: string, shape: unknown, offsets: unknown): string =>
  `{"dtype":${JSON.stringify(dtype)},"shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offsets)}}`;

const one = (name: string, body: string): string => `{${JSON.stringify(name)}:${body}}`;

describe('file and header length', () => {
  it('rejects files shorter than 8 bytes', async () => {
    await expectRejected(new Uint8Array(0), /too short \(0 bytes\)/);
    await expectRejected(bytesOf(2, 0, 0, 0, 0, 0, 0), /too short \(7 bytes\)/);
  });

  it('rejects a header length beyond the end of the file', async () => {
    await expectRejected(concatBytes(u64le(100), new TextEncoder().encode('{}')), /header length 100 extends beyond the end of the file \(10 bytes\)/);
  });

  it('rejects absurdly large header lengths (> 100 MB), including 2^64 - 1', async () => {
    await expectRejected(concatBytes(u64le(100_000_001), new Uint8Array(8)), /exceeds the 100000000-byte limit/);
    await expectRejected(concatBytes(u64le(2n ** 64n - 1n), new Uint8Array(8)), /header length 18446744073709551615 exceeds/);
    await expectRejected(concatBytes(u64le(2n ** 63n), new Uint8Array(8)), /exceeds/);
  });
});

describe('header encoding and JSON', () => {
  it('rejects a header that is not UTF-8', async () => {
    await expectRejected(assemble(bytesOf(0x7b, 0xff, 0xfe, 0x7d)), /not valid UTF-8/);
    // Overlong encoding of '"' and an unpaired surrogate encoded in UTF-8 are invalid too.
    await expectRejected(assemble(bytesOf(0x7b, 0xc0, 0xa2, 0x7d)), /not valid UTF-8/);
    await expectRejected(assemble(bytesOf(0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d)), /not valid UTF-8/);
  });

  it('rejects non-JSON headers', async () => {
    await expectRejected(assemble('{"a":'), /invalid header JSON: unexpected end of input/);
    await expectRejected(assemble('{"a":1}x'), /invalid header JSON: unexpected character "x" after the JSON value/);
    await expectRejected(assemble("{'a':1}"), /invalid header JSON: expected a string key/);
    await expectRejected(assemble('{"a":[1,]}'), /invalid header JSON/);
    await expectRejected(assemble(''), /invalid header JSON: unexpected end of input/);
    await expectRejected(assemble('\u{feff}{}'), /invalid header JSON: unexpected character/); // BOM
    await expectRejected(assemble('{"a\u0001":1}'), /unescaped control character/);
    await expectRejected(assemble('{"\\ud800":1}'), /lone surrogate/);
    await expectRejected(assemble('{"\\x":1}'), /invalid escape/);
    await expectRejected(assemble('{}', undefined, { pad: false }).subarray(0, 9), /header length 2 extends beyond/);
  });

  it('rejects pathological nesting with a SafetensorsError (no stack overflow)', async () => {
    await expectRejected(assemble(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), /invalid header JSON: nesting deeper than 64 levels at character \d+/, 'a');
  });

  it('rejects headers that are not JSON objects', async () => {
    await expectRejected(assemble('[]'), /header is not a JSON object \(got an array\)/);
    await expectRejected(assemble('"x"'), /header is not a JSON object \(got a string\)/);
    await expectRejected(assemble('null'), /header is not a JSON object \(got null\)/);
    await expectRejected(assemble('12'), /header is not a JSON object \(got a number\)/);
  });
});

describe('__metadata__', () => {
  it('rejects __metadata__ that is not a string -> string map', async () => {
    await expectRejected(assemble('{"__metadata__":"x"}'), /__metadata__ must be an object mapping strings to strings \(got a string\)/);
    await expectRejected(assemble('{"__metadata__":["a"]}'), /__metadata__ must be an object .*got an array/);
    await expectRejected(assemble('{"__metadata__":null}'), /__metadata__ must be an object .*got null/);
    await expectRejected(assemble('{"__metadata__":{"a":1}}'), /__metadata__ must map strings to strings, but key 'a' holds a number/);
    await expectRejected(assemble('{"__metadata__":{"a":{"b":"c"}}}'), /key 'a' holds an object/);
    await expectRejected(assemble('{"__metadata__":{"a":null}}'), /key 'a' holds null/);
  });
});

describe('tensor entries', () => {
  it('rejects entries that are not objects', async () => {
    await expectRejected(assemble('{"w":[1,2]}'), /tensor entry must be an object \(got an array\)/, 'w');
    await expectRejected(assemble('{"w":"F32"}'), /tensor entry must be an object/, 'w');
  });

  it('rejects missing fields', async () => {
    await expectRejected(assemble('{"w":{"shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)), /missing field 'dtype'/, 'w');
    await expectRejected(assemble('{"w":{"dtype":"U8","data_offsets":[0,1]}}', new Uint8Array(1)), /missing field 'shape'/, 'w');
    await expectRejected(assemble('{"w":{"dtype":"U8","shape":[1]}}', new Uint8Array(1)), /missing field 'data_offsets'/, 'w');
  });

  it('rejects unexpected fields and wrongly typed fields', async () => {
    await expectRejected(
      assemble('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":true}}', new Uint8Array(1)),
      /unexpected field 'extra'/,
      'w',
    );
    await expectRejected(assemble(one('w', '{"dtype":5,"shape":[1],"data_offsets":[0,1]}'), new Uint8Array(1)), /dtype must be a string \(got a number\)/, 'w');
    await expectRejected(assemble(one('w', '{"dtype":"U8","shape":"1","data_offsets":[0,1]}'), new Uint8Array(1)), /shape must be an array \(got a string\)/, 'w');
    await expectRejected(assemble(one('w', '{"dtype":"U8","shape":[1],"data_offsets":{"0":0}}'), new Uint8Array(1)), /data_offsets must be an array \[begin, end\] \(got an object\)/, 'w');
  });

  it('rejects unknown dtypes', async () => {
    await expectRejected(assemble(one('w', entry('F7', [1], [0, 1])), new Uint8Array(1)), /unsupported dtype 'F7'/, 'w');
    await expectRejected(assemble(one('w', entry('float32', [1], [0, 4])), new Uint8Array(4)), /unsupported dtype 'float32'/, 'w');
    await expectRejected(assemble(one('w', entry('constructor', [1], [0, 4])), new Uint8Array(4)), /unsupported dtype 'constructor'/, 'w');
    await expectRejected(assemble(one('w', entry('f32', [1], [0, 4])), new Uint8Array(4)), /unsupported dtype 'f32'/, 'w');
  });

  it('rejects shapes that are not arrays of non-negative safe integers', async () => {
    const d = new Uint8Array(4);
    await expectRejected(assemble(one('w', entry('U8', [-1], [0, 4])), d), /shape must be an array of non-negative integers \(got \[-1\]\)/, 'w');
    await expectRejected(assemble(one('w', '{"dtype":"U8","shape":[1.5],"data_offsets":[0,4]}'), d), /non-negative integers \(got \[1\.5\]\)/, 'w');
    await expectRejected(assemble(one('w', '{"dtype":"U8","shape":[4.0],"data_offsets":[0,4]}'), d), /non-negative integers \(got \[4\.0\]\)/, 'w');
    await expectRejected(assemble(one('w', '{"dtype":"U8","shape":[4e0],"data_offsets":[0,4]}'), d), /non-negative integers \(got \[4e0\]\)/, 'w');
    await expectRejected(assemble(one('w', entry('U8', ['4'], [0, 4])), d), /non-negative integers \(got \["4"\]\)/, 'w');
    await expectRejected(assemble(one('w', entry('U8', [null], [0, 4])), d), /non-negative integers/, 'w');
    await expectRejected(assemble(one('w', '{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,4]}'), d), /non-negative integers/, 'w');
  });

  it('rejects shapes whose element count overflows', async () => {
    await expectRejected(assemble(one('w', entry('F32', [2 ** 30, 2 ** 30, 2 ** 30], [0, 4])), new Uint8Array(4)), /too large/, 'w');
  });

  it('rejects byte-count mismatches between shape*dtype and the offsets', async () => {
    await expectRejected(
      assemble(one('w', entry('F32', [2, 3], [0, 20])), new Uint8Array(20)),
      /byte count mismatch: shape \[2,3\] of F32 needs 24 bytes but data_offsets \[0,20\] span 20/,
      'w',
    );
    await expectRejected(assemble(one('w', entry('F32', [0], [0, 4])), new Uint8Array(4)), /byte count mismatch/, 'w');
  });

  it('rejects bad data_offsets', async () => {
    const d = new Uint8Array(4);
    await expectRejected(assemble(one('w', entry('U8', [4], [0])), d), /data_offsets must be an array \[begin, end\] \(got \[0\]\)/, 'w');
    await expectRejected(assemble(one('w', entry('U8', [4], [0, 4, 8])), d), /data_offsets must be an array \[begin, end\]/, 'w');
    await expectRejected(assemble(one('w', '{"dtype":"U8","shape":[4],"data_offsets":[0,4.0]}'), d), /data_offsets must be non-negative integers \(got \[0,4\.0\]\)/, 'w');
    await expectRejected(assemble(one('w', '{"dtype":"U8","shape":[4],"data_offsets":[0.5,4.5]}'), d), /data_offsets must be non-negative integers/, 'w');
    await expectRejected(assemble(one('w', entry('U8', [4], ['0', 4])), d), /data_offsets must be non-negative integers/, 'w');
    await expectRejected(assemble(one('w', entry('U8', [4], [-4, 0])), d), /data_offsets must be non-negative integers/, 'w');
    await expectRejected(assemble(one('w', entry('U8', [4], [4, 0])), d), /begin 4 is greater than end 0/, 'w');
    await expectRejected(assemble(one('w', entry('U8', [8], [0, 8])), d), /data_offsets end 8 is beyond the data section \(4 bytes/, 'w');
    await expectRejected(
      assemble(one('w', '{"dtype":"U8","shape":[4],"data_offsets":[0,18446744073709551616]}'), d),
      /data_offsets must be non-negative integers/,
      'w',
    );
  });
});

describe('layout of the data section', () => {
  it('rejects overlapping ranges', async () => {
    const json = `{"a":${entry('U8', [4], [0, 4])},"b":${entry('U8', [4], [2, 6])}}`;
    await expectRejected(assemble(json, new Uint8Array(6)), /overlapping data ranges: \[2,6\) overlaps tensor 'a' \[0,4\)/, 'b');
    const same = `{"a":${entry('U8', [4], [0, 4])},"b":${entry('U8', [4], [0, 4])}}`;
    await expectRejected(assemble(same, new Uint8Array(4)), /overlapping data ranges/);
    // An empty tensor strictly inside another one overlaps it too.
    const inside = `{"a":${entry('U8', [4], [0, 4])},"e":${entry('U8', [0], [2, 2])}}`;
    await expectRejected(assemble(inside, new Uint8Array(4)), /overlapping data ranges/);
  });

  it('rejects gaps between tensors and a leading gap', async () => {
    const gap = `{"a":${entry('U8', [4], [0, 4])},"b":${entry('U8', [4], [6, 10])}}`;
    await expectRejected(assemble(gap, new Uint8Array(10)), /gap in data section: bytes \[4,6\) before this tensor belong to no tensor/, 'b');
    const lead = one('b', entry('U8', [4], [2, 6]));
    await expectRejected(assemble(lead, new Uint8Array(6)), /gap in data section: bytes \[0,2\)/, 'b');
  });

  it('rejects data not covered by the tensors (trailing bytes, or data with no tensors)', async () => {
    await expectRejected(assemble(one('a', entry('U8', [4], [0, 4])), new Uint8Array(5)), /data section not fully covered: bytes \[4,5\) belong to no tensor/);
    await expectRejected(assemble('{}', new Uint8Array(3)), /data section not fully covered: bytes \[0,3\)/);
  });

  it('accepts empty tensors placed between others', async () => {
    const json = `{"a":${entry('U8', [2], [0, 2])},"e":${entry('F32', [0, 7], [2, 2])},"b":${entry('U8', [1], [2, 3])}}`;
    const path = await writeBytes(tmp.dir, 'empty-between.safetensors', assemble(json, bytesOf(1, 2, 3)));
    const { tensors } = await readSafetensors(path);
    expect([...tensors.keys()]).toEqual(['a', 'e', 'b']);
    expect([...tensors.get('b')!.data]).toEqual([3]);
  });

  it('returns nothing when the file is truncated mid-data (no partial load)', async () => {
    const json = `{"a":${entry('U8', [4], [0, 4])},"b":${entry('U8', [4], [4, 8])}}`;
    const full = assemble(json, new Uint8Array(8));
    await expectRejected(full.subarray(0, full.length - 1), /data_offsets end 8 is beyond the data section \(7 bytes; file truncated\?\)/, 'b');
  });
});

describe('duplicate and dangerous keys', () => {
  it('rejects duplicate tensor names (JSON.parse would keep the last)', async () => {
    const json = `{"w":${entry('U8', [4], [0, 4])},"w":${entry('U8', [4], [0, 4])}}`;
    await expectRejected(assemble(json, new Uint8Array(4)), /invalid header JSON: duplicate key "w" at character \d+/, 'w');
  });

  it('rejects duplicate keys inside __metadata__ and inside a tensor entry', async () => {
    await expectRejected(assemble('{"__metadata__":{"a":"1","a":"2"}}'), /invalid header JSON in __metadata__: duplicate key "a"/);
    await expectRejected(
      assemble('{"w":{"dtype":"U8","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)),
      /duplicate key "dtype"/,
      'w',
    );
    await expectRejected(assemble('{"__metadata__":{},"__metadata__":{}}'), /duplicate key "__metadata__"/);
  });

  it('rejects __proto__ anywhere, without polluting any prototype', async () => {
    await expectRejected(
      assemble(`{"__proto__":${entry('U8', [1], [0, 1])}}`, new Uint8Array(1)),
      /forbidden key "__proto__"/,
      '__proto__',
    );
    await expectRejected(assemble('{"__metadata__":{"__proto__":"x"}}'), /in __metadata__: forbidden key "__proto__"/);
    await expectRejected(
      assemble('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"__proto__":{"polluted":"yes"}}}', new Uint8Array(1)),
      /forbidden key "__proto__"/,
      'w',
    );
    // Escaped spelling is the same key.
    await expectRejected(assemble(`{"\\u005f_proto__":${entry('U8', [1], [0, 1])}}`, new Uint8Array(1)), /forbidden key "__proto__"/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('error messages have the form "<file>: <problem> (tensor \'<name>\')"', async () => {
    const e = await expectRejected(assemble(one('enc.conv1.weight', entry('F32', [3], [0, 8])), new Uint8Array(8)), /byte count mismatch/, 'enc.conv1.weight');
    expect(e.message).toMatch(/^.*hostile-\d+\.safetensors: byte count mismatch: .* \(tensor 'enc\.conv1\.weight'\)$/);
  });

  it('fails the whole load when any one tensor is bad (no partial results)', async () => {
    const json = `{"good":${entry('U8', [4], [0, 4])},"bad":${entry('F99', [4], [4, 8])}}`;
    await expectRejected(assemble(json, new Uint8Array(8)), /unsupported dtype 'F99'/, 'bad');
  });
});

describe('writer input validation', () => {
  async function expectWriteRejected(
    tensors: Map<string, TensorEntry> | Record<string, TensorEntry>,
    problem: RegExp,
    metadata?: Record<string, string>,
  ): Promise<void> {
    const path = join(tmp.dir, `wbad-${counter++}.safetensors`);
    await expect(writeSafetensors(path, tensors, metadata)).rejects.toThrow(SafetensorsError);
    await expect(writeSafetensors(path, tensors, metadata)).rejects.toThrow(problem);
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
    expect((await readdir(tmp.dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  }

  it('rejects bad entries before creating any file', async () => {
    await expectWriteRejected({ w: { dtype: 'F32', shape: [2], data: new Uint8Array(7) } }, /byte count mismatch: .* needs 8 bytes but data has 7 \(tensor 'w'\)/);
    await expectWriteRejected({ w: { dtype: 'F8' as 'F32', shape: [1], data: new Uint8Array(1) } }, /unsupported dtype 'F8'/);
    await expectWriteRejected({ w: { dtype: 'U8', shape: [-1], data: new Uint8Array(0) } }, /shape must be/);
    await expectWriteRejected({ w: { dtype: 'U8', shape: [1.5], data: new Uint8Array(0) } }, /shape must be/);
    await expectWriteRejected({ w: { dtype: 'U8', shape: [1], data: [1] as unknown as Uint8Array } }, /data must be a Uint8Array/);
    await expectWriteRejected(new Map([['__metadata__', u8Entry([1], bytesOf(1))]]), /reserved tensor name \(tensor '__metadata__'\)/);
    await expectWriteRejected(new Map([['__proto__', u8Entry([1], bytesOf(1))]]), /reserved tensor name \(tensor '__proto__'\)/);
    await expectWriteRejected(new Map([['bad\ud800', u8Entry([1], bytesOf(1))]]), /lone UTF-16 surrogate/);
  });

  it('rejects bad metadata', async () => {
    const t = { w: u8Entry([1], bytesOf(1)) };
    await expectWriteRejected(t, /key 'a' holds a number/, { a: 1 as unknown as string });
    await expectWriteRejected(t, /forbidden __metadata__ key '__proto__'/, JSON.parse('{"__proto__":"x"}') as Record<string, string>);
  });

  it('removes its temp file when writing fails midway', async () => {
    const path = join(tmp.dir, 'no-such-tmp.dir', 'x.safetensors');
    await expect(writeSafetensors(path, { w: u8Entry([1], bytesOf(1)) })).rejects.toThrow(/ENOENT/);
    // A target that is a directory: the rename fails after the data was written.
    const target = join(tmp.dir, 'is-a-tmp.dir');
    await import('node:fs/promises').then((fs) => fs.mkdir(target));
    await writeBytes(target, 'keep', bytesOf(1));
    await expect(writeSafetensors(target, { w: u8Entry([1], bytesOf(1)) })).rejects.toThrow();
    expect((await readdir(tmp.dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});
