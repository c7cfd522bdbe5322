import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { mulberry32 } from '../reference/array.ts';
import { closedFormReference, laplacianReference, raggedBandCase } from '../reference/closed-form.ts';
import { closedFormMatte, isKnown, LaplacianOperator, setupLaplacian } from '../../matting/classical/index.ts';
import { coarsen, fineStencil, stencilHierarchy, STENCIL, type StencilLevel } from '../../matting/classical/stencil.ts';
import { MultigridPreconditioner } from '../../matting/classical/multigrid.ts';
import { PCG_PER } from '../../matting/classical/cg.ts';
import { expectSymmetricPositive } from '../helpers/preconditioner.ts';

useEngine();

/** Random colours; known background left, known foreground right, a ragged unknown band between. */
const randomCase = (W: number, H: number, seed: number) => raggedBandCase(W, H, seed, 0.25, 0.75);

/** Two colour regions split at x = W/2 (each with faint noise), all unknown but a known column at each side. */
function edgeCase(W: number, H: number) {
  const rng = mulberry32(3);
  const n = W * H;
  const image = new Float32Array(3 * n), trimap = new Float32Array(n).fill(0.5);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const i = y * W + x, c = x < W / 2 ? [0.1, 0.2, 0.8] : [0.9, 0.7, 0.1];
    for (let k = 0; k < 3; k++) image[k * n + i] = c[k]! + 0.02 * (rng() - 0.5);
    if (x === 0) trimap[i] = 0;
    if (x === W - 1) trimap[i] = 1;
  }
  return { image, trimap };
}

function system(image: Float32Array, trimap: Float32Array, W: number, H: number, lambda = 100) {
  const known = Uint8Array.from(trimap, (t) => (isKnown(t) ? 1 : 0));
  const setup = setupLaplacian(image, known, W, H);
  const shift = Float32Array.from(known, (k) => (k ? lambda : 0));
  return { known, setup, shift, fine: fineStencil(setup, shift) };
}

/** The level as a dense matrix over its unknowns. */
function dense(l: StencilLevel): Float64Array {
  const m = l.pixels.length, A = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    const p = l.pixels[a]!;
    for (let k = 0; k < STENCIL; k++) {
      const v = l.coef[a * STENCIL + k]!;
      if (v === 0) continue;
      const j = l.index[p + (Math.floor(k / 5) - 2) * l.W + (k % 5) - 2]!;
      A[a * m + j]! += v;
    }
  }
  return A;
}

describe('assembled 25-point stencil of L + lambda D', () => {
  it('equals the entry-by-entry f64 Laplacian plus lambda on known pixels (17x13)', () => {
    const W = 17, H = 13;
    const c = randomCase(W, H, 11);
    const { known, fine } = system(c.image, c.trimap, W, H);
    const L = laplacianReference(c.image, known, W, H);
    const A = dense(fine), m = fine.pixels.length;
    let err = 0, scale = 0;
    for (let a = 0; a < m; a++) {
      const i = fine.pixels[a]!;
      for (let b = 0; b < m; b++) {
        const j = fine.pixels[b]!;
        const ref = (L[i]!.get(j) ?? 0) + (a === b && known[i] ? 100 : 0);
        err = Math.max(err, Math.abs(A[a * m + b]! - ref));
        scale = Math.max(scale, Math.abs(ref));
      }
    }
    expect(m).toBeGreaterThan(100);
    expect(err / scale).toBeLessThan(1e-5);
  });
});

describe('Galerkin coarsening', () => {
  for (const bilinear of [true, false]) {
    it(`A_c = P^T A P with P from the interpolation weights (${bilinear ? 'bilinear' : 'operator-dependent'}), 15x12`, () => {
      const W = 15, H = 12;
      const c = randomCase(W, H, 21);
      const { fine } = system(c.image, c.trimap, W, H);
      const C = coarsen(fine, bilinear);
      // P (fine unknowns x coarse unknowns) built here from the stored weights and the parent rule.
      const m = fine.pixels.length, mc = C.pixels.length;
      const P = new Float64Array(m * mc);
      for (let a = 0; a < m; a++) {
        const p = fine.pixels[a]!, y = Math.floor(p / W), x = p - y * W;
        let sum = 0;
        for (let j = 0; j < 4; j++) {
          const w = fine.interp![a * 4 + j]!;
          if (w === 0) continue;
          const X = (x + (j & 1)) >> 1, Y = (y + (j >> 1)) >> 1;
          const J = C.index[Y * C.W + X]!;
          expect(J).toBeGreaterThanOrEqual(0);
          P[a * mc + J]! += w;
          sum += w;
        }
        expect(sum).toBeCloseTo(1, 12);
        if (bilinear) expect(fine.interp![a * 4]).toBe((x % 2 ? 0.5 : 1) * (y % 2 ? 0.5 : 1));
      }
      const A = dense(fine), Ac = dense(C);
      const AP = new Float64Array(m * mc);
      for (let i = 0; i < m; i++) for (let k = 0; k < m; k++) {
        const v = A[i * m + k]!;
        if (v !== 0) for (let J = 0; J < mc; J++) AP[i * mc + J]! += v * P[k * mc + J]!;
      }
      let err = 0, scale = 0;
      for (let I = 0; I < mc; I++) for (let J = 0; J < mc; J++) {
        let ref = 0;
        for (let i = 0; i < m; i++) ref += P[i * mc + I]! * AP[i * mc + J]!;
        err = Math.max(err, Math.abs(Ac[I * mc + J]! - ref));
        scale = Math.max(scale, Math.abs(ref));
      }
      expect(mc).toBeGreaterThan(20);
      expect(err / scale).toBeLessThan(1e-10);
    });
  }

  it('operator-dependent weights do not interpolate across a colour edge', () => {
    const W = 21, H = 9;
    const c = edgeCase(W, H);
    const { fine } = system(c.image, c.trimap, W, H);
    coarsen(fine);
    // x = 9 (odd, left of the edge between 10 and 11): parents x = 8 and x = 10, both on the left.
    // x = 11 (odd, right of the edge): parents 10 (left colour) and 12 (right colour).
    const y = 4, a11 = fine.index[y * W + 11]!;
    const toLeft = fine.interp![a11 * 4]!, toRight = fine.interp![a11 * 4 + 1]!;
    expect(toLeft + toRight).toBeCloseTo(1, 12);
    expect(toRight).toBeGreaterThan(0.7); // bilinear: 0.5
    const a9 = fine.index[y * W + 9]!; // both parents on its own side: no preference
    expect(Math.abs(fine.interp![a9 * 4]! - 0.5)).toBeLessThan(0.15);
  });
});

describe('multigrid V-cycle (GPU) as a CG preconditioner', () => {
  it('is symmetric and positive: <M r1, r2> = <r1, M r2>, <M r, r> > 0 (4 levels, 33x27)', async () => {
    const W = 33, H = 27, N = W * H;
    const c = randomCase(W, H, 5);
    const { setup, shift, fine } = system(c.image, c.trimap, W, H);
    const levels = stencilHierarchy(fine, 16);
    expect(levels.length).toBeGreaterThanOrEqual(4);
    const op = new LaplacianOperator(setup, shift, PCG_PER);
    const mg = new MultigridPreconditioner(levels, op.pixels.buffer);
    try {
      const { r1, z1 } = await expectSymmetricPositive(mg, setup.pixels, N);
      // Not the identity and not Jacobi: z differs from r / diag in a way a smoother alone would not.
      expect(z1.some((v, i) => Math.abs(v - r1[i]! / fine.coef[fine.index[i]! * STENCIL + 12]!) > 1e-3)).toBe(true);
    } finally {
      mg.dispose();
      op.dispose();
    }
  });

  const sizes: [number, number, number][] = [[23, 17, 16], [31, 29, 8], [40, 9, 16]];
  for (const [W, H, coarsest] of sizes) {
    it(`closedFormMatte with multigrid (levels down to ${coarsest} unknowns), ${W}x${H}: alpha to 1e-4 of the direct solve`, async () => {
      const c = randomCase(W, H, 300 + W);
      const ref = closedFormReference(c.image, c.trimap, W, H);
      const r = await closedFormMatte({ width: W, height: H, data: c.image, layout: 'chw' }, c.trimap, { preconditioner: 'multigrid', coarsestUnknowns: coarsest });
      expect(r.multigridLevels.length).toBeGreaterThanOrEqual(3);
      let err = 0;
      for (let i = 0; i < W * H; i++) err = Math.max(err, Math.abs(r.alpha[i]! - ref.alpha[i]!));
      expect(err).toBeLessThan(1e-4);
      expect(r.relResidual).toBeLessThan(1e-6);
      for (let i = 0; i < W * H; i++) if (isKnown(c.trimap[i]!)) expect(r.alpha[i]).toBe(c.trimap[i]);
    });
  }

  it('Jacobi CG (the other preconditioner) still matches the direct solve (40x30)', async () => {
    const W = 40, H = 30;
    const c = randomCase(W, H, 42);
    const ref = closedFormReference(c.image, c.trimap, W, H);
    const jac = await closedFormMatte({ width: W, height: H, data: c.image, layout: 'chw' }, c.trimap, { preconditioner: 'jacobi', coarseLevels: 0 });
    let err = 0;
    for (let i = 0; i < W * H; i++) err = Math.max(err, Math.abs(jac.alpha[i]! - ref.alpha[i]!));
    expect(err).toBeLessThan(1e-4);
    expect(jac.multigridLevels).toEqual([]);
  });

  it('multigrid needs fewer than half the iterations of Jacobi for the same answer (128x96)', async () => {
    const W = 128, H = 96;
    const c = randomCase(W, H, 43);
    const img = { width: W, height: H, data: c.image, layout: 'chw' as const };
    const mg = await closedFormMatte(img, c.trimap, { preconditioner: 'multigrid', checkEvery: 1, coarsestUnknowns: 256 });
    const jac = await closedFormMatte(img, c.trimap, { preconditioner: 'jacobi', coarseLevels: 0, checkEvery: 1 });
    let d = 0;
    for (let i = 0; i < W * H; i++) d = Math.max(d, Math.abs(jac.alpha[i]! - mg.alpha[i]!));
    expect(d).toBeLessThan(1e-3);
    expect(mg.multigridLevels.length).toBeGreaterThanOrEqual(4);
    expect(mg.iterations * 2).toBeLessThan(jac.iterations);
  });
});
