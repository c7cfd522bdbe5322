import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { allMetrics, type AlphaImage } from '../../matting/metrics/index.ts';
import { ALPHAMATTING } from '../data/helpers.ts';

// Evaluation-only data, never committed (see its SOURCES.md); where it is looked for: test/data/helpers.ts.
const DATA_DIR = ALPHAMATTING;

// Channel 0 of the decoded RGBA: trimaps are palette PNGs, alphas RGB with R = G = B.
function readGrey(path: string): AlphaImage {
  const png = PNG.sync.read(readFileSync(path));
  const data = new Uint8Array(png.width * png.height);
  for (let i = 0; i < data.length; i++) data[i] = png.data[4 * i]!;
  return { width: png.width, height: png.height, data };
}

describe('metrics on real data (alphamatting.com GT01)', () => {
  it('trimap-only baseline (alpha = 128 in the unknown region) gives finite positive metrics', (ctx) => {
    const trimapPath = join(DATA_DIR, 'trimap', 'GT01.png');
    const alphaPath = join(DATA_DIR, 'alpha', 'GT01.png');
    // Reported as skipped, with the reason, when the data is absent (never as a pass).
    if (!existsSync(trimapPath) || !existsSync(alphaPath)) ctx.skip(`real data absent: ${DATA_DIR} not found`);
    const trimap = readGrey(trimapPath);
    const gt = readGrey(alphaPath);
    expect([trimap.width, trimap.height]).toEqual([800, 497]);
    expect([gt.width, gt.height]).toEqual([800, 497]);
    // The trimap is exactly 0 / 128 / 255, so the baseline prediction is the trimap itself.
    const values = new Set(Array.from(trimap.data));
    expect([...values].sort((a, b) => a - b)).toEqual([0, 128, 255]);
    const baseline: AlphaImage = { width: trimap.width, height: trimap.height, data: trimap.data };

    const m = allMetrics(baseline, gt, trimap);
    // SOURCES.md: 9.7% of the 800 x 497 pixels are unknown in Trimap1.
    expect(m.unknownPixels / (800 * 497)).toBeGreaterThan(0.0965);
    expect(m.unknownPixels / (800 * 497)).toBeLessThan(0.0975);
    for (const key of ['sad', 'mse', 'grad', 'conn'] as const) {
      expect(Number.isFinite(m[key]), key).toBe(true);
      expect(m[key], key).toBeGreaterThan(0);
    }
    // Loose plausibility: per-pixel SAD and MSE of a constant 0.5 guess lie in (0, 0.5] and (0, 0.25].
    expect((m.sad * 1000) / m.unknownPixels).toBeLessThanOrEqual(0.5);
    expect(m.mse).toBeLessThanOrEqual(0.25);
    console.log(`GT01 Trimap1 baseline: ${JSON.stringify(m)}`);
  });
});
