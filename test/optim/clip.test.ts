import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { Generator, Tensor, tensor, tidy } from '../../engine/index.ts';
import { clipGradNorm, gradNorm } from '../../engine/optim/index.ts';
import { clipRef, maxRelErr } from './reference.ts';
import { gradNormFinish, scaleInPlaceByDevice, sumSquaresPartialCount, sumSquaresPartials } from '../../engine/optim/kernels.ts';

const eng = useEngine();

function paramsWithGrads(seed: number, sizes: number[], std: number): { params: Tensor[]; grads: Float32Array[] } {
  const g = new Generator(seed);
  const grads = sizes.map((n) => g.fillNormal(new Float32Array(n), 0, std));
  const params = sizes.map((n, k) => {
    const p = tensor(new Float32Array(n));
    p.requiresGrad = true;
    p.grad = tensor(grads[k]!);
    return p;
  });
  return { params, grads };
}

function disposeAll(ts: Tensor[]): void {
  for (const t of ts) t.dispose();
}

// Sizes around the chunk (4,096 elements per partial) and workgroup boundaries.
const SIZES = [1, 7, 256, 4095, 4096, 4097, 20000, 70001];

describe('clipGradNorm equals torch.nn.utils.clip_grad_norm_', () => {
  for (const [label, maxNorm] of [
    ['clips when the norm exceeds maxNorm', 5],
    ['leaves the gradients unchanged below maxNorm', 1e4],
  ] as const) {
    it(label, async () => {
      const { params, grads } = paramsWithGrads(1, SIZES, 0.1);
      const ref = clipRef(grads, maxNorm);
      const norm = clipGradNorm(params, maxNorm);
      expect(norm.shape).toEqual([]);
      const got = await norm.item();
      expect(Math.abs(got - ref.norm) / ref.norm).toBeLessThanOrEqual(1e-5);
      const clipping = ref.norm > maxNorm;
      expect(clipping).toBe(maxNorm === 5);
      for (let k = 0; k < params.length; k++) {
        const g = await params[k]!.grad!.data();
        if (clipping) {
          const { err, at } = maxRelErr(g, ref.clipped[k]!, 1e-6);
          expect(err, `grad ${k} element ${at}`).toBeLessThanOrEqual(1e-5);
        } else expect(Array.from(g)).toEqual(Array.from(grads[k]!)); // scale exactly 1
      }
      if (clipping) {
        // the clipped gradients now have norm maxNorm (up to the 1e-6 in the denominator)
        const after = await gradNorm(params).item();
        expect(Math.abs(after - maxNorm) / maxNorm).toBeLessThanOrEqual(1e-5);
      }
      norm.dispose();
      disposeAll(params);
    });
  }

  it('ignores parameters without a gradient; none at all gives 0', async () => {
    const { params, grads } = paramsWithGrads(2, [100, 50, 30], 1);
    params[1]!.grad!.dispose();
    params[1]!.grad = null;
    const ref = clipRef([grads[0]!, grads[2]!], 1);
    const norm = await clipGradNorm(params, 1).item();
    expect(Math.abs(norm - ref.norm) / ref.norm).toBeLessThanOrEqual(1e-5);
    const g2 = await params[2]!.grad!.data();
    expect(maxRelErr(g2, ref.clipped[1]!, 1e-6).err).toBeLessThanOrEqual(1e-5);
    params[0]!.grad!.dispose();
    params[0]!.grad = null;
    params[2]!.grad!.dispose();
    params[2]!.grad = null;
    expect(await clipGradNorm(params, 1).item()).toBe(0);
    disposeAll(params);
  });

  it('is deterministic and reads nothing back', async () => {
    const e = eng.get();
    const { params } = paramsWithGrads(3, [123457, 999, 31], 1);
    await e.sync();
    const readbacks = e.counters.readbacks;
    const norms = tidy(() => [gradNorm(params), gradNorm(params), gradNorm(params)]);
    expect(e.counters.readbacks).toBe(readbacks);
    const values = await Promise.all(norms.map((n) => n.data()));
    expect(new Set(values.map((v) => v[0])).size).toBe(1);
    disposeAll([...norms, ...params]);
  });

  it('several gradients per dispatch: the norm and the clipped gradients are bit-identical to one launch per gradient', async () => {
    const e = eng.get();
    // more gradients than one launch binds, sizes around the chunk and workgroup boundaries, one empty
    const sizes = [...SIZES, 0, 3, 5000, 12289, 1, 256, 8193, 100, 4096, 77, 9, 2, 40000];
    const { params, grads } = paramsWithGrads(21, sizes, 0.7);
    const refs = grads.map((g) => tensor(g));
    // one launch per gradient, the kernels clipGradNorm used before it batched them
    const count = refs.reduce((n, g) => n + sumSquaresPartialCount(g.size), 0);
    const partials = tensor(new Float32Array(count));
    let at = 0;
    for (const g of refs) at = sumSquaresPartials(g, partials, at);
    const refNorm = tensor(new Float32Array(1));
    const scale = tensor(new Float32Array(1));
    gradNormFinish(partials, count, refNorm, scale, 3);
    for (const g of refs) scaleInPlaceByDevice(g, scale);
    const before = e.counters.dispatches;
    const norm = clipGradNorm(params, 3);
    expect(e.counters.dispatches - before).toBeLessThan(sizes.length);
    expect((await norm.data())[0]).toBe((await refNorm.data())[0]);
    expect((await norm.data())[0]).toBeGreaterThan(3); // it did clip
    for (let k = 0; k < sizes.length; k++) expect(Array.from(await params[k]!.grad!.data()), `gradient ${k}`).toEqual(Array.from(await refs[k]!.data()));
    disposeAll([norm, refNorm, scale, partials, ...refs, ...params]);
  });

  it('rejects an invalid maxNorm', () => {
    expect(() => clipGradNorm([], -1)).toThrow(/maxNorm/);
    expect(() => clipGradNorm([], Number.NaN)).toThrow(/maxNorm/);
  });
});
