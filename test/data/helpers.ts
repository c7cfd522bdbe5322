/** Shared fixtures for the data-pipeline tests: temp folders, a raw PNG writer, JPEG + EXIF bytes. */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, crc32 } from 'node:zlib';

/**
 * The alphamatting.com low-resolution set (evaluation only, never committed): the folder named by
 * MATTING_ALPHAMATTING_DIR, else data/alphamatting-lowres in this checkout (git-ignored; link a copy there).
 */
export const ALPHAMATTING = process.env.MATTING_ALPHAMATTING_DIR ?? fileURLToPath(new URL('../../data/alphamatting-lowres', import.meta.url));

/** The real evaluation set; when this checkout has none, the test is reported as skipped with the reason. */
export function alphamattingDir(ctx: { skip: (note?: string) => never }): string {
  if (existsSync(join(ALPHAMATTING, 'image'))) return ALPHAMATTING;
  return ctx.skip(`real data absent: alphamatting-lowres not found at ${ALPHAMATTING}`);
}

export function makeTmp(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `matting-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function chunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), Buffer.from(data)]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/**
 * A PNG written by hand (independently of pngjs's encoder), for every colour type and bit depth.
 * `samples` holds width*height*samplesPerPixel raw values (palette indices for type 3).
 */
export function rawPng(o: {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  depth: 1 | 2 | 4 | 8 | 16;
  samples: ArrayLike<number>;
  palette?: [number, number, number][];
  trns?: number[];
}): Buffer {
  const spp = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[o.colorType];
  const bitsPerRow = o.width * spp * o.depth;
  const rowBytes = Math.ceil(bitsPerRow / 8);
  const raw = Buffer.alloc((rowBytes + 1) * o.height);
  for (let y = 0; y < o.height; y++) {
    const row = y * (rowBytes + 1);
    raw[row] = 0; // filter: none
    for (let i = 0; i < o.width * spp; i++) {
      const v = o.samples[y * o.width * spp + i]!;
      if (o.depth === 16) raw.writeUInt16BE(v, row + 1 + 2 * i);
      else if (o.depth === 8) raw[row + 1 + i] = v;
      else {
        const bit = i * o.depth;
        raw[row + 1 + (bit >> 3)] |= v << (8 - o.depth - (bit & 7));
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(o.width, 0);
  ihdr.writeUInt32BE(o.height, 4);
  ihdr[8] = o.depth;
  ihdr[9] = o.colorType;
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  if (o.palette) parts.push(chunk('PLTE', Uint8Array.from(o.palette.flat())));
  if (o.trns) parts.push(chunk('tRNS', Uint8Array.from(o.trns)));
  parts.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}

/** An APP1 Exif segment holding only IFD0 with an Orientation tag, in either byte order. */
export function exifApp1(orientation: number, littleEndian: boolean): Buffer {
  const tiff = Buffer.alloc(8 + 2 + 12 + 4);
  if (littleEndian) {
    tiff.write('II', 0, 'latin1');
    tiff.writeUInt16LE(42, 2);
    tiff.writeUInt32LE(8, 4);
    tiff.writeUInt16LE(1, 8);
    tiff.writeUInt16LE(0x0112, 10);
    tiff.writeUInt16LE(3, 12);
    tiff.writeUInt32LE(1, 14);
    tiff.writeUInt16LE(orientation, 18);
  } else {
    tiff.write('MM', 0, 'latin1');
    tiff.writeUInt16BE(42, 2);
    tiff.writeUInt32BE(8, 4);
    tiff.writeUInt16BE(1, 8);
    tiff.writeUInt16BE(0x0112, 10);
    tiff.writeUInt16BE(3, 12);
    tiff.writeUInt32BE(1, 14);
    tiff.writeUInt16BE(orientation, 18);
  }
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
}

/** Inserts a segment right after a JPEG's SOI marker. */
export function insertAfterSoi(jpegBytes: Uint8Array, segment: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(jpegBytes.subarray(0, 2)), Buffer.from(segment), Buffer.from(jpegBytes.subarray(2))]);
}
