import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Batch } from '../../matting/data/augment.ts';
import { DataError } from '../../matting/data/errors.ts';
import { DataLoader } from '../../matting/data/loader.ts';
import { generateSyntheticDataset } from '../../matting/data/synthetic-files.ts';
import { openTrainingSet, type TrainingSet } from '../../matting/data/training-set.ts';
import { makeTmp } from './helpers.ts';

const tmp = makeTmp('loader');
let set: TrainingSet;
let trainDir: string;

beforeAll(() => {
  trainDir = generateSyntheticDataset(join(tmp.dir, 'ds'), { train: 5, eval: 0, size: 96, seed: 21, backgrounds: 3 }).trainDir;
  set = openTrainingSet(trainDir);
});
afterAll(() => tmp.cleanup());

const fields = ['image', 'trimap', 'alpha', 'fg', 'bg'] as const;
function sameBatch(a: Batch, b: Batch): boolean {
  return a.n === b.n && a.size === b.size && fields.every((f) => a[f].length === b[f].length && a[f].every((v, i) => v === b[f][i]));
}

describe('DataLoader, in-process (workers: 0)', () => {
  const opts = { batchSize: 2, size: 40, seed: 7 };

  it('batch shapes and epoch length (last batch wraps, never short)', async () => {
    const L = new DataLoader(set, opts);
    expect(L.batchesPerEpoch).toBe(3);
    const b = await L.next();
    expect([b.n, b.size, b.epoch, b.index]).toEqual([2, 40, 0, 0]);
    expect([b.image.length, b.trimap.length, b.alpha.length, b.fg.length, b.bg.length]).toEqual([2 * 3 * 1600, 2 * 1600, 2 * 1600, 2 * 3 * 1600, 2 * 3 * 1600]);
    await L.next();
    const last = await L.next();
    expect([last.epoch, last.index, last.n]).toEqual([0, 2, 2]);
    const nextEpoch = await L.next();
    expect([nextEpoch.epoch, nextEpoch.index]).toEqual([1, 0]);
    await L.close();
  });

  it('same seed -> identical batches; different seed or epoch -> different', async () => {
    const a = new DataLoader(set, opts);
    const b = new DataLoader(set, opts);
    const c = new DataLoader(set, { ...opts, seed: 8 });
    for (let i = 0; i < 4; i++) {
      const [x, y, z] = [await a.next(), await b.next(), await c.next()];
      expect(sameBatch(x, y)).toBe(true);
      expect(sameBatch(x, z)).toBe(false);
    }
    expect(sameBatch(a.batchSync(0, 1), a.batchSync(1, 1))).toBe(false);
    expect(sameBatch(a.batchSync(3, 2), b.batchSync(3, 2))).toBe(true);
  });

  it('each epoch visits every item once (shuffled) when samplesPerEpoch = items', () => {
    const L = new DataLoader(set, { batchSize: 5, size: 24, seed: 3, augment: { cropScales: [1] } });
    // Distinct items give distinct fg crops; with 5 items, 1 batch of 5 should hold no duplicate.
    const b = L.batchSync(0, 0);
    const P = 3 * 24 * 24;
    const sums = Array.from({ length: 5 }, (_, i) => b.fg.subarray(i * P, (i + 1) * P).reduce((s, v) => s + v, 0));
    expect(new Set(sums.map((s) => s.toFixed(3))).size).toBe(5);
  });

  it('synthetic source: deterministic, no files', async () => {
    const a = new DataLoader({ kind: 'synthetic', count: 4 }, { batchSize: 2, size: 32, seed: 1 });
    const b = new DataLoader({ kind: 'synthetic', count: 4 }, { batchSize: 2, size: 32, seed: 1 });
    expect(a.batchesPerEpoch).toBe(2);
    const x = await a.next();
    expect(sameBatch(x, await b.next())).toBe(true);
    expect(x.trimap.includes(128)).toBe(true);
  });

  it('a corrupt file: DataError naming it; with skipBad, replaced and reported once', async () => {
    const d = join(tmp.dir, 'corrupt');
    cpSync(trainDir, d, { recursive: true });
    const bad = join(d, 'fg', 'syn_0002.png');
    const bytes = readFileSync(bad);
    writeFileSync(bad, bytes.subarray(0, bytes.length - 40));
    const strict = new DataLoader(openTrainingSet(d), { batchSize: 5, size: 24, seed: 0 });
    await expect(strict.next()).rejects.toThrow(DataError);
    await expect(strict.next()).rejects.toThrow(bad);
    const warnings: string[] = [];
    const lenient = new DataLoader(openTrainingSet(d, { skipBad: true }), { batchSize: 5, size: 24, seed: 0, warn: (m) => warnings.push(m) });
    const b1 = await lenient.next();
    await lenient.next();
    expect(b1.n).toBe(5);
    expect(lenient.skipped.map((s) => s.file)).toEqual([bad]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(bad);
  });
});

describe('DataLoader with worker threads', () => {
  it('gives the same batches as the in-process path, in order, across epochs and after seek', async () => {
    const opts = { batchSize: 2, size: 40, seed: 5, prefetch: 3 };
    const inProc = new DataLoader(set, opts);
    const pool = new DataLoader(set, { ...opts, workers: 2 });
    try {
      for (let k = 0; k < 5; k++) {
        const got = await pool.next();
        const [e, i] = [Math.floor(k / 3), k % 3];
        expect([got.epoch, got.index]).toEqual([e, i]);
        expect(sameBatch(got, inProc.batchSync(e, i))).toBe(true);
      }
      pool.seek(7, 1);
      const after = await pool.next();
      expect([after.epoch, after.index]).toEqual([7, 1]);
      expect(sameBatch(after, inProc.batchSync(7, 1))).toBe(true);
      const epoch2: Batch[] = [];
      for await (const b of pool.epoch(2)) epoch2.push(b);
      expect(epoch2).toHaveLength(3);
      epoch2.forEach((b, i) => expect(sameBatch(b, inProc.batchSync(2, i))).toBe(true));
    } finally {
      await pool.close();
    }
    await expect(pool.next()).rejects.toThrow(/closed/);
  });

  it('worker errors arrive as DataErrors; skipBad warnings are reported once', async () => {
    const d = join(tmp.dir, 'corrupt-w');
    cpSync(trainDir, d, { recursive: true });
    const bad = join(d, 'bg', 'bg_0001.png');
    writeFileSync(bad, readFileSync(bad).subarray(0, 100));
    const strict = new DataLoader(openTrainingSet(d), { batchSize: 5, size: 24, seed: 0, workers: 1 });
    const warnings: string[] = [];
    const lenient = new DataLoader(openTrainingSet(d, { skipBad: true }), { batchSize: 5, size: 24, seed: 0, workers: 2, warn: (m) => warnings.push(m) });
    try {
      const outcomes = await Promise.allSettled([strict.next(), strict.next(), strict.next()]);
      const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(rejected.length).toBeGreaterThan(0);
      for (const r of rejected) {
        expect(r.reason).toBeInstanceOf(DataError);
        expect((r.reason as DataError).file).toBe(bad);
      }
      const inProc = new DataLoader(openTrainingSet(d, { skipBad: true }), { batchSize: 5, size: 24, seed: 0, warn: () => {} });
      for (let k = 0; k < 3; k++) expect(sameBatch(await lenient.next(), inProc.batchSync(k, 0))).toBe(true);
      expect(warnings).toEqual([`skipping ${bad}: ${lenient.skipped[0]!.problem}`]);
    } finally {
      await Promise.all([strict.close(), lenient.close()]);
    }
  });
});

describe('decoded-image cache', () => {
  it('does not change batches; hits return the same arrays; a tiny limit evicts', () => {
    const cached = openTrainingSet(trainDir);
    const uncached = openTrainingSet(trainDir, { cacheMB: 0 });
    expect(cached.cacheMB).toBe(256);
    const a = new DataLoader(cached, { batchSize: 2, size: 24, seed: 4 });
    const b = new DataLoader(uncached, { batchSize: 2, size: 24, seed: 4 });
    for (let e = 0; e < 3; e++) for (let i = 0; i < a.batchesPerEpoch; i++) expect(sameBatch(a.batchSync(e, i), b.batchSync(e, i))).toBe(true);
    expect(cached.loadPair(1)).toBe(cached.loadPair(1));
    expect(uncached.loadPair(1)).not.toBe(uncached.loadPair(1));
    // One 96x96 pair is 96*96*16 bytes (RGB + alpha floats) ~ 0.14 MB: a 0.2 MB cache holds one.
    const tiny = openTrainingSet(trainDir, { cacheMB: 0.2 });
    const first = tiny.loadPair(0);
    expect(tiny.loadPair(0)).toBe(first);
    tiny.loadPair(1);
    expect(tiny.loadPair(0)).not.toBe(first);
  });

  it('DataLoader.fromFolder opens the folder with its options', () => {
    const L = DataLoader.fromFolder(trainDir, { batchSize: 5, size: 16, cacheMB: 0 });
    expect(L.batchesPerEpoch).toBe(1);
    expect(L.batchSync(0, 0).n).toBe(5);
  });
});
