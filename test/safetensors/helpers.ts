// Test helpers for the safetensors tests. Deliberately independent of the module under test:
// files are assembled byte by byte here following the spec.

import { afterAll, beforeAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary folder for the test file: made before its tests, removed after them; `dir` is its path. */
export function useTempDir(): { readonly dir: string } {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'safetensors-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
  };
}

export function u64le(n: bigint | number): Uint8Array {
  const out = new Uint8Array(8);
  let v = BigInt(n);
  for (let i = 0; i < 8; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * A safetensors file from a header (JSON text, or raw bytes) and a data section.
 * `pad`: space-pad the header to 8-byte alignment (default true);
 * `headerLength`: override the length field (for hostile files).
 */
export function assemble(
  header: string | Uint8Array,
  data: Uint8Array = new Uint8Array(0),
  opts: { pad?: boolean; headerLength?: bigint | number } = {},
): Uint8Array {
  let h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  if (opts.pad ?? true) {
    const pad = (8 - (h.length % 8)) % 8;
    h = concatBytes(h, new Uint8Array(pad).fill(0x20));
  }
  return concatBytes(u64le(opts.headerLength ?? h.length), h, data);
}

export async function writeBytes(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, bytes);
  return p;
}

export function bytesOf(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}
