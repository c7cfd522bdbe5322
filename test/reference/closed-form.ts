// Closed-form matting (Levin et al. 2008) in plain f64, from the paper's formulas: the matting
// Laplacian assembled entry by entry with an explicit 3x3 inverse (adjugate / determinant), and the
// linear system (L + lambda D) alpha = lambda D b solved directly (dense Gaussian elimination with
// partial pivoting: small test images only). Independent of matting/classical (no Cholesky, no
// matrix-free passes).

import { mulberry32 } from './array.ts';

/**
 * Test data: a random image (planar [3, H, W], colours 0.5 +- contrast / 2) and a trimap with known
 * background left, known foreground right and a ragged unknown band between (x / (W - 1) jittered
 * by +-0.15; below `lo` background, above `hi` foreground).
 */
export function raggedBandCase(W: number, H: number, seed: number, lo: number, hi: number, contrast = 1) {
  const rng = mulberry32(seed);
  const n = W * H;
  const image = Float32Array.from({ length: 3 * n }, () => (contrast === 1 ? rng() : 0.5 + contrast * (rng() - 0.5)));
  const trimap = new Float32Array(n);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const u = x / (W - 1) + 0.3 * (rng() - 0.5);
    trimap[y * W + x] = u < lo ? 0 : u > hi ? 1 : 0.5;
  }
  return { image, trimap };
}

/** Sparse symmetric L as row maps: L[i].get(j). image planar [3, H, W]; known[i] = 1 for trimap 0/1. */
export function laplacianReference(image: ArrayLike<number>, known: ArrayLike<number>, W: number, H: number, eps = 1e-7): Map<number, number>[] {
  const N = W * H;
  const L = Array.from({ length: N }, () => new Map<number, number>());
  const add = (i: number, j: number, v: number) => L[i]!.set(j, (L[i]!.get(j) ?? 0) + v);
  for (let cy = 1; cy < H - 1; cy++) {
    for (let cx = 1; cx < W - 1; cx++) {
      const idx: number[] = [];
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) idx.push((cy + dy) * W + cx + dx);
      if (idx.every((i) => known[i] === 1)) continue;
      const col = idx.map((i) => [image[i]!, image[N + i]!, image[2 * N + i]!]);
      const mu = [0, 1, 2].map((c) => col.reduce((s, v) => s + v[c]!, 0) / 9);
      const S = [0, 1, 2].map((a) => [0, 1, 2].map((b) => col.reduce((s, v) => s + v[a]! * v[b]!, 0) / 9 - mu[a]! * mu[b]! + (a === b ? eps / 9 : 0)));
      const inv = inverse3(S);
      for (let p = 0; p < 9; p++) {
        for (let q = 0; q < 9; q++) {
          const dp = [0, 1, 2].map((c) => col[p]![c]! - mu[c]!), dq = [0, 1, 2].map((c) => col[q]![c]! - mu[c]!);
          let quad = 0;
          for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) quad += dp[a]! * inv[a]![b]! * dq[b]!;
          add(idx[p]!, idx[q]!, (p === q ? 1 : 0) - (1 + quad) / 9);
        }
      }
    }
  }
  return L;
}

function inverse3(m: number[][]): number[][] {
  const [a, b, c] = m[0]!, [d, e, f] = m[1]!, [g, h, k] = m[2]!;
  const A = e * k - f * h, B = -(d * k - f * g), C = d * h - e * g;
  const det = a! * A + b! * B + c! * C;
  return [
    [A / det, -(b! * k! - c! * h!) / det, (b! * f! - c! * e!) / det],
    [B / det, (a! * k! - c! * g!) / det, -(a! * f! - c! * d!) / det],
    [C / det, -(a! * h! - b! * g!) / det, (a! * e! - b! * d!) / det],
  ];
}

/** y = L x. */
export function applyReference(L: Map<number, number>[], x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(L.length);
  L.forEach((row, i) => row.forEach((v, j) => (y[i]! += v * x[j]!)));
  return y;
}

/**
 * The exact closed-form alpha: (L + lambda D) alpha = lambda D b solved directly, clipped to [0, 1],
 * known pixels written with their trimap value. trimap in [0, 1] (0/1 known).
 */
export function closedFormReference(image: ArrayLike<number>, trimap: ArrayLike<number>, W: number, H: number, lambda = 100, eps = 1e-7): { alpha: Float64Array; raw: Float64Array } {
  const N = W * H;
  const known = Array.from(trimap, (t) => (t === 0 || t === 1 ? 1 : 0));
  const L = laplacianReference(image, known, W, H, eps);
  const A = new Float64Array(N * N);
  const rhs = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    L[i]!.forEach((v, j) => (A[i * N + j] = v));
    if (known[i]) {
      A[i * N + i]! += lambda;
      rhs[i] = lambda * trimap[i]!;
    }
    if (A[i * N + i] === 0) A[i * N + i] = 1; // a pixel in no window and unknown: decoupled, alpha 0 (overwritten below)
  }
  const raw = solveDense(A, rhs, N);
  const alpha = Float64Array.from(raw, (v, i) => (known[i] ? trimap[i]! : L[i]!.size === 0 ? 0.5 : Math.min(1, Math.max(0, v))));
  return { alpha, raw };
}

function solveDense(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(A[r * n + c]!) > Math.abs(A[piv * n + c]!)) piv = r;
    if (piv !== c) {
      for (let k = 0; k < n; k++) [A[c * n + k], A[piv * n + k]] = [A[piv * n + k]!, A[c * n + k]!];
      [x[c], x[piv]] = [x[piv]!, x[c]!];
    }
    const d = A[c * n + c]!;
    for (let r = c + 1; r < n; r++) {
      const f = A[r * n + c]! / d;
      if (f === 0) continue;
      for (let k = c; k < n; k++) A[r * n + k]! -= f * A[c * n + k]!;
      x[r]! -= f * x[c]!;
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r]!;
    for (let k = r + 1; k < n; k++) s -= A[r * n + k]! * x[k]!;
    x[r] = s / A[r * n + r]!;
  }
  return x;
}
