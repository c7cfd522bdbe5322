import { describe, expect, it, afterAll } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readGrey, readImage } from '../../matting/data/image-io.ts';
import { syntheticBackground, syntheticForeground, syntheticSample } from '../../matting/data/synthetic.ts';
import { generateSyntheticDataset } from '../../matting/data/synthetic-files.ts';
import { makeTmp } from './helpers.ts';

describe('synthetic foregrounds', () => {
  it('are deterministic per seed and differ between seeds', () => {
    const a = syntheticForeground(5, 80, 64);
    const b = syntheticForeground(5, 80, 64);
    const c = syntheticForeground(6, 80, 64);
    expect(b).toEqual(a);
    expect(c.alpha).not.toEqual(a.alpha);
  });

  it('have opaque, transparent and fractional regions, including thin strands', () => {
    let withThinStructures = 0;
    for (let seed = 0; seed < 8; seed++) {
      const S = 160;
      const { fg, alpha } = syntheticForeground(seed, S, S);
      let zero = 0;
      let one = 0;
      let frac = 0;
      for (const a of alpha) {
        if (a === 0) zero++;
        else if (a === 1) one++;
        else frac++;
      }
      expect(zero).toBeGreaterThan(0.2 * S * S);
      expect(one).toBeGreaterThan(0.03 * S * S);
      expect(frac).toBeGreaterThan(0.01 * S * S);
      expect(fg.data.every((v) => v >= 0 && v <= 255)).toBe(true);
      // A strand: a fractional pixel whose left and right neighbours are both transparent, or
      // both lower: a 1-2 px wide line rather than an edge ramp.
      let thin = 0;
      for (let y = 0; y < S; y++) {
        for (let x = 2; x < S - 2; x++) {
          const a = alpha[y * S + x]!;
          if (a > 0 && a < 1 && alpha[y * S + x - 2] === 0 && alpha[y * S + x + 2] === 0) thin++;
        }
      }
      if (thin > 10) withThinStructures++;
    }
    expect(withThinStructures).toBeGreaterThanOrEqual(6);
  });

  it('backgrounds are colourful (not grey, not flat)', () => {
    const bg = syntheticBackground(3, 64, 48);
    expect([bg.width, bg.height, bg.channels]).toEqual([64, 48, 3]);
    let chroma = 0;
    for (let i = 0; i < 64 * 48; i++) chroma += Math.max(bg.data[3 * i]!, bg.data[3 * i + 1]!, bg.data[3 * i + 2]!) - Math.min(bg.data[3 * i]!, bg.data[3 * i + 1]!, bg.data[3 * i + 2]!);
    expect(chroma / (64 * 48)).toBeGreaterThan(10);
  });
});

describe('syntheticSample', () => {
  it('is a valid Sample, deterministic, and fast at 320x320', () => {
    const a = syntheticSample(1, 320);
    expect(a.size).toBe(320);
    expect(a.image).toHaveLength(3 * 320 * 320);
    expect(a.trimap.includes(128) && a.trimap.includes(0) && a.trimap.includes(255)).toBe(true);
    const b = syntheticSample(1, 320);
    for (const f of ['image', 'trimap', 'alpha', 'fg', 'bg'] as const) expect(b[f].every((v, i) => v === a[f][i])).toBe(true);
    const times: number[] = [];
    for (let seed = 10; seed < 15; seed++) {
      const t = performance.now();
      syntheticSample(seed, 320);
      times.push(performance.now() - t);
    }
    times.sort((x, y) => x - y);
    console.log(`syntheticSample 320x320: median ${times[2]!.toFixed(1)} ms`);
    // "Well under 100 ms" on an idle core; a generous bound so a busy shared machine does not flake.
    expect(times[2]).toBeLessThan(250);
  });

  it('augmentSeed changes flip/trimap but not the scene', () => {
    const a = syntheticSample(4, 48, { augmentSeed: 1 });
    const b = syntheticSample(4, 48, { augmentSeed: 2, trimapKernel: [1, 1] });
    // trimap [1,1]: unknown exactly where 0 < alpha < 1
    b.alpha.forEach((v, p) => expect(b.trimap[p]).toBe(v === 0 ? 0 : v === 1 ? 255 : 128));
    const sum = (x: Float32Array): number => x.reduce((s, v) => s + v, 0);
    expect(sum(b.alpha)).toBeCloseTo(sum(a.alpha), 2);
  });
});

describe('generateSyntheticDataset', () => {
  const tmp = makeTmp('syn');
  afterAll(() => tmp.cleanup());

  it('writes both layouts, readable, with consistent eval trimaps', () => {
    const info = generateSyntheticDataset(tmp.dir, { train: 3, eval: 2, size: 64, seed: 9, backgrounds: 2 });
    expect(readdirSync(join(tmp.dir, 'train', 'fg'))).toEqual(['syn_0000.png', 'syn_0001.png', 'syn_0002.png']);
    expect(readdirSync(join(tmp.dir, 'train', 'alpha'))).toHaveLength(3);
    expect(readdirSync(join(tmp.dir, 'train', 'bg'))).toEqual(['bg_0000.png', 'bg_0001.png']);
    for (const d of ['image', 'trimap', 'alpha']) expect(readdirSync(join(tmp.dir, 'eval', d))).toEqual(['syn_e0000.png', 'syn_e0001.png']);
    expect(info.evalNames).toEqual(['syn_e0000', 'syn_e0001']);
    expect(readImage(join(info.trainDir, 'fg', 'syn_0001.png')).channels).toBe(3);
    expect(readImage(join(info.trainDir, 'alpha', 'syn_0001.png')).channels).toBe(1);
    const alpha = readGrey(join(info.evalDir, 'alpha', 'syn_e0001.png')).data;
    const trimap = readGrey(join(info.evalDir, 'trimap', 'syn_e0001.png')).data;
    expect(new Set(trimap)).toEqual(new Set([0, 128, 255]));
    alpha.forEach((a, p) => {
      if (a > 0 && a < 255) expect(trimap[p]).toBe(128);
      if (trimap[p] === 0) expect(a).toBe(0);
      if (trimap[p] === 255) expect(a).toBe(255);
    });
    // Same seed, same files.
    const again = makeTmp('syn2');
    try {
      generateSyntheticDataset(again.dir, { train: 1, eval: 1, size: 64, seed: 9, backgrounds: 1 });
      expect(readImage(join(again.dir, 'train', 'fg', 'syn_0000.png'))).toEqual(readImage(join(info.trainDir, 'fg', 'syn_0000.png')));
      expect(existsSync(join(again.dir, 'eval', 'trimap', 'syn_e0000.png'))).toBe(true);
    } finally {
      again.cleanup();
    }
  });
});
