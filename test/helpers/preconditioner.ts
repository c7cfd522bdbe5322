/**
 * Checks of a CG preconditioner (matting/classical: multigrid, aggregation) on the GPU, shared by
 * their tests: one application z = M r, and the properties CG needs of M.
 */
import { expect } from 'vitest';
import { engine, Tensor } from '../../engine/index.ts';
import { PCG_PER, type PcgPreconditioner } from '../../matting/classical/cg.ts';
import { mulberry32 } from '../reference/array.ts';

/** z = M r for planes r, z of r.length floats over m unknowns. */
export async function applyPreconditioner(pre: PcgPreconditioner, r: Float32Array, m: number): Promise<Float32Array> {
  const rb = Tensor.empty([r.length]), zb = Tensor.empty([r.length]), part = Tensor.empty([2 * Math.ceil(m / PCG_PER)]);
  try {
    engine().write(rb.buffer, 0, r);
    pre.apply(rb.buffer, zb.buffer, part.buffer);
    return await zb.data();
  } finally {
    for (const t of [rb, zb, part]) t.dispose();
  }
}

/**
 * Expects <M r1, r2> = <r1, M r2> (to 1e-5 relative) and <M r1, r1> > 0 for random r1, r2 on the
 * unknowns `pixels` of an N-plane; returns r1 and z1 = M r1 for further checks.
 */
export async function expectSymmetricPositive(pre: PcgPreconditioner, pixels: ArrayLike<number>, N: number): Promise<{ r1: Float32Array; z1: Float32Array }> {
  const rng = mulberry32(9);
  const r1 = new Float32Array(N), r2 = new Float32Array(N);
  for (let k = 0; k < pixels.length; k++) { const i = pixels[k]!; r1[i] = rng() - 0.5; r2[i] = rng() - 0.5; }
  const z1 = await applyPreconditioner(pre, r1, pixels.length), z2 = await applyPreconditioner(pre, r2, pixels.length);
  let a = 0, b = 0, p1 = 0, scale = 0;
  for (let k = 0; k < pixels.length; k++) {
    const i = pixels[k]!;
    a += z1[i]! * r2[i]!; b += r1[i]! * z2[i]!; p1 += z1[i]! * r1[i]!; scale += Math.abs(z1[i]! * r2[i]!);
  }
  expect(Math.abs(a - b) / scale).toBeLessThan(1e-5);
  expect(p1).toBeGreaterThan(0);
  return { r1, z1 };
}
