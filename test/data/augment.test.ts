import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { augmentSample, composite, planCrop, resolveAugmentOptions, stackSamples, type Sample } from '../../matting/data/augment.ts';
import { readGrey, readImage, toRgb, type Image } from '../../matting/data/image-io.ts';
import { Rng, hashSeed } from '../../matting/data/rng.ts';
import { trimapFromAlpha } from '../../matting/data/trimap.ts';
import { alphamattingDir } from './helpers.ts';

function noiseImage(seed: number, w: number, h: number): Image {
  const rng = new Rng(seed);
  return { width: w, height: h, channels: 3, data: Float32Array.from({ length: w * h * 3 }, () => rng.float() * 255) };
}

/** Alpha of a vertical straight edge at column `at`: 0 left of it, a linear ramp `ramp` px wide, then 1. */
function edgeAlpha(w: number, h: number, at: number, ramp: number): Float32Array {
  const a = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) a[y * w + x] = Math.min(1, Math.max(0, (x - at + 1) / (ramp + 1)));
  return a;
}

function countRow(values: Float32Array, S: number, y: number, pred: (v: number) => boolean): number {
  let n = 0;
  for (let x = 0; x < S; x++) if (pred(values[y * S + x]!)) n++;
  return n;
}

const isUnknownAlpha = (v: number): boolean => v > 0 && v < 1;

function checkSampleInvariants(s: Sample): void {
  const P = s.size * s.size;
  expect(s.image).toHaveLength(3 * P);
  expect(s.fg).toHaveLength(3 * P);
  expect(s.bg).toHaveLength(3 * P);
  expect(s.alpha).toHaveLength(P);
  expect(s.trimap).toHaveLength(P);
  let badTrimap = 0;
  let badAlpha = 0;
  let unknownOutsideBand = 0;
  for (let p = 0; p < P; p++) {
    const t = s.trimap[p]!;
    if (!(t === 0 || t === 128 || t === 255)) badTrimap++;
    const a = s.alpha[p]!;
    if (!(a >= 0 && a <= 1)) badAlpha++;
    if (isUnknownAlpha(a) && t !== 128) unknownOutsideBand++;
  }
  expect({ badTrimap, badAlpha, unknownOutsideBand }).toEqual({ badTrimap: 0, badAlpha: 0, unknownOutsideBand: 0 });
}

describe('composite', () => {
  it('equals an independent per-pixel computation exactly', () => {
    const rng = new Rng(3);
    const P = 37 * 23;
    const alpha = Float32Array.from({ length: P }, (_, i) => (i % 5 === 0 ? 0 : i % 7 === 0 ? 1 : rng.float()));
    const fg = Float32Array.from({ length: 3 * P }, () => rng.float() * 255);
    const bg = Float32Array.from({ length: 3 * P }, () => rng.float() * 255);
    const out = composite(alpha, fg, bg);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < P; p++) {
        const a = alpha[p]!;
        const want = Math.fround(a * fg[c * P + p]! + (1 - a) * bg[c * P + p]!);
        if (out[c * P + p] !== want) expect(out[c * P + p]).toBe(want);
      }
    }
  });

  it('a sample\'s image is exactly the composite of its own alpha, fg and bg', () => {
    const fg = noiseImage(1, 120, 100);
    const bg = noiseImage(2, 90, 140);
    const s = augmentSample(new Rng(4), fg, edgeAlpha(120, 100, 60, 4), bg, { size: 48 });
    const P = 48 * 48;
    let mismatches = 0;
    for (let i = 0; i < 3 * P; i++) {
      const a = s.alpha[i % P]!;
      if (s.image[i] !== Math.fround(a * s.fg[i]! + (1 - a) * s.bg[i]!)) mismatches++;
    }
    expect(mismatches).toBe(0);
  });
});

describe('trimapFromAlpha band width on a straight edge', () => {
  it.each([1, 2, 3, 4, 7, 10, 15])('hard edge, k=%i: band is k-1 px; 3 px ramp: k+2 px', (k) => {
    const w = 60;
    const h = 9;
    for (const ramp of [0, 3]) {
      const t = trimapFromAlpha(edgeAlpha(w, h, 30, ramp), w, h, k);
      for (let y = 0; y < h; y++) expect(countRow(t, w, y, (v) => v === 128)).toBe(ramp + k - 1);
      expect(t[0]).toBe(0);
      expect(t[w - 1]).toBe(255);
    }
  });

  it('horizontal edges behave the same (the kernel is square)', () => {
    const w = 9;
    const h = 60;
    const a = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) a[y * w + x] = y >= 30 ? 1 : 0;
    const t = trimapFromAlpha(a, w, h, 9);
    let band = 0;
    for (let y = 0; y < h; y++) if (t[y * w + 4] === 128) band++;
    expect(band).toBe(8);
  });

  it('rejects a bad kernel size', () => {
    expect(() => trimapFromAlpha(new Float32Array(4), 2, 2, 0)).toThrow(/kernel size/);
  });
});

describe('augmentSample', () => {
  const W = 300;
  const H = 260;
  const fg = noiseImage(10, W, H);
  const bg = noiseImage(11, 200, 180);

  it('trimap band widths stay in the requested kernel range (straight edge, all crop scales, flips)', () => {
    const alpha = edgeAlpha(W, H, 150, 2);
    const kMin = 3;
    const kMax = 11;
    const seen = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const s = augmentSample(new Rng(seed), fg, alpha, bg, { size: 64, trimapKernel: [kMin, kMax] });
      checkSampleInvariants(s);
      for (const y of [0, 31, 63]) {
        const band = countRow(s.trimap, 64, y, (v) => v === 128);
        const ramp = countRow(s.alpha, 64, y, isUnknownAlpha);
        const k = band - ramp + 1;
        expect(k).toBeGreaterThanOrEqual(kMin);
        expect(k).toBeLessThanOrEqual(kMax);
        seen.add(k);
      }
    }
    expect(seen.size).toBeGreaterThanOrEqual(5); // the kernel really is random
  });

  it('crops always contain unknown pixels when the alpha has any (small soft disc in a corner)', () => {
    const alpha = new Float32Array(W * H);
    for (let y = 0; y < 30; y++) for (let x = 0; x < 30; x++) alpha[y * W + x] = Math.min(1, Math.max(0, 6 - Math.hypot(x - 12, y - 12)));
    for (let seed = 0; seed < 30; seed++) {
      const s = augmentSample(new Rng(seed), fg, alpha, bg, { size: 64 });
      expect(s.alpha.some(isUnknownAlpha)).toBe(true);
      expect(s.trimap.includes(128)).toBe(true);
    }
  });

  it('... even a single unknown pixel in the far corner, at every crop scale', () => {
    const alpha = new Float32Array(W * H);
    alpha[(H - 1) * W + (W - 1)] = 0.5;
    alpha[100 * W + 3] = 1 / 255;
    for (let seed = 0; seed < 30; seed++) {
      const s = augmentSample(new Rng(seed), fg, alpha, bg, { size: 64 });
      expect(s.alpha.some(isUnknownAlpha)).toBe(true);
      expect(s.trimap.includes(128)).toBe(true);
    }
  });

  it('foreground smaller than the crop: the crop shrinks to fit (no padding)', () => {
    const w = 50;
    const h = 40;
    const small = noiseImage(5, w, h);
    const alpha = edgeAlpha(w, h, 25, 3);
    const plan = planCrop(new Rng(1), w, h, alpha, 10, 10, resolveAugmentOptions({ size: 64 }));
    expect(plan.crop).toBe(40);
    expect(plan.x0 >= 0 && plan.x0 + plan.crop <= w && plan.y0 === 0).toBe(true);
    for (let seed = 0; seed < 10; seed++) {
      const s = augmentSample(new Rng(seed), small, alpha, noiseImage(6, 10, 12), { size: 64 });
      checkSampleInvariants(s);
      expect(s.alpha.some(isUnknownAlpha)).toBe(true);
      expect(s.alpha.includes(0) && s.alpha.includes(1)).toBe(true);
    }
  });

  it('backgrounds are scaled up to cover a larger foreground, and sampled in range', () => {
    const tiny = noiseImage(7, 17, 9);
    const s = augmentSample(new Rng(2), fg, edgeAlpha(W, H, 150, 2), tiny, { size: 64 });
    const lo = Math.min(...tiny.data);
    const hi = Math.max(...tiny.data);
    expect(s.bg.every((v) => v >= lo - 1e-3 && v <= hi + 1e-3)).toBe(true);
    const plan = planCrop(new Rng(2), W, H, edgeAlpha(W, H, 150, 2), 17, 9, resolveAugmentOptions({ size: 64 }));
    expect(plan.bgScale).toBeCloseTo(H / 9, 10);
  });

  it('crop sides are size, 1.5*size, 2*size; flips happen about half the time; none with flip: false', () => {
    const alpha = edgeAlpha(W, H, 150, 2);
    const o = resolveAugmentOptions({ size: 64 });
    const crops = new Set<number>();
    let flips = 0;
    for (let seed = 0; seed < 60; seed++) {
      const p = planCrop(new Rng(seed), W, H, alpha, 200, 180, o);
      crops.add(p.crop);
      if (p.flip) flips++;
      expect(p.centre).not.toBeNull();
      expect(p.centre!.x >= p.x0 && p.centre!.x < p.x0 + p.crop && p.centre!.y >= p.y0 && p.centre!.y < p.y0 + p.crop).toBe(true);
    }
    expect([...crops].sort((a, b) => a - b)).toEqual([64, 96, 128]);
    expect(flips).toBeGreaterThan(15);
    expect(flips).toBeLessThan(45);
    const noFlip = resolveAugmentOptions({ size: 64, flip: false });
    for (let seed = 0; seed < 20; seed++) expect(planCrop(new Rng(seed), W, H, alpha, 200, 180, noFlip).flip).toBe(false);
  });

  it('a flip mirrors the sample: same seed with and without flip', () => {
    // With cropScales [1] and a centred crop, flipping is the only difference between the two.
    const alpha = edgeAlpha(W, H, 150, 2);
    let checked = 0;
    for (let seed = 0; seed < 10 && checked < 2; seed++) {
      const o = { size: 64, cropScales: [1] };
      const flipped = augmentSample(new Rng(seed), fg, alpha, bg, o);
      if (!planCrop(new Rng(seed), W, H, alpha, bg.width, bg.height, resolveAugmentOptions(o)).flip) continue;
      const plain = augmentSample(new Rng(seed), fg, alpha, bg, { ...o, flip: false });
      for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) expect(flipped.alpha[y * 64 + x]).toBe(plain.alpha[y * 64 + 63 - x]);
      checked++;
    }
    expect(checked).toBe(2);
  });

  it('same seed -> identical sample; different seed -> different', () => {
    const alpha = edgeAlpha(W, H, 150, 2);
    const a = augmentSample(new Rng(hashSeed(9, 0, 3)), fg, alpha, bg, { size: 32 });
    const b = augmentSample(new Rng(hashSeed(9, 0, 3)), fg, alpha, bg, { size: 32 });
    const c = augmentSample(new Rng(hashSeed(9, 0, 4)), fg, alpha, bg, { size: 32 });
    expect(b).toEqual(a);
    expect(c.image).not.toEqual(a.image);
  });

  it('stackSamples concatenates NCHW', () => {
    const alpha = edgeAlpha(W, H, 150, 2);
    const s0 = augmentSample(new Rng(1), fg, alpha, bg, { size: 16 });
    const s1 = augmentSample(new Rng(2), fg, alpha, bg, { size: 16 });
    const b = stackSamples([s0, s1]);
    expect([b.n, b.size, b.image.length, b.trimap.length]).toEqual([2, 16, 2 * 3 * 256, 2 * 256]);
    expect(Array.from(b.image.subarray(3 * 256))).toEqual(Array.from(s1.image));
    expect(Array.from(b.alpha.subarray(0, 256))).toEqual(Array.from(s0.alpha));
  });

  it('real data: crops of an alphamatting.com matte at size 320 hold unknown pixels', (ctx) => {
    const dir = alphamattingDir(ctx);
    const realFg = toRgb(readImage(join(dir, 'image', 'GT05.png')));
    const realAlpha = readGrey(join(dir, 'alpha', 'GT05.png')).data.map((v) => v / 255);
    const realBg = toRgb(readImage(join(dir, 'image', 'GT19.png')));
    for (let seed = 0; seed < 3; seed++) {
      const s = augmentSample(new Rng(seed), realFg, realAlpha, realBg, { size: 320 });
      checkSampleInvariants(s);
      expect(s.alpha.some(isUnknownAlpha)).toBe(true);
    }
  });
});
