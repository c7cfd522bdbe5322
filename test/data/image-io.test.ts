import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { DataError } from '../../matting/data/errors.ts';
import { decodeImage, encodePng, readGrey, readImage, readImageSize, writePng, type Image } from '../../matting/data/image-io.ts';
import { alphamattingDir, exifApp1, insertAfterSoi, makeTmp, rawPng } from './helpers.ts';

const W = 5;
const H = 3;

function expectDataError(fn: () => unknown, file: string, problem: RegExp): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DataError);
  const e = caught as DataError;
  expect(e.message).toContain(file);
  expect(e.file).toBe(file);
  expect(e.problem).toMatch(problem);
}

describe('PNG decoding: every colour type and depth', () => {
  const n = W * H;
  const ramp = (max: number, spp: number): number[] => Array.from({ length: n * spp }, (_, i) => (i * 7919) % (max + 1));

  it.each([1, 2, 4, 8, 16] as const)('grey, %i-bit -> 1 channel scaled to 0..255', (depth) => {
    const max = 2 ** depth - 1;
    const s = ramp(max, 1);
    const img = decodeImage(rawPng({ width: W, height: H, colorType: 0, depth, samples: s }), 'g.png');
    expect([img.width, img.height, img.channels]).toEqual([W, H, 1]);
    s.forEach((v, i) => expect(img.data[i]).toBeCloseTo((v * 255) / max, 4));
  });

  it('16-bit keeps its fraction (v / 257), exact 128 stays 128', () => {
    const img = decodeImage(rawPng({ width: 2, height: 1, colorType: 0, depth: 16, samples: [32896, 1000] }), 'g16.png');
    expect(img.data[0]).toBe(128);
    expect(img.data[1]).toBeCloseTo(1000 / 257, 5);
  });

  it.each([8, 16] as const)('grey+alpha, %i-bit -> 4 channels (grey replicated)', (depth) => {
    const max = 2 ** depth - 1;
    const s = ramp(max, 2);
    const img = decodeImage(rawPng({ width: W, height: H, colorType: 4, depth, samples: s }), 'ga.png');
    expect(img.channels).toBe(4);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) expect(img.data[4 * i + c]).toBeCloseTo((s[2 * i]! * 255) / max, 4);
      expect(img.data[4 * i + 3]).toBeCloseTo((s[2 * i + 1]! * 255) / max, 4);
    }
  });

  it.each([
    [2, 8, 3],
    [2, 16, 3],
    [6, 8, 4],
    [6, 16, 4],
  ] as const)('colour type %i, %i-bit -> %i channels', (colorType, depth, channels) => {
    const max = 2 ** depth - 1;
    const s = ramp(max, channels);
    const img = decodeImage(rawPng({ width: W, height: H, colorType, depth, samples: s }), 'c.png');
    expect(img.channels).toBe(channels);
    s.forEach((v, i) => expect(img.data[i]).toBeCloseTo((v * 255) / max, 4));
  });

  it.each([1, 2, 4, 8] as const)('palette, %i-bit -> RGB from the palette', (depth) => {
    const entries = 2 ** depth;
    const palette: [number, number, number][] = Array.from({ length: entries }, (_, k) => [k, (k * 37) % 256, 255 - k]);
    const s = ramp(entries - 1, 1);
    const img = decodeImage(rawPng({ width: W, height: H, colorType: 3, depth, samples: s, palette }), 'p.png');
    expect(img.channels).toBe(3);
    s.forEach((k, i) => expect([img.data[3 * i], img.data[3 * i + 1], img.data[3 * i + 2]]).toEqual(palette[k]));
  });

  it('palette with tRNS -> 4 channels', () => {
    const palette: [number, number, number][] = [[0, 0, 0], [128, 128, 128], [255, 255, 255]];
    const img = decodeImage(rawPng({ width: 3, height: 1, colorType: 3, depth: 8, samples: [0, 1, 2], palette, trns: [0, 100] }), 't.png');
    expect(img.channels).toBe(4);
    expect(Array.from(img.data)).toEqual([0, 0, 0, 0, 128, 128, 128, 100, 255, 255, 255, 255]);
  });
});

describe('writePng', () => {
  const tmp = makeTmp('io');
  afterAll(() => tmp.cleanup());

  it.each([1, 3, 4] as const)('round-trips %i-channel 8-bit images (rounded, clamped)', (channels) => {
    const data = Float32Array.from({ length: W * H * channels }, (_, i) => (i * 37) % 256);
    data[0] = -5;
    data[1] = 300;
    data[2] = 12.4;
    const path = join(tmp.dir, `w${channels}.png`);
    writePng(path, { width: W, height: H, channels, data });
    const back = readImage(path);
    expect([back.width, back.height, back.channels]).toEqual([W, H, channels]);
    const expected = Array.from(data, (v) => Math.min(255, Math.max(0, Math.round(v))));
    expect(Array.from(back.data)).toEqual(expected);
  });

  it('readGrey takes channel 0 of RGB files', () => {
    const path = join(tmp.dir, 'rgb.png');
    writePng(path, { width: 2, height: 1, channels: 3, data: [10, 20, 30, 128, 0, 255] });
    expect(Array.from(readGrey(path).data)).toEqual([10, 128]);
  });
});

describe('JPEG decoding and EXIF orientation', () => {
  // 32x16 with four flat quadrants of distinct colours: survives JPEG, shows any rotation/flip.
  const JW = 32;
  const JH = 16;
  const colours = [[230, 20, 20], [20, 230, 20], [20, 20, 230], [230, 230, 20]];
  const quadrant = (x: number, y: number): number => (x < JW / 2 ? 0 : 1) + (y < JH / 2 ? 0 : 2);
  let base: Buffer;
  let plain: Image;

  beforeAll(() => {
    const rgba = new Uint8Array(JW * JH * 4);
    for (let y = 0; y < JH; y++) {
      for (let x = 0; x < JW; x++) {
        const c = colours[quadrant(x, y)]!;
        rgba.set([c[0]!, c[1]!, c[2]!, 255], 4 * (y * JW + x));
      }
    }
    base = jpeg.encode({ width: JW, height: JH, data: rgba }, 95).data;
    plain = decodeImage(base, 'plain.jpg');
  });

  it('decodes to RGB 0..255 close to the encoded colours', () => {
    expect([plain.width, plain.height, plain.channels]).toEqual([JW, JH, 3]);
    const px = (x: number, y: number): number[] => Array.from(plain.data.subarray(3 * (y * JW + x), 3 * (y * JW + x) + 3));
    for (const [x, y] of [[3, 3], [28, 3], [3, 12], [28, 12]] as const) {
      const want = colours[quadrant(x, y)]!;
      px(x, y).forEach((v, c) => expect(Math.abs(v - want[c]!)).toBeLessThan(12));
    }
  });

  // The display transform of each orientation written as a sequence of elementary steps, an
  // independent statement of the EXIF table (rotate = 90 degrees clockwise).
  const steps: Record<number, ('flipH' | 'rotate')[]> = {
    1: [],
    2: ['flipH'],
    3: ['rotate', 'rotate'],
    4: ['rotate', 'rotate', 'flipH'],
    5: ['rotate', 'flipH'],
    6: ['rotate'],
    7: ['rotate', 'rotate', 'rotate', 'flipH'],
    8: ['rotate', 'rotate', 'rotate'],
  };
  function reference(img: Image, o: number): Image {
    let cur = img;
    for (const s of steps[o]!) {
      const { width: w, height: h, data } = cur;
      const outW = s === 'rotate' ? h : w;
      const outH = s === 'rotate' ? w : h;
      const out = new Float32Array(data.length);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const [nx, ny] = s === 'rotate' ? [h - 1 - y, x] : [w - 1 - x, y];
          for (let c = 0; c < 3; c++) out[3 * (ny * outW + nx) + c] = data[3 * (y * w + x) + c]!;
        }
      }
      cur = { width: outW, height: outH, channels: 3, data: out };
    }
    return cur;
  }

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('orientation %i (both byte orders) is applied', (o) => {
    for (const little of [true, false]) {
      const bytes = insertAfterSoi(base, exifApp1(o, little));
      const img = decodeImage(bytes, `o${o}.jpg`);
      const want = reference(plain, o);
      expect([img.width, img.height]).toEqual([want.width, want.height]);
      expect(Array.from(img.data)).toEqual(Array.from(want.data));
    }
  });

  it('orientation 6: the stored top-left (red) quadrant ends up top-right', () => {
    const img = decodeImage(insertAfterSoi(base, exifApp1(6, true)), 'o6.jpg');
    expect([img.width, img.height]).toEqual([JH, JW]);
    const px = Array.from(img.data.subarray(3 * (2 * JH + (JH - 3)), 3 * (2 * JH + (JH - 3)) + 3));
    expect(px[0]).toBeGreaterThan(200);
    expect(px[1]).toBeLessThan(40);
  });

  it('readImageSize reads headers and swaps axes for rotated JPEGs', () => {
    const tmp = makeTmp('jpg');
    try {
      const p6 = join(tmp.dir, 'r.jpg');
      writeFileSync(p6, insertAfterSoi(base, exifApp1(6, false)));
      expect(readImageSize(p6)).toEqual({ width: JH, height: JW, format: 'jpeg' });
      const p3 = join(tmp.dir, 'r3.jpg');
      writeFileSync(p3, insertAfterSoi(base, exifApp1(3, true)));
      expect(readImageSize(p3)).toEqual({ width: JW, height: JH, format: 'jpeg' });
      const png = join(tmp.dir, 'p.png');
      writePng(png, { width: 7, height: 4, channels: 1, data: new Float32Array(28) });
      expect(readImageSize(png)).toEqual({ width: 7, height: 4, format: 'png' });
    } finally {
      tmp.cleanup();
    }
  });

  it('a malformed EXIF block is ignored, not fatal', () => {
    const bad = exifApp1(6, true);
    bad[10] = 0x58; // breaks the "II" byte-order mark
    const img = decodeImage(insertAfterSoi(base, bad), 'badexif.jpg');
    expect([img.width, img.height]).toEqual([JW, JH]);
  });
});

describe('bad files are DataErrors naming the file', () => {
  const tmp = makeTmp('bad');
  afterAll(() => tmp.cleanup());
  const png = encodePng({ width: 16, height: 16, channels: 3, data: Float32Array.from({ length: 768 }, (_, i) => i % 256) });

  it('missing file', () => {
    const p = join(tmp.dir, 'nope.png');
    expectDataError(() => readImage(p), p, /cannot read/);
  });
  it('empty file', () => {
    const p = join(tmp.dir, 'empty.png');
    writeFileSync(p, '');
    expectDataError(() => readImage(p), p, /empty/);
  });
  it('corrupt PNG (a flipped byte in the image data)', () => {
    const p = join(tmp.dir, 'corrupt.png');
    const b = Buffer.from(png);
    b[50] = b[50]! ^ 0xff;
    writeFileSync(p, b);
    expectDataError(() => readImage(p), p, /corrupt or truncated PNG/);
  });
  it('truncated PNG', () => {
    const p = join(tmp.dir, 'trunc.png');
    writeFileSync(p, png.subarray(0, png.length - 20));
    expectDataError(() => readImage(p), p, /corrupt or truncated PNG/);
  });
  it('truncated JPEG', () => {
    const p = join(tmp.dir, 'trunc.jpg');
    const j = jpeg.encode({ width: 16, height: 16, data: new Uint8Array(1024).fill(90) }, 90).data;
    writeFileSync(p, j.subarray(0, Math.floor(j.length * 0.6)));
    expectDataError(() => readImage(p), p, /corrupt or truncated JPEG/);
  });
  it('GIF is unsupported (recognised by content, whatever the name)', () => {
    const p = join(tmp.dir, 'anim.gif');
    writeFileSync(p, Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.alloc(20)]));
    expectDataError(() => readImage(p), p, /unsupported format: GIF/);
    const disguised = join(tmp.dir, 'disguised.png');
    writeFileSync(disguised, readFileSync(p));
    expectDataError(() => readImage(disguised), disguised, /unsupported format: GIF/);
  });
  it('text file is unsupported', () => {
    const p = join(tmp.dir, 'notes.txt');
    writeFileSync(p, 'hello, not an image');
    expectDataError(() => readImage(p), p, /unsupported format: not a PNG or JPEG/);
    expectDataError(() => readImageSize(p), p, /unsupported format/);
  });
  it('truncated PNG header', () => {
    const p = join(tmp.dir, 'head.png');
    writeFileSync(p, png.subarray(0, 14));
    expectDataError(() => readImageSize(p), p, /truncated PNG/);
  });
});

describe('real data: alphamatting.com low-res (palette trimaps, RGB alphas)', () => {
  it('decodes a palette trimap to exactly 0/128/255 and an RGB alpha to 0..255', (ctx) => {
    const dir = alphamattingDir(ctx);
    const tri = readImage(join(dir, 'trimap', 'GT01.png'));
    expect([tri.width, tri.height]).toEqual([800, 497]);
    const values = new Set<number>();
    for (let i = 0; i < tri.data.length; i += tri.channels) values.add(tri.data[i]!);
    expect([...values].sort((a, b) => a - b)).toEqual([0, 128, 255]);
    const alpha = readGrey(join(dir, 'alpha', 'GT08.png'));
    expect([alpha.width, alpha.height]).toEqual([647, 800]);
    let fractional = 0;
    for (const v of alpha.data) if (v > 0 && v < 255) fractional++;
    expect(fractional).toBeGreaterThan(1000);
    expect(readImageSize(join(dir, 'image', 'GT08.png'))).toEqual({ width: 647, height: 800, format: 'png' });
  });
});
