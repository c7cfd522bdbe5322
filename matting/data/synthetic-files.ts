/**
 * Node only: writes a synthetic dataset to disk in the Composition-1k / alphamatting.com folder
 * layouts, from the in-memory generators of synthetic.ts.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { composite, defaultTrimapKernel } from './augment.ts';
import { writePng } from './image-io.ts';
import { Rng, hashSeed } from './rng.ts';
import { syntheticBackground, syntheticForeground } from './synthetic.ts';
import { trimapFromAlpha } from './trimap.ts';

export interface SyntheticDatasetOptions {
  /** Number of training foregrounds (with alphas). */
  train: number;
  /** Number of evaluation images. */
  eval: number;
  /** Side of foregrounds and evaluation images in px. */
  size: number;
  seed: number;
  /** Number of training backgrounds; default = train. Their sides vary in [0.6, 1.4] x size. */
  backgrounds?: number;
  /** Evaluation trimap kernel range; default scaled [5, 25] for `size`. */
  trimapKernel?: readonly [number, number];
}

export interface SyntheticDatasetInfo {
  trainDir: string;
  evalDir: string;
  trainNames: string[];
  evalNames: string[];
}

const pad = (i: number): string => String(i).padStart(4, '0');

function planarToHwc(planes: Float32Array, n: number): Float32Array {
  const out = new Float32Array(3 * n);
  for (let p = 0; p < n; p++) {
    out[3 * p] = planes[p]!;
    out[3 * p + 1] = planes[n + p]!;
    out[3 * p + 2] = planes[2 * n + p]!;
  }
  return out;
}

/**
 * Writes dir/train/{fg,alpha,bg}/*.png (Composition-1k layout) and dir/eval/{image,trimap,alpha}/*.png
 * (alphamatting.com layout, trimaps from the alpha by trimapFromAlpha with a seeded kernel). 8-bit
 * PNGs: alphas are quantised to 1/255, evaluation images are the composite rounded to 8 bits.
 */
export function generateSyntheticDataset(dir: string, o: SyntheticDatasetOptions): SyntheticDatasetInfo {
  const trainDir = join(dir, 'train');
  const evalDir = join(dir, 'eval');
  for (const d of ['fg', 'alpha', 'bg']) mkdirSync(join(trainDir, d), { recursive: true });
  for (const d of ['image', 'trimap', 'alpha']) mkdirSync(join(evalDir, d), { recursive: true });
  const S = o.size;
  const trainNames: string[] = [];
  for (let i = 0; i < o.train; i++) {
    const name = `syn_${pad(i)}`;
    const { fg, alpha } = syntheticForeground(hashSeed(o.seed, 1, i), S, S);
    writePng(join(trainDir, 'fg', `${name}.png`), fg);
    writePng(join(trainDir, 'alpha', `${name}.png`), { width: S, height: S, channels: 1, data: alpha.map((a) => a * 255) });
    trainNames.push(name);
  }
  const nBg = o.backgrounds ?? o.train;
  for (let j = 0; j < nBg; j++) {
    const rng = new Rng(hashSeed(o.seed, 2, j));
    const bw = Math.max(8, Math.round(S * rng.range(0.6, 1.4)));
    const bh = Math.max(8, Math.round(S * rng.range(0.6, 1.4)));
    writePng(join(trainDir, 'bg', `bg_${pad(j)}.png`), syntheticBackground(hashSeed(o.seed, 3, j), bw, bh));
  }
  const [kMin, kMax] = o.trimapKernel ?? defaultTrimapKernel(S);
  const evalNames: string[] = [];
  for (let i = 0; i < o.eval; i++) {
    const name = `syn_e${pad(i)}`;
    const { fg, alpha } = syntheticForeground(hashSeed(o.seed, 4, i), S, S);
    const bg = syntheticBackground(hashSeed(o.seed, 5, i), S, S);
    const rng = new Rng(hashSeed(o.seed, 6, i));
    const n = S * S;
    // Quantise alpha first so the written trimap agrees with the written alpha.
    const a8 = alpha.map((a) => Math.round(a * 255) / 255);
    const fgPlanes = new Float32Array(3 * n);
    const bgPlanes = new Float32Array(3 * n);
    for (let p = 0; p < n; p++) {
      for (let c = 0; c < 3; c++) {
        fgPlanes[c * n + p] = fg.data[3 * p + c]!;
        bgPlanes[c * n + p] = bg.data[3 * p + c]!;
      }
    }
    const image = composite(a8, fgPlanes, bgPlanes);
    const trimap = trimapFromAlpha(a8, S, S, rng.int(kMin, kMax));
    writePng(join(evalDir, 'image', `${name}.png`), { width: S, height: S, channels: 3, data: planarToHwc(image, n) });
    writePng(join(evalDir, 'trimap', `${name}.png`), { width: S, height: S, channels: 1, data: trimap });
    writePng(join(evalDir, 'alpha', `${name}.png`), { width: S, height: S, channels: 1, data: a8.map((a) => a * 255) });
    evalNames.push(name);
  }
  return { trainDir, evalDir, trainNames, evalNames };
}
