// Germer et al.'s multi-level foreground estimation in plain f64, written from the paper's update
// rule (not from the WGSL): the red-black block Gauss-Seidel of matting/classical/foreground.ts,
// pixel by pixel, so the GPU result must agree to float32 rounding.

export interface ForegroundRef {
  F: Float64Array; // planar [3, H, W]
  B: Float64Array;
}

/** image planar [3, H, W], alpha [H, W], both in [0, 1]. */
export function foregroundReference(
  image: ArrayLike<number>,
  alpha: ArrayLike<number>,
  W: number,
  H: number,
  o: { eps?: number; gw?: number; small?: number; big?: number; smallSize?: number } = {},
): ForegroundRef {
  const eps = o.eps ?? 1e-5, gw = o.gw ?? 1, small = o.small ?? 10, big = o.big ?? 2, smallSize = o.smallSize ?? 32;
  const N = W * H;
  const levels = Math.ceil(Math.log2(Math.max(W, H)));
  const sizes: [number, number][] = [];
  if (levels === 0) sizes.push([W, H]);
  else for (let l = 0; l <= levels; l++) sizes.push([Math.round(Math.pow(W, l / levels)), Math.round(Math.pow(H, l / levels))]);

  const mean = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < N; i++) mean[c]! += image[c * N + i]!;
    mean[c]! /= N;
  }
  let F = new Float64Array(3).map((_, c) => mean[c]!);
  let B = Float64Array.from(F);
  let pw = 1, ph = 1;
  sizes.forEach(([w, h], l) => {
    const nearestX = (x: number, from: number) => Math.min(Math.floor((x * from) / w), from - 1);
    const nearestY = (y: number, from: number) => Math.min(Math.floor((y * from) / h), from - 1);
    if (l > 0) {
      const F2 = new Float64Array(3 * w * h), B2 = new Float64Array(3 * w * h);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const q = nearestY(y, ph) * pw + nearestX(x, pw);
        for (let c = 0; c < 3; c++) {
          F2[c * w * h + y * w + x] = F[c * pw * ph + q]!;
          B2[c * w * h + y * w + x] = B[c * pw * ph + q]!;
        }
      }
      F = F2;
      B = B2;
    }
    const n = w * h;
    const full = (x: number, y: number) => nearestY(y, H) * W + nearestX(x, W);
    const sweeps = Math.min(w, h) <= smallSize ? small : big;
    for (let it = 0; it < sweeps; it++) {
      for (const parity of [0, 1]) {
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
          if ((x + y) % 2 !== parity) continue;
          const s = full(x, y);
          const a0 = alpha[s]!, a1 = 1 - a0;
          let a00 = a0 * a0, a11 = a1 * a1;
          const a01 = a0 * a1;
          const b0 = [0, 1, 2].map((c) => a0 * image[c * N + s]!);
          const b1 = [0, 1, 2].map((c) => a1 * image[c * N + s]!);
          const nb = [[Math.max(x - 1, 0), y], [Math.min(x + 1, w - 1), y], [x, Math.max(y - 1, 0)], [x, Math.min(y + 1, h - 1)]];
          for (const [x2, y2] of nb) {
            const aij = eps + gw * Math.abs(a0 - alpha[full(x2!, y2!)]!);
            a00 += aij;
            a11 += aij;
            for (let c = 0; c < 3; c++) {
              b0[c]! += aij * F[c * n + y2! * w + x2!]!;
              b1[c]! += aij * B[c * n + y2! * w + x2!]!;
            }
          }
          const det = a00 * a11 - a01 * a01;
          for (let c = 0; c < 3; c++) {
            F[c * n + y * w + x] = Math.min(1, Math.max(0, (a11 * b0[c]! - a01 * b1[c]!) / det));
            B[c * n + y * w + x] = Math.min(1, Math.max(0, (a00 * b1[c]! - a01 * b0[c]!) / det));
          }
        }
      }
    }
    pw = w;
    ph = h;
  });
  return { F, B };
}
