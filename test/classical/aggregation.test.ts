import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { mulberry32 } from '../reference/array.ts';
import { closedFormReference, raggedBandCase } from '../reference/closed-form.ts';
import { tensor } from '../../engine/index.ts';
import { closedFormMatte, isKnown, setupLaplacian } from '../../matting/classical/index.ts';
import { fineStencil } from '../../matting/classical/stencil.ts';
import { aggregationHierarchy, denseInverse, SLOTS } from '../../matting/classical/aggregation.ts';
import { AggregationPreconditioner } from '../../matting/classical/amg.ts';
import { multiply, transpose, type Bsr } from '../../matting/classical/sparse.ts';
import { applyPreconditioner, expectSymmetricPositive } from '../helpers/preconditioner.ts';

useEngine();

/** Random colours; known background left, known foreground right, a ragged unknown band between. */
const randomCase = (W: number, H: number, seed: number) => raggedBandCase(W, H, seed, 0.2, 0.8);

function hierarchy(W: number, H: number, seed: number, coarsestUnknowns: number) {
  const c = randomCase(W, H, seed);
  const known = Uint8Array.from(c.trimap, (t) => (isKnown(t) ? 1 : 0));
  const setup = setupLaplacian(c.image, known, W, H);
  const fine = fineStencil(setup, Float32Array.from(known, (k) => (k ? 100 : 0)));
  return { c, fine, levels: aggregationHierarchy(fine, c.image, { coarsestUnknowns }) };
}

/** A block-sparse matrix as a dense row-major one over its slots. */
function dense(M: Bsr): { a: Float64Array; rows: number; cols: number } {
  const rows = M.rows * M.rowSlots, cols = M.cols * M.colSlots, a = new Float64Array(rows * cols);
  for (let r = 0; r < M.rows; r++) for (let p = M.ptr[r]!; p < M.ptr[r + 1]!; p++) {
    for (let i = 0; i < M.rowSlots; i++) for (let j = 0; j < M.colSlots; j++) {
      a[(r * M.rowSlots + i) * cols + M.col[p]! * M.colSlots + j]! += M.val[(p * M.rowSlots + i) * M.colSlots + j]!;
    }
  }
  return { a, rows, cols };
}

function denseProduct(A: { a: Float64Array; rows: number; cols: number }, B: { a: Float64Array; rows: number; cols: number }) {
  const out = new Float64Array(A.rows * B.cols);
  for (let i = 0; i < A.rows; i++) for (let k = 0; k < A.cols; k++) {
    const v = A.a[i * A.cols + k]!;
    if (v !== 0) for (let j = 0; j < B.cols; j++) out[i * B.cols + j]! += v * B.a[k * B.cols + j]!;
  }
  return { a: out, rows: A.rows, cols: B.cols };
}

/** A random block-sparse matrix (about `fill` of its blocks present). */
function randomBsr(rows: number, cols: number, rs: number, cs: number, fill: number, seed: number): Bsr {
  const rng = mulberry32(seed);
  const ptr = new Int32Array(rows + 1), col: number[] = [], val: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) if (rng() < fill) { col.push(c); for (let k = 0; k < rs * cs; k++) val.push(rng() - 0.5); }
    ptr[r + 1] = col.length;
  }
  return { rows, cols, rowSlots: rs, colSlots: cs, ptr, col: Int32Array.from(col), val: Float64Array.from(val) };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => { let d = 0; for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!)); return d; };

describe('block-sparse algebra of the aggregation setup', () => {
  for (const [rs, k] of [[1, 1], [4, 1], [4, 4], [1, 4]] as const) {
    it(`multiply (${rs}x${k} by ${k}x4 blocks) and transpose agree with dense products`, () => {
      const A = randomBsr(7, 9, rs, k, 0.4, 11 + rs + k), B = randomBsr(9, 5, k, 4, 0.5, 29 + rs * k);
      const C = multiply(A, B);
      expect(maxDiff(dense(C).a, denseProduct(dense(A), dense(B)).a)).toBeLessThan(1e-12);
      for (let r = 0; r < C.rows; r++) for (let p = C.ptr[r]! + 1; p < C.ptr[r + 1]!; p++) expect(C.col[p]!).toBeGreaterThan(C.col[p - 1]!);
      const T = dense(transpose(A)), D = dense(A);
      for (let i = 0; i < D.rows; i++) for (let j = 0; j < D.cols; j++) expect(T.a[j * T.cols + i]).toBe(D.a[i * D.cols + j]);
    });
  }
});

describe('smoothed-aggregation hierarchy', () => {
  it('coarse operators are P^T A P (dense f64 products), symmetric, 4 slots per node (29x23)', () => {
    const { levels } = hierarchy(29, 23, 7, 40);
    expect(levels.length).toBeGreaterThanOrEqual(3);
    for (let l = 0; l + 1 < levels.length; l++) {
      const A = dense(levels[l]!.A), P = dense(levels[l]!.P!), Pt = dense(transpose(levels[l]!.P!));
      const ref = denseProduct(Pt, denseProduct(A, P));
      const Ac = dense(levels[l + 1]!.A);
      expect(levels[l + 1]!.slots).toBe(SLOTS);
      // Equal but for the unit diagonal of dropped slots (their rows and columns are zero in P^T A P).
      let err = 0, scale = 0;
      for (let i = 0; i < Ac.rows; i++) for (let j = 0; j < Ac.cols; j++) {
        const v = Ac.a[i * Ac.cols + j]!, r = ref.a[i * Ac.cols + j]!;
        scale = Math.max(scale, Math.abs(r));
        if (i === j && r === 0) expect(v).toBe(1);
        else err = Math.max(err, Math.abs(v - r));
        expect(v).toBeCloseTo(Ac.a[j * Ac.cols + i]!, 12);
      }
      expect(err / scale).toBeLessThan(1e-12);
    }
  });

  it('fine aggregates of side 3 and 4 give P^T A P too; a side below 3 (couplings past 2 nodes) is refused', () => {
    for (const side of [3, 4]) {
      const c = randomCase(26, 22, 17);
      const known = Uint8Array.from(c.trimap, (t) => (isKnown(t) ? 1 : 0));
      const fine = fineStencil(setupLaplacian(c.image, known, 26, 22), Float32Array.from(known, (k) => (k ? 100 : 0)));
      const levels = aggregationHierarchy(fine, c.image, { coarsestUnknowns: 40, fineAggregate: side });
      const A = dense(levels[0]!.A), P = dense(levels[0]!.P!), Pt = dense(transpose(levels[0]!.P!));
      const ref = denseProduct(Pt, denseProduct(A, P)), Ac = dense(levels[1]!.A);
      expect(levels[1]!.W).toBe(Math.ceil(26 / side));
      let err = 0, scale = 0;
      for (let i = 0; i < Ac.a.length; i++) {
        scale = Math.max(scale, Math.abs(ref.a[i]!));
        if (!(ref.a[i] === 0 && Ac.a[i] === 1)) err = Math.max(err, Math.abs(Ac.a[i]! - ref.a[i]!));
      }
      expect(err / scale).toBeLessThan(1e-12);
    }
    const { fine, c } = hierarchy(20, 16, 3, 40);
    expect(() => aggregationHierarchy(fine, c.image, { coarsestUnknowns: 40, fineAggregate: 2 })).toThrow(/aggregate side 2/);
  });

  it('the coarsest inverse is the inverse (A A^-1 = I to 1e-9)', () => {
    const { levels } = hierarchy(21, 19, 8, 200);
    const last = levels[levels.length - 1]!;
    const A = dense(last.A), inv = denseInverse(last.A);
    const I = denseProduct(A, { a: inv, rows: A.cols, cols: A.cols });
    for (let i = 0; i < A.rows; i++) for (let j = 0; j < A.cols; j++) expect(Math.abs(I.a[i * A.cols + j]! - (i === j ? 1 : 0))).toBeLessThan(1e-9);
  });
});

describe('smoothed-aggregation V-cycle (GPU) as a CG preconditioner', () => {
  it('is symmetric and positive: <M r1, r2> = <r1, M r2>, <M r, r> > 0 (3+ levels, 37x31)', async () => {
    const W = 37, H = 31;
    const { fine, levels } = hierarchy(W, H, 5, 60);
    expect(levels.length).toBeGreaterThanOrEqual(3);
    const pixels = tensor(Int32Array.from(fine.pixels));
    const pre = new AggregationPreconditioner(levels, fine, pixels.buffer);
    try {
      const { r1, z1 } = await expectSymmetricPositive(pre, fine.pixels, W * H);
      const again = await applyPreconditioner(pre, r1, fine.pixels.length);
      expect(Array.from(again)).toEqual(Array.from(z1)); // deterministic
    } finally {
      pre.dispose();
      pixels.dispose();
    }
  });

  // [W, H, coarsest unknowns, side of the fine level's aggregates]
  const sizes: [number, number, number, number][] = [[23, 17, 24, 5], [31, 29, 40, 5], [41, 9, 16, 5], [64, 48, 100, 5], [37, 26, 40, 3], [33, 35, 40, 4]];
  for (const [W, H, coarsest, side] of sizes) {
    it(`closedFormMatte with aggregation (fine aggregates ${side}x${side}, coarsest <= ${coarsest} unknowns), ${W}x${H}: alpha to 1e-4 of the direct solve`, async () => {
      const c = randomCase(W, H, 300 + W);
      const ref = closedFormReference(c.image, c.trimap, W, H);
      const r = await closedFormMatte({ width: W, height: H, data: c.image, layout: 'chw' }, c.trimap, { coarsestUnknowns: coarsest, fineAggregate: side });
      expect(r.multigridLevels.length).toBeGreaterThanOrEqual(2);
      expect(maxDiff(r.alpha, ref.alpha)).toBeLessThan(1e-4);
      expect(r.relResidual).toBeLessThan(1e-6);
      for (let i = 0; i < W * H; i++) if (isKnown(c.trimap[i]!)) expect(r.alpha[i]).toBe(c.trimap[i]);
    });
  }

  it('needs fewer iterations than the geometric multigrid for the same answer (textured 128x96)', async () => {
    const W = 128, H = 96;
    const c = randomCase(W, H, 43);
    const img = { width: W, height: H, data: c.image, layout: 'chw' as const };
    const sa = await closedFormMatte(img, c.trimap, { checkEvery: 1 });
    const mg = await closedFormMatte(img, c.trimap, { preconditioner: 'multigrid', checkEvery: 1, coarsestUnknowns: 256 });
    expect(maxDiff(sa.alpha, mg.alpha)).toBeLessThan(1e-3);
    expect(sa.iterations).toBeLessThan(mg.iterations);
  });
});
