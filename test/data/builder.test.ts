/**
 * The photographic training-data builder (matting/data/builder.ts): the validation images are never
 * read (their files here are garbage that any read would reject), the output is a training folder
 * that openTrainingSet accepts, real foregrounds keep their alpha and their opaque colours, pure-
 * background crops hold no foreground pixel, and two builds with one seed give identical bytes.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { useEngine } from '../helpers/gpu.ts';
import { makeTmp } from './helpers.ts';
import { ALPHAMATTING_VALIDATION, buildTrainingData, knownBackgroundWindows } from '../../matting/data/builder.ts';
import { openTrainingSet } from '../../matting/data/training-set.ts';
import { readImage, writePng } from '../../matting/data/image-io.ts';
import { Rng } from '../../matting/data/rng.ts';
import { Trainer, type TrainOptions } from '../../matting/train/trainer.ts';
import { makeConfig } from '../../matting/graph/config.ts';

useEngine();

const W = 48, H = 40;

/** An alphamatting-layout folder: two usable images and the four validation names as garbage files. */
function sourceFolder(root: string): string {
  const from = join(root, 'src');
  for (const sub of ['image', 'alpha', 'trimap']) mkdirSync(join(from, sub), { recursive: true });
  for (const [k, name] of ['GT01', 'GT05'].entries()) {
    const img = new Float32Array(W * H * 3);
    const alpha = new Float32Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const i = y * W + x;
      // alpha: 1 in a disc, a soft ramp around it, 0 outside; colours: fg red-ish, bg blue-ish
      const r = Math.hypot(x - 20 - 4 * k, y - 18);
      const a = Math.min(1, Math.max(0, (14 - r) / 4));
      alpha[i] = Math.round(a * 255);
      const F = [200, 60 + x, 40], B = [30, 80, 180 - y];
      for (let c = 0; c < 3; c++) img[i * 3 + c] = Math.round((a * F[c]! + (1 - a) * B[c]!));
    }
    writePng(join(from, 'image', `${name}.png`), { width: W, height: H, channels: 3, data: img });
    writePng(join(from, 'alpha', `${name}.png`), { width: W, height: H, channels: 1, data: alpha });
    writePng(join(from, 'trimap', `${name}.png`), { width: W, height: H, channels: 1, data: alpha.map((v) => (v === 0 ? 0 : v === 255 ? 255 : 128)) });
  }
  for (const name of ALPHAMATTING_VALIDATION) for (const sub of ['image', 'alpha', 'trimap']) writeFileSync(join(from, sub, `${name}.png`), 'not a png: reading this file is a bug');
  return from;
}

function photoFolder(root: string): string {
  const dir = join(root, 'photos');
  mkdirSync(dir);
  const d = new Float32Array(90 * 70 * 3);
  for (let i = 0; i < 90 * 70; i++) for (let c = 0; c < 3; c++) d[i * 3 + c] = (i * (c + 3) * 7) % 256;
  writePng(join(dir, 'p1.png'), { width: 90, height: 70, channels: 3, data: d });
  return dir;
}

describe('build-data', () => {
  it('never reads the validation images, writes a training folder, and is deterministic', async () => {
    const tmp = makeTmp('builder');
    try {
      const from = sourceFolder(tmp.dir);
      const photos = photoFolder(tmp.dir);
      const opts = { from, photoDirs: [photos, join(tmp.dir, 'absent')], procedural: 3, proceduralSize: 64, knownBackgroundCrops: 2, maxSide: 64, seed: 5 };
      const r1 = await buildTrainingData({ ...opts, out: join(tmp.dir, 'a'), linkValidation: true });
      const r2 = await buildTrainingData({ ...opts, out: join(tmp.dir, 'b') });
      expect(r1.foregrounds).toEqual(['GT01', 'GT05']);
      expect(r1.excluded).toEqual(['GT02', 'GT08', 'GT14', 'GT25']);
      expect(r1.missingPhotoDirs).toEqual([join(tmp.dir, 'absent')]);
      const fgs = readdirSync(join(tmp.dir, 'a', 'fg')).sort();
      expect(fgs).toEqual(['GT01.png', 'GT05.png', 'proc-0000.png', 'proc-0001.png', 'proc-0002.png']);
      for (const f of ['fg', 'alpha', 'bg']) {
        const names = readdirSync(join(tmp.dir, 'a', f));
        expect(names.some((n) => ALPHAMATTING_VALIDATION.some((v) => n.includes(v))), `${f}/ holds a validation name`).toBe(false);
        for (const n of names) expect(readFileSync(join(tmp.dir, 'a', f, n)).equals(readFileSync(join(tmp.dir, 'b', f, n))), `${f}/${n} differs between builds`).toBe(true);
      }
      // the photo was shrunk to the long side 64
      const photo = readImage(join(tmp.dir, 'a', 'bg', 'photo-p1.png'));
      expect([photo.width, photo.height]).toEqual([64, 50]);
      // val/ links point at the excluded files (not copies)
      expect(lstatSync(join(tmp.dir, 'a', 'val', 'image', 'GT02.png')).isSymbolicLink()).toBe(true);
      expect(existsSync(join(tmp.dir, 'b', 'val'))).toBe(false);
      // the result is a valid training folder
      const set = openTrainingSet(join(tmp.dir, 'a'));
      expect(set.pairs.length).toBe(5);
      expect(set.backgrounds.length).toBe(1 + r1.knownBackgrounds);
      // the real alpha is copied exactly; opaque foreground pixels keep the image's colour
      const srcAlpha = readImage(join(from, 'alpha', 'GT01.png'));
      const outAlpha = readImage(join(tmp.dir, 'a', 'alpha', 'GT01.png'));
      expect(Array.from(outAlpha.data)).toEqual(Array.from(srcAlpha.data));
      const img = readImage(join(from, 'image', 'GT01.png'));
      const fg = readImage(join(tmp.dir, 'a', 'fg', 'GT01.png'));
      let worst = 0;
      for (let i = 0; i < W * H; i++) if (srcAlpha.data[i]! === 255) for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(fg.data[i * 3 + c]! - img.data[i * 3 + c]!));
      expect(worst).toBeLessThanOrEqual(1);
      const manifest = JSON.parse(readFileSync(join(tmp.dir, 'a', 'manifest.json'), 'utf8'));
      expect(manifest.exclude).toEqual(['GT02', 'GT08', 'GT14', 'GT25']);
      expect(manifest.seed).toBe(5);

      // Training on the built folder (the shipped model's kind of network, tiny) is deterministic:
      // the same seed gives the same losses, another seed other ones.
      const train = async (out: string, seed: number) => {
        const o: TrainOptions = {
          config: makeConfig({ encoder: 'vgg16-4ch', decoder: 'unet', refine: 'residual', inputs: 'normalised', inputSize: 32, width: 1 / 32, seed }),
          stage: 'encoder-decoder', batchSize: 2, lr: 1e-3, schedule: 'constant', warmupSteps: 0, steps: 3, seed,
          outDir: join(tmp.dir, out), data: { kind: 'folder', dir: join(tmp.dir, 'a'), skipBad: false }, workers: 0,
          augment: { trimapKernel: [3, 9] }, logEvery: 1, checkpointEvery: 100, valDir: null, valEvery: 0, valLimit: 0,
          resume: null, pretrained: null, clipNorm: 5, weightDecay: 0, onNonFinite: 'stop',
        };
        await new Trainer(o, () => {}).run();
        return readFileSync(join(tmp.dir, out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { total: number }).total);
      };
      const l1 = await train('t1', 3);
      expect(l1).toHaveLength(3);
      expect(l1.every(Number.isFinite)).toBe(true);
      expect(await train('t2', 3)).toEqual(l1);
      expect(await train('t3', 4)).not.toEqual(l1);
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses a non-empty output folder and a source with nothing left to train on', async () => {
    const tmp = makeTmp('builder-bad');
    try {
      const from = sourceFolder(tmp.dir);
      mkdirSync(join(tmp.dir, 'full'));
      writeFileSync(join(tmp.dir, 'full', 'x.txt'), 'keep me');
      await expect(buildTrainingData({ from, out: join(tmp.dir, 'full'), photoDirs: [] })).rejects.toThrow(/not empty/);
      expect(readFileSync(join(tmp.dir, 'full', 'x.txt'), 'utf8')).toBe('keep me');
      await expect(buildTrainingData({ from, out: join(tmp.dir, 'o'), photoDirs: [], exclude: ['GT01', 'GT05', ...ALPHAMATTING_VALIDATION] })).rejects.toThrow(/no image\/alpha pairs left/);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('knownBackgroundWindows', () => {
  it('returns only windows with no foreground pixel, and finds them when they exist', () => {
    const w = 300, h = 150;
    const alpha = new Float32Array(w * h);
    // foreground in the left half, one stray pixel in the right half
    for (let y = 0; y < h; y++) for (let x = 0; x < 100; x++) alpha[y * w + x] = 0.5;
    alpha[5 * w + 110] = 0.01;
    const wins = knownBackgroundWindows(alpha, w, h, 5, new Rng(3));
    expect(wins.length).toBeGreaterThan(0);
    for (const { x, y, side } of wins) {
      expect(x + side).toBeLessThanOrEqual(w);
      expect(y + side).toBeLessThanOrEqual(h);
      for (let yy = y; yy < y + side; yy++) for (let xx = x; xx < x + side; xx++) expect(alpha[yy * w + xx]).toBe(0);
    }
    expect(knownBackgroundWindows(new Float32Array(w * h).fill(1), w, h, 5, new Rng(3))).toEqual([]);
  });
});
