/**
 * Issue 15 item 5: a 69-byte PNG declaring 30000x30000 made predict, eval, --pred and the training
 * loader (even with --skip-bad) allocate over 9.5 GB. The declared size is now checked against a
 * pixel limit before decoding (--max-megapixels raises it). Seen failing before the fix: readImage
 * ran for seconds and grew the heap by gigabytes (the test's bounds), the loader did the same.
 */
import { describe, expect, it } from 'vitest';
import { deflateSync } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { readImage, readImageSize, writePng } from '../../matting/data/image-io.ts';
import { DataError } from '../../matting/data/errors.ts';
import { generateSyntheticDataset } from '../../matting/data/synthetic-files.ts';
import { DataLoader } from '../../matting/data/loader.ts';
import { useEngine } from '../helpers/gpu.ts';
import { MattingModel } from '../../matting/graph/model.ts';
import { saveCheckpoint } from '../../matting/checkpoint.ts';
import { tmp, TINY } from './helpers.ts';

useEngine();

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
/** A tiny PNG whose header declares width x height (8-bit grey); its pixel data is a few zero rows. */
function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(16), { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

describe('decompression bombs', () => {
  it('a 30000x30000 PNG of a few dozen bytes is refused in well under a second with bounded memory', () => {
    const dir = tmp('bomb');
    const file = join(dir, 'bomb.png');
    const bytes = bombPng(30000, 30000);
    expect(bytes.length).toBeLessThan(80);
    writeFileSync(file, bytes);
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    expect(() => readImage(file)).toThrow(DataError);
    expect(() => readImage(file)).toThrow(/30000x30000 \(900\.0 megapixels\) exceeds the limit of 100 megapixels; --max-megapixels/);
    expect(() => readImageSize(file)).toThrow(/exceeds the limit/);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100e6);
  });

  it('the limit can be raised, and a zero width is refused', () => {
    const dir = tmp('bomb');
    const file = join(dir, 'wide.png');
    writePng(file, { width: 200, height: 100, channels: 1, data: new Float32Array(20000) });
    const before = process.env.MATTING_MAX_MEGAPIXELS;
    try {
      process.env.MATTING_MAX_MEGAPIXELS = '0.01';
      expect(() => readImage(file)).toThrow(/200x100 .* exceeds the limit of 0.01 megapixels/);
      process.env.MATTING_MAX_MEGAPIXELS = '0.02';
      expect(readImage(file).width).toBe(200);
    } finally {
      if (before === undefined) delete process.env.MATTING_MAX_MEGAPIXELS;
      else process.env.MATTING_MAX_MEGAPIXELS = before;
    }
    writeFileSync(join(dir, 'zero.png'), bombPng(0, 16));
    expect(() => readImage(join(dir, 'zero.png'))).toThrow(/corrupt PNG \(size 0x16\)/);
  });

  it('the training loader with skipBad skips a bomb among good files', async () => {
    const dir = tmp('bomb');
    generateSyntheticDataset(dir, { train: 2, eval: 0, size: 32, seed: 1 });
    writeFileSync(join(dir, 'train', 'fg', 'zz-bomb.png'), bombPng(30000, 30000));
    writeFileSync(join(dir, 'train', 'alpha', 'zz-bomb.png'), bombPng(30000, 30000));
    const warnings: string[] = [];
    const loader = DataLoader.fromFolder(join(dir, 'train'), { batchSize: 1, size: 32, seed: 1, workers: 0, skipBad: true, warn: (m) => warnings.push(m) });
    const b = await loader.next();
    expect(b.n).toBe(1);
    expect(warnings.join('\n')).toMatch(/zz-bomb\.png: image of 30000x30000/);
    await loader.close();
  });

  it('predict refuses the bomb with one line and a non-zero exit', async () => {
    const dir = tmp('bomb');
    const model = new MattingModel(TINY);
    await saveCheckpoint(join(dir, 'm.safetensors'), model, null, null);
    model.dispose();
    const img = join(dir, 'img.png');
    writeFileSync(img, bombPng(30000, 30000));
    mkdirSync(join(dir, 'out'));
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'cli', 'bin.js'), 'predict', '--model', join(dir, 'm.safetensors'), '--image', img, '--trimap', img, '--out', join(dir, 'out', 'a.png')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/img\.png: image of 30000x30000 .* exceeds the limit/);
    expect(r.status).not.toBe(0);
  });
});
