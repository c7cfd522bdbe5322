/** The three loss terms and post-processing against a plain f64 CPU computation of dim-model.md's formulas. */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { mulberry32 } from '../reference/array.ts';
import { tensor } from '../../engine/creation.ts';
import { mattingLosses, postProcess } from '../../matting/losses.ts';

useEngine();

describe('matting losses', () => {
  it('alpha, composition (/255, channels summed) and refined terms over the unknown pixels of the batch', async () => {
    const N = 2, S = 5, P = S * S;
    const r = mulberry32(9);
    const trimap = Float32Array.from({ length: N * P }, () => [0, 128, 255][Math.floor(r() * 3)]!);
    const alphaGt = Float32Array.from({ length: N * P }, () => r());
    const raw = Float32Array.from({ length: N * P }, () => r());
    const refined = Float32Array.from({ length: N * P }, () => r());
    const fg = Float32Array.from({ length: N * 3 * P }, () => r() * 255);
    const bg = Float32Array.from({ length: N * 3 * P }, () => r() * 255);
    const image = Float32Array.from({ length: N * 3 * P }, (_, i) => {
      const n = Math.floor(i / (3 * P)), p = i % P;
      const a = alphaGt[n * P + p]!;
      return a * fg[i]! + (1 - a) * bg[i]!;
    });
    const eps = 1e-12;
    let U = 0, la = 0, lc = 0, lr = 0;
    for (let n = 0; n < N; n++) {
      for (let p = 0; p < P; p++) {
        const w = trimap[n * P + p] === 128 ? 1 : 0;
        U += w;
        la += w * Math.sqrt((raw[n * P + p]! - alphaGt[n * P + p]!) ** 2 + eps);
        lr += w * Math.sqrt((refined[n * P + p]! - alphaGt[n * P + p]!) ** 2 + eps);
        for (let c = 0; c < 3; c++) {
          const i = (n * 3 + c) * P + p;
          const comp = raw[n * P + p]! * fg[i]! + (1 - raw[n * P + p]!) * bg[i]!;
          lc += (w * Math.sqrt((comp - image[i]!) ** 2 + eps)) / 255;
        }
      }
    }
    U += eps;
    const want = { alpha: la / U, composition: lc / U, refined: lr / U };
    const t1 = (d: Float32Array) => tensor(d, [N, 1, S, S]);
    const t3 = (d: Float32Array) => tensor(d, [N, 3, S, S]);
    const terms = mattingLosses(
      { rawAlpha: t1(raw), refinedAlpha: t1(refined) },
      { image: t3(image), trimap: t1(trimap), alpha: t1(alphaGt), fg: t3(fg), bg: t3(bg) },
      { alpha: 0.5, composition: 0.5, refined: 2 },
    );
    const got = { alpha: await terms.alpha!.item(), composition: await terms.composition!.item(), refined: await terms.refined!.item() };
    for (const k of ['alpha', 'composition', 'refined'] as const) expect(Math.abs(got[k] - want[k])).toBeLessThan(1e-5 * Math.max(1, want[k]));
    const total = 0.5 * want.alpha + 0.5 * want.composition + 2 * want.refined;
    expect(Math.abs((await terms.total.item()) - total)).toBeLessThan(1e-5 * total);
  });

  it('post-processing copies the known trimap regions into the alpha', async () => {
    const tri = tensor([0, 128, 255, 128, 0, 255], [1, 1, 2, 3]);
    const a = tensor([0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [1, 1, 2, 3]);
    expect(Array.from(await postProcess(a, tri).data())).toEqual([0, Math.fround(0.4), 1, Math.fround(0.6), 0, 1]);
  });
});
