/** Shared pieces of the model tests: a synthetic batch on the GPU, a seeded PRNG, loss helpers. */
import { mulberry32 } from '../reference/array.ts';
import { tensor } from '../../engine/creation.ts';
import { keep, tidy } from '../../engine/scope.ts';
import { noGrad } from '../../engine/autograd/graph.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { syntheticSample } from '../../matting/data/synthetic.ts';
import { mattingLosses, type LossBatch } from '../../matting/losses.ts';
import type { MattingModel } from '../../matting/graph/model.ts';

/**
 * `n` synthetic samples of side `size` (seeds seed, seed+1, ...) as kept NCHW tensors. With `noise`,
 * uniform noise of that amplitude is added to the foreground and background (clamped to 0..255) and
 * the image re-composited (I = alpha F + (1 - alpha) B still holds): it breaks the exact ties of the
 * synthetic images' flat regions (see gradcheck.ts on max-pooling ties).
 */
export function syntheticBatch(seed: number, size: number, n = 1, noise = 0): LossBatch & { dispose(): void; unknown: number } {
  const samples = Array.from({ length: n }, (_, i) => syntheticSample(seed + i, size));
  if (noise > 0) {
    const rnd = prng(seed * 7919 + 17);
    const hw = size * size;
    for (const s of samples) {
      for (const key of ['fg', 'bg'] as const) for (let i = 0; i < s[key].length; i++) s[key][i] = Math.min(255, Math.max(0, s[key][i]! + noise * (2 * rnd() - 1)));
      for (let c = 0; c < 3; c++) for (let i = 0; i < hw; i++) {
        const a = s.alpha[i]!;
        s.image[c * hw + i] = a * s.fg[c * hw + i]! + (1 - a) * s.bg[c * hw + i]!;
      }
    }
  }
  const stack = (key: 'image' | 'trimap' | 'alpha' | 'fg' | 'bg', c: number): Tensor => {
    const out = new Float32Array(n * c * size * size);
    samples.forEach((s, i) => out.set(s[key], i * c * size * size));
    return keep(tensor(out, [n, c, size, size]));
  };
  const b = { image: stack('image', 3), trimap: stack('trimap', 1), alpha: stack('alpha', 1), fg: stack('fg', 3), bg: stack('bg', 3) };
  const unknown = samples.reduce((u, s) => u + s.trimap.filter((v) => v === 128).length, 0);
  return { ...b, unknown, dispose: () => Object.values(b).forEach((t) => t.dispose()) };
}

/** mulberry32 (shared with the f64 references): a small seeded PRNG for coordinates and directions. */
export const prng = mulberry32;

/** The total loss (and its terms) of one forward, recorded without a graph; the tensors are kept. */
export function evalLosses(model: MattingModel, batch: LossBatch, weights = model.config.lossWeights): { total: Tensor; alpha: Tensor | null; composition: Tensor | null; refined: Tensor | null } {
  return noGrad(() =>
    tidy(() => {
      const l = mattingLosses(model.forward(batch.image, batch.trimap), batch, weights);
      return { total: keep(l.total), alpha: l.alpha && keep(l.alpha), composition: l.composition && keep(l.composition), refined: l.refined && keep(l.refined) };
    }),
  );
}

/** Reads a scalar and disposes it. */
export async function take(t: Tensor): Promise<number> {
  const v = await t.item();
  t.dispose();
  return v;
}

/**
 * Lets Node's event loop run. A loop that records thousands of dispatches without ever awaiting
 * crashes the process (SIGSEGV) on Dawn + lavapipe: completed work is only reclaimed when the
 * event loop turns. Training loops here yield every few steps.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));
