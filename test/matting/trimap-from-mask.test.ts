import { describe, expect, it } from 'vitest';
import { squaredDistanceTransform, trimapFromMask, bandPixels, trimapRegions } from '../../matting/trimap-from-mask.ts';

/** Brute-force squared distance to the nearest target pixel (the independent reference). */
function bruteForce(target: Uint8Array, w: number, h: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let best = Infinity;
      for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) if (target[j * w + i]) best = Math.min(best, (x - i) ** 2 + (y - j) ** 2);
      out.push(best);
    }
  return out;
}

let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

describe('squaredDistanceTransform', () => {
  it('equals brute force on random masks of odd sizes', () => {
    for (const [w, h, p] of [[1, 1, 0.5], [7, 5, 0.1], [13, 9, 0.02], [16, 3, 0.5], [5, 17, 0.3]] as const) {
      const t = Uint8Array.from({ length: w * h }, () => (rand() < p ? 1 : 0));
      if (!t.some(Boolean)) t[Math.floor(w * h / 2)] = 1;
      expect(Array.from(squaredDistanceTransform(t, w, h)), `${w}x${h}`).toEqual(bruteForce(t, w, h));
    }
  });
  it('is Infinity everywhere without a target pixel', () => {
    expect(Array.from(squaredDistanceTransform(new Uint8Array(6), 3, 2)).every((v) => v === Infinity)).toBe(true);
  });
});

describe('trimapFromMask', () => {
  // A 60x40 mask whose left 25 columns are foreground: one straight vertical edge between x = 24 and x = 25.
  const w = 60, h = 40;
  const half = Float32Array.from({ length: w * h }, (_, i) => (i % w < 25 ? 1 : 0));

  it('makes an unknown band of exactly --band pixels across a straight edge, split floor/ceil', () => {
    for (const band of [1, 2, 7, 20]) {
      const t = trimapFromMask(half, w, h, { band });
      for (let y = 0; y < h; y += 13) {
        const row = Array.from(t.slice(y * w, y * w + w));
        const unknown = row.map((v, x) => (v === 128 ? x : -1)).filter((x) => x >= 0);
        expect(unknown.length, `band ${band}`).toBe(band);
        expect(unknown[0], `band ${band}`).toBe(25 - Math.floor(band / 2));
        expect(unknown.at(-1), `band ${band}`).toBe(24 + Math.ceil(band / 2));
        expect(row.slice(0, unknown[0]!).every((v) => v === 255)).toBe(true);
        expect(row.slice(unknown.at(-1)! + 1).every((v) => v === 0)).toBe(true);
      }
    }
  });

  it('keeps the band as wide along a diagonal as along an axis (Euclidean, not a square window)', () => {
    const n = 101, c = 50, r = 30;
    const disc = Float32Array.from({ length: n * n }, (_, i) => ((i % n) - c) ** 2 + (Math.floor(i / n) - c) ** 2 <= r * r ? 1 : 0);
    const t = trimapFromMask(disc, n, n, { band: 10 });
    const run = (dx: number, dy: number) => {
      let count = 0;
      for (let s = 0; s < 60; s++) {
        const x = Math.round(c + dx * s), y = Math.round(c + dy * s);
        if (x >= 0 && y >= 0 && x < n && y < n && t[y * n + x] === 128) count++;
      }
      return count * Math.hypot(dx, dy);
    };
    const axis = run(1, 0);
    const diagonal = run(Math.SQRT1_2, Math.SQRT1_2);
    expect(axis).toBeCloseTo(10, 0);
    expect(Math.abs(diagonal - axis)).toBeLessThanOrEqual(1.5);
  });

  it('thresholds a rough alpha at 0.5 and keeps its soft pixels unknown', () => {
    const m = new Float32Array(w * h).fill(0);
    for (let i = 0; i < w * h; i++) if (i % w < 10) m[i] = 0.9; // 0.9 >= 0.5: foreground, but soft
    m[5 * w + 50] = 0.3; // an isolated soft background pixel far from the edge
    const t = trimapFromMask(m, w, h, { band: 2 });
    expect(t[5 * w + 50]).toBe(128);
    expect(t[5 * w + 2]).toBe(128); // soft foreground
    expect(trimapFromMask(m, w, h, { band: 2, soft: false })[5 * w + 2]).toBe(255);
    expect(t[5 * w + 30]).toBe(0);
  });

  it('takes the band as a share of the shorter side, at least 2 px, and explicit inner/outer', () => {
    expect(bandPixels(800, 500, {})).toBe(15);
    expect(bandPixels(800, 500, { bandFraction: 0.1 })).toBe(50);
    expect(bandPixels(20, 20, {})).toBe(2);
    const t = trimapFromMask(half, w, h, { inner: 0, outer: 3 });
    expect(Array.from(t.slice(0, w)).filter((v) => v === 128).length).toBe(3);
    expect(t[24]).toBe(255);
    expect(trimapRegions(t)).toEqual({ fg: 25 * h, unknown: 3 * h, bg: 32 * h });
  });
});
