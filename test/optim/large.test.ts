/**
 * A parameter larger than one 128 MiB binding (like VGG's 411 MB fc6 weight): the Adam update and
 * the gradient norm are split into windows. Spot checks around the window boundary and the ends
 * against the f64 formula.
 */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { hashValue } from '../reference/array.ts';
import { Tensor, tensor } from '../../engine/index.ts';
import { maxBindingElements } from '../../engine/kernels/binding.ts';
import { Adam, clipGradNorm } from '../../engine/optim/index.ts';
import { AdamRef, maxRelErr } from './reference.ts';

const eng = useEngine();

const N = 34_000_000;

function filled(seed: number): Float32Array {
  const out = new Float32Array(N);
  for (let i = 0; i < N; i++) out[i] = hashValue(i, seed);
  return out;
}

async function readRange(t: Tensor, start: number, end: number): Promise<Float32Array> {
  return new Float32Array(await eng.get().read(t.buffer, start * 4, (end - start) * 4));
}

describe('a parameter larger than one binding', () => {
  it('gets a correct windowed Adam step and gradient norm', async () => {
    const e = eng.get();
    expect(N * 4).toBeGreaterThan(e.limits.maxStorageBufferBindingSize);
    const boundary = maxBindingElements(); // first element of the second window
    const ranges: [number, number][] = [
      [0, 64],
      [boundary - 64, boundary + 64],
      [17_000_000, 17_000_032],
      [N - 64, N],
    ];

    const p = tensor(filled(1));
    p.requiresGrad = true;
    const h = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
    const opt = new Adam([p], { lr: h.lr, weightDecay: h.weightDecay });
    // references for the spot-checked elements only
    const refs = ranges.map(([s, t]) => new AdamRef(Float64Array.from({ length: t - s }, (_, k) => Math.fround(hashValue(s + k, 1))), h));
    let g: Float32Array = new Float32Array(0);
    for (const seed of [2, 3]) {
      g = filled(seed);
      if (p.grad) e.write(p.grad.buffer, 0, g);
      else p.grad = tensor(g);
      opt.step();
      ranges.forEach(([s, t], r) => refs[r]!.step(g.subarray(s, t)));
    }
    const m = opt.stateTensors().get('state.0.exp_avg')!;
    for (let r = 0; r < ranges.length; r++) {
      const [s, t] = ranges[r]!;
      const got = await readRange(p, s, t);
      const { err, at } = maxRelErr(got, refs[r]!.theta, 1e-2);
      expect(err, `param element ${s + at}`).toBeLessThanOrEqual(1e-5);
      expect(maxRelErr(await readRange(m, s, t), refs[r]!.m, 1e-2).err).toBeLessThanOrEqual(1e-5);
    }

    // the global norm over both windows, and the clipped gradient at the spot checks
    let ss = 0;
    for (let i = 0; i < N; i++) ss += g[i]! * g[i]!;
    const refNorm = Math.sqrt(ss);
    const maxNorm = 100;
    expect(refNorm).toBeGreaterThan(maxNorm);
    const norm = clipGradNorm([p], maxNorm);
    expect(Math.abs((await norm.item()) - refNorm) / refNorm).toBeLessThanOrEqual(1e-5);
    for (const [s, t] of ranges) {
      const scale = Math.min(1, maxNorm / (refNorm + 1e-6));
      const expected = Float64Array.from(g.subarray(s, t), (x) => x * scale);
      const { err } = maxRelErr(await readRange(p.grad!, s, t), expected, 1e-3);
      expect(err).toBeLessThanOrEqual(1e-5);
    }
    norm.dispose();
    opt.dispose();
    p.dispose();
  });
});
