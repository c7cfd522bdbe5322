import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { mulberry32 } from '../reference/array.ts';
import { applyReference, closedFormReference, laplacianReference, raggedBandCase } from '../reference/closed-form.ts';
import { engine, Tensor } from '../../engine/index.ts';
import { closedFormMatte, isKnown, LaplacianOperator, setupLaplacian } from '../../matting/classical/index.ts';

useEngine();

/** Random colours; known background left, known foreground right, a ragged unknown band between. */
const randomCase = (W: number, H: number, seed: number, contrast = 1) => raggedBandCase(W, H, seed, 0.3, 0.7, contrast);

/** Two flat colours mixed by a smooth alpha ramp: alpha is affine in the colour everywhere. */
function twoColours(W: number, H: number) {
  const n = W * H;
  const F = [0.9, 0.6, 0.2], B = [0.1, 0.3, 0.7];
  const alpha = new Float64Array(n), image = new Float32Array(3 * n), trimap = new Float32Array(n);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const i = y * W + x;
    const a = Math.min(1, Math.max(0, (x - W * 0.3 + 2 * Math.sin(y / 3)) / (W * 0.4)));
    alpha[i] = a;
    for (let c = 0; c < 3; c++) image[c * n + i] = a * F[c]! + (1 - a) * B[c]!;
    trimap[i] = x < W * 0.25 ? 0 : x > W * 0.75 ? 1 : 0.5;
  }
  return { image, trimap, alpha };
}

async function gpuApply(image: Float32Array, known: Uint8Array, W: number, H: number, x: Float32Array): Promise<Float32Array> {
  const setup = setupLaplacian(image, known, W, H);
  const op = new LaplacianOperator(setup, new Float32Array(W * H), 4);
  const xs = Tensor.empty([W * H]), ys = Tensor.empty([W * H]), part = Tensor.empty([Math.max(1, op.nPart)]);
  engine().write(xs.buffer, 0, x);
  engine().write(ys.buffer, 0, new Float32Array(W * H));
  op.apply(xs.buffer, ys.buffer, part.buffer);
  const y = await ys.data();
  for (const t of [xs, ys, part]) t.dispose();
  op.dispose();
  return y;
}

describe('matting Laplacian, applied matrix-free on the GPU, against the assembled f64 Laplacian', () => {
  const cases: [string, number, number, 'random' | 'two colours'][] = [
    ['random colours', 13, 11, 'random'],
    ['random colours', 8, 5, 'random'],
    ['two flat colours (singular window covariances)', 17, 9, 'two colours'],
  ];
  for (const [label, W, H, kind] of cases) {
    it(`${label}, ${W}x${H}: L x to 1e-4 of max |L x|`, async () => {
      const c = kind === 'random' ? randomCase(W, H, W * H) : twoColours(W, H);
      const known = Uint8Array.from(c.trimap, (t) => (isKnown(t) ? 1 : 0));
      const rng = mulberry32(7);
      const x = Float32Array.from({ length: W * H }, () => rng());
      const ref = applyReference(laplacianReference(c.image, known, W, H), x);
      const y = await gpuApply(c.image, known, W, H, x);
      const scale = Math.max(...ref.map(Math.abs));
      let err = 0;
      for (let i = 0; i < W * H; i++) err = Math.max(err, Math.abs(y[i]! - ref[i]!));
      expect(scale).toBeGreaterThan(0.1);
      expect(err / scale).toBeLessThan(1e-4);
    });
  }

  it('leaves out windows whose 9 pixels are all known', () => {
    const W = 7, H = 5;
    const known = new Uint8Array(W * H).fill(1);
    known[2 * W + 6] = 0; // one unknown pixel on the right border: only windows centred in column 5 touch it
    const s = setupLaplacian(new Float32Array(3 * W * H).fill(0.5), known, W, H);
    expect(Array.from(s.winCenter)).toEqual([1 * W + 5, 2 * W + 5, 3 * W + 5]);
    expect(s.pixels.length).toBe(3 * 5); // the unknowns: columns 4-6 of rows 0-4, the pixels of those windows
    expect(s.count[2 * W + 6]).toBe(3);
    expect(s.count[0 * W + 4]).toBe(1);
  });
});

describe('closedFormMatte against a direct f64 solve of (L + lambda D) alpha = lambda D b', () => {
  const sizes: [number, number][] = [[9, 7], [16, 12], [23, 17]];
  for (const [W, H] of sizes) {
    it(`${W}x${H} random image: alpha to 1e-4`, async () => {
      const c = randomCase(W, H, 100 + W);
      const ref = closedFormReference(c.image, c.trimap, W, H);
      const t0 = performance.now();
      const r = await closedFormMatte({ width: W, height: H, data: c.image, layout: 'chw' }, c.trimap, { tol: 1e-7, maxIterations: 2000, checkEvery: 10 });
      const wall = (performance.now() - t0) / 1000;
      // The reported split of the time: both parts happened, and together within the call's time.
      expect(r.seconds.setup).toBeGreaterThan(0);
      expect(r.seconds.solve).toBeGreaterThan(0);
      expect(r.seconds.setup + r.seconds.solve).toBeLessThanOrEqual(wall);
      let err = 0;
      for (let i = 0; i < W * H; i++) err = Math.max(err, Math.abs(r.alpha[i]! - ref.alpha[i]!));
      expect(err).toBeLessThan(1e-4);
      expect(r.iterations).toBeGreaterThan(0);
      expect(r.relResidual).toBeLessThan(1e-5);
      for (let i = 0; i < W * H; i++) if (isKnown(c.trimap[i]!)) expect(r.alpha[i]).toBe(c.trimap[i]);
    });
  }

  it('low contrast (window variances ~1e-7, the size of eps): alpha to 1e-4, and eps matters', async () => {
    const W = 15, H = 11;
    const c = randomCase(W, H, 77, 2e-3);
    const ref = closedFormReference(c.image, c.trimap, W, H);
    const other = closedFormReference(c.image, c.trimap, W, H, 100, 1e-6);
    const r = await closedFormMatte({ width: W, height: H, data: c.image, layout: 'chw' }, c.trimap, { tol: 1e-7, maxIterations: 2000, checkEvery: 10 });
    let err = 0, epsEffect = 0;
    for (let i = 0; i < W * H; i++) {
      err = Math.max(err, Math.abs(r.alpha[i]! - ref.alpha[i]!));
      epsEffect = Math.max(epsEffect, Math.abs(other.alpha[i]! - ref.alpha[i]!));
    }
    expect(epsEffect).toBeGreaterThan(1e-2); // the case can tell eps 1e-7 from 1e-6
    expect(err).toBeLessThan(1e-4);
  });

  it('two flat colours: alpha is affine in the colour, the closed form recovers it (1e-3) and matches the direct solve (1e-4)', async () => {
    const W = 24, H = 14;
    const c = twoColours(W, H);
    const ref = closedFormReference(c.image, c.trimap, W, H);
    const r = await closedFormMatte({ width: W, height: H, data: c.image, layout: 'chw' }, c.trimap, { tol: 1e-7, maxIterations: 2000, checkEvery: 10 });
    let toTruth = 0, toRef = 0, refToTruth = 0;
    for (let i = 0; i < W * H; i++) {
      toTruth = Math.max(toTruth, Math.abs(r.alpha[i]! - c.alpha[i]!));
      toRef = Math.max(toRef, Math.abs(r.alpha[i]! - ref.alpha[i]!));
      refToTruth = Math.max(refToTruth, Math.abs(ref.alpha[i]! - c.alpha[i]!));
    }
    expect(refToTruth).toBeLessThan(1e-3);
    expect(toTruth).toBeLessThan(1e-3);
    expect(toRef).toBeLessThan(1e-4);
  });

  it('HWC input gives the CHW result', async () => {
    const W = 11, H = 9, n = W * H;
    const c = randomCase(W, H, 5);
    const hwc = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) hwc[i * 3 + k] = c.image[k * n + i]!;
    const a = await closedFormMatte({ width: W, height: H, data: c.image, layout: 'chw' }, c.trimap);
    const b = await closedFormMatte({ width: W, height: H, data: hwc }, c.trimap);
    expect(Array.from(b.alpha)).toEqual(Array.from(a.alpha));
  });

  it('rejects mismatched sizes with one clear message', async () => {
    await expect(closedFormMatte({ width: 4, height: 4, data: new Float32Array(48) }, new Float32Array(15))).rejects.toThrow(/trimap has 15 values, expected 16/);
  });
});
