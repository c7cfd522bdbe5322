import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { mulberry32 } from '../reference/array.ts';
import { foregroundReference } from '../reference/foreground.ts';
import { tensor } from '../../engine/index.ts';
import { estimateForeground, estimateForegroundBackgroundTensor, foregroundLevels } from '../../matting/classical/index.ts';

useEngine();

/** A smooth foreground, a different smooth background and a soft disc of alpha (band of `soft` px). */
function scene(W: number, H: number, soft: number) {
  const n = W * H;
  const F = new Float32Array(3 * n), B = new Float32Array(3 * n), alpha = new Float32Array(n), I = new Float32Array(3 * n);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const i = y * W + x;
    const f = [0.9 - (0.4 * x) / W, 0.3 + (0.4 * y) / H, 0.55 + 0.25 * Math.sin((3 * x) / W)];
    const b = [0.1 + (0.2 * y) / H, 0.85 - (0.3 * x) / W, 0.15];
    const r = Math.hypot(x - W / 2, y - H / 2);
    const a = Math.min(1, Math.max(0, (0.3 * Math.min(W, H) - r) / soft + 0.5));
    alpha[i] = a;
    for (let c = 0; c < 3; c++) {
      F[c * n + i] = f[c]!;
      B[c * n + i] = b[c]!;
      I[c * n + i] = a * f[c]! + (1 - a) * b[c]!;
    }
  }
  return { F, B, alpha, I };
}

describe('estimateForeground (multi-level, red-black) against the f64 reference', () => {
  const cases: [number, number, number][] = [[1, 1, 1], [1, 7, 3], [13, 9, 4], [37, 23, 6], [64, 45, 8]];
  for (const [W, H, soft] of cases) {
    it(`${W}x${H}, random image and soft alpha: F and B to 1e-4`, async () => {
      const rng = mulberry32(W * 1000 + H);
      const n = W * H;
      // random colours on top of a scene, so that the clipping to [0, 1] is exercised too
      const s = scene(W, H, soft);
      const img = Float32Array.from(s.I, (v) => Math.min(1, Math.max(0, v + 0.3 * (rng() - 0.5))));
      const alpha = Float32Array.from(s.alpha, (v, i) => (i % 5 === 0 ? rng() : v));
      const ref = foregroundReference(img, alpha, W, H);
      const { foreground, background } = estimateForegroundBackgroundTensor(tensor(img, [1, 3, H, W]), tensor(alpha, [1, 1, H, W]));
      const [F, B] = [await foreground.data(), await background.data()];
      let err = 0;
      for (let i = 0; i < 3 * n; i++) err = Math.max(err, Math.abs(F[i]! - ref.F[i]!), Math.abs(B[i]! - ref.B[i]!));
      expect(err).toBeLessThan(1e-4);
    });
  }

  it('level sizes go from 1x1 to the image size', () => {
    expect(foregroundLevels(1, 1)).toEqual([[1, 1]]);
    const l = foregroundLevels(800, 600);
    expect(l[0]).toEqual([1, 1]);
    expect(l.at(-1)).toEqual([800, 600]);
    expect(l.length).toBe(11);
  });
});

describe('estimateForeground recovers a known foreground composited on a known background', () => {
  it('96x72, HWC in and out: mean error in the soft band below 0.02, 10x better than image x alpha', async () => {
    const W = 96, H = 72, n = W * H;
    const s = scene(W, H, 12);
    const hwc = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) hwc[i * 3 + c] = s.I[c * n + i]!;
    const F = await estimateForeground({ width: W, height: H, data: hwc }, s.alpha);
    let err = 0, naive = 0, worst = 0, count = 0;
    for (let i = 0; i < n; i++) {
      const a = s.alpha[i]!;
      if (a <= 0.05 || a >= 0.95) continue; // the unknown band: where background colour could bleed in
      count++;
      for (let c = 0; c < 3; c++) {
        const e = Math.abs(F[i * 3 + c]! - s.F[c * n + i]!);
        err += e;
        worst = Math.max(worst, e);
        naive += Math.abs(hwc[i * 3 + c]! - s.F[c * n + i]!);
      }
    }
    err /= 3 * count;
    naive /= 3 * count;
    console.log(`soft band: ${count} px, mean |F - F_true| ${err.toFixed(4)} (max ${worst.toFixed(4)}), image itself ${naive.toFixed(4)}`);
    expect(count).toBeGreaterThan(200);
    expect(err).toBeLessThan(0.02);
    expect(err * 10).toBeLessThan(naive);
  });

  it('CHW layout gives the same foreground as HWC', async () => {
    const W = 17, H = 11, n = W * H;
    const s = scene(W, H, 3);
    const hwc = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) hwc[i * 3 + c] = s.I[c * n + i]!;
    const a = await estimateForeground({ width: W, height: H, data: hwc }, s.alpha);
    const b = await estimateForeground({ width: W, height: H, data: s.I, layout: 'chw' }, s.alpha);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) expect(a[i * 3 + c]).toBe(b[c * n + i]);
  });

  it('rejects mismatched sizes with one clear message', async () => {
    await expect(estimateForeground({ width: 4, height: 4, data: new Float32Array(48) }, new Float32Array(15))).rejects.toThrow(/alpha has 15 values, expected 16/);
    await expect(estimateForeground({ width: 4, height: 4, data: new Float32Array(47) }, new Float32Array(16))).rejects.toThrow(/image data has 47 values/);
  });
});
