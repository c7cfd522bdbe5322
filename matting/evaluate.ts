/**
 * Scoring alphas on an alphamatting.com-style set with the four metrics of matting/metrics
 * (MATLAB-exact; see matting/metrics/README.md): from a model, or from predicted alpha PNGs.
 */
import { allMetrics } from './metrics/index.ts';
import type { EvalSet, EvalSample } from './data/eval-set.ts';
import type { MattingModel } from './graph/model.ts';
import { predictAlpha, type PredictOptions } from './inference.ts';

export interface ImageScore {
  name: string;
  sad: number;
  mse: number;
  grad: number;
  conn: number;
  unknownPixels: number;
}

export interface EvalSummary {
  images: ImageScore[];
  mean: { sad: number; mse: number; grad: number; conn: number };
}

/** Alpha 0..1 -> 0..255 as the benchmark stores predictions (8-bit PNGs). */
export function toByteScale(alpha01: Float32Array, quantise = true): Float32Array {
  const out = new Float32Array(alpha01.length);
  for (let i = 0; i < out.length; i++) {
    const v = Math.min(255, Math.max(0, alpha01[i]! * 255));
    out[i] = quantise ? Math.round(v) : v;
  }
  return out;
}

export function scoreImage(name: string, predicted01: Float32Array, sample: EvalSample): ImageScore {
  const dims = { width: sample.width, height: sample.height };
  const m = allMetrics(
    { ...dims, data: toByteScale(predicted01) },
    { ...dims, data: toByteScale(sample.alpha) },
    { ...dims, data: sample.trimap },
  );
  return { name, sad: m.sad, mse: m.mse, grad: m.grad, conn: m.conn, unknownPixels: m.unknownPixels };
}

export function summarise(images: ImageScore[]): EvalSummary {
  // The mean of nothing is not a perfect score (--limit 0 reported SAD 0).
  if (images.length === 0) throw new Error('no images were scored: nothing to summarise (is the limit 0?)');
  const mean = (k: 'sad' | 'mse' | 'grad' | 'conn') => images.reduce((s, r) => s + r[k], 0) / images.length;
  return { images, mean: { sad: mean('sad'), mse: mean('mse'), grad: mean('grad'), conn: mean('conn') } };
}

export async function evaluateModel(
  model: MattingModel,
  set: EvalSet,
  o: PredictOptions & { limit?: number; onImage?: (s: ImageScore, i: number, n: number) => void } = {},
): Promise<EvalSummary> {
  if (o.limit !== undefined && !(Number.isInteger(o.limit) && o.limit > 0)) throw new Error(`the image limit must be a positive integer, got ${o.limit}`);
  const n = Math.min(set.items.length, o.limit ?? Infinity);
  const images: ImageScore[] = [];
  for (let i = 0; i < n; i++) {
    const s = set.load(i);
    const alpha = await predictAlpha(model, { width: s.width, height: s.height, data: s.image }, { width: s.width, height: s.height, data: s.trimap }, o);
    const score = scoreImage(s.name, alpha, s);
    images.push(score);
    o.onImage?.(score, i, n);
  }
  return summarise(images);
}
