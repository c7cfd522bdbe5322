// Gradient error as compute_gradient_loss.m (Ning Xu, 2018) + gaussgradient.m (Guanglei Xiong)
// compute it, with the /1000 that evaluate.m applies:
//   pred = mat2gray(pred); target = mat2gray(target);          % each by its OWN min/max, not /255
//   [gx, gy] = gaussgradient(img, 1.4);                          % 9x9 derivative-of-Gaussian filters
//   amp = sqrt(gx.^2 + gy.^2);
//   loss = sum((single(amp_p) - single(amp_g)).^2 .* (trimap==128)) / 1000
// Filtering is a true convolution (kernel flipped) with replicated borders, as
// imfilter(img, h, 'replicate', 'conv'). Filtering runs in f64 (MATLAB runs it in double); the
// per-pixel error is rounded to single as in MATLAB; the sum is accumulated in f64.

import { type AlphaImage, type Trimap, f32, prepare } from './common.ts';

function gauss(x: number, sigma: number): number {
  return Math.exp(-(x * x) / (2 * sigma * sigma)) / (sigma * Math.sqrt(2 * Math.PI));
}

function dgauss(x: number, sigma: number): number {
  return (-x * gauss(x, sigma)) / (sigma * sigma);
}

function halfSizeOf(sigma: number, epsilon: number): number {
  // ceil, not int(): with sigma = 1.4, epsilon = 0.01 this is ceil(3.62...) = 4, a 9 x 9 filter.
  const half = Math.ceil(sigma * Math.sqrt(-2 * Math.log(Math.sqrt(2 * Math.PI) * sigma * epsilon)));
  if (!Number.isFinite(half) || half < 0) {
    throw new RangeError(`gaussian filter: no valid size for sigma=${sigma}, epsilon=${epsilon}`);
  }
  return half;
}

/**
 * The filters of gaussgradient.m: `hx[(i + half) * size + (j + half)] = gauss(i) * dgauss(j)` for row
 * offset i and column offset j in -half..half (row-major, `size = 2 * half + 1`), scaled to unit
 * Frobenius norm; `hy` is `hx` transposed. `hx` differentiates along columns (x), `hy` along rows (y).
 */
export function gaussianDerivativeFilters(
  sigma = 1.4,
  epsilon = 0.01,
): { hx: Float64Array; hy: Float64Array; size: number } {
  const half = halfSizeOf(sigma, epsilon);
  const size = 2 * half + 1;
  const hx = new Float64Array(size * size);
  let sq = 0;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      const v = gauss(i - half, sigma) * dgauss(j - half, sigma);
      hx[i * size + j] = v;
      sq += v * v;
    }
  }
  const norm = Math.sqrt(sq);
  for (let k = 0; k < hx.length; k++) hx[k] = hx[k]! / norm;
  const hy = new Float64Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) hy[i * size + j] = hx[j * size + i]!;
  return { hx, hy, size };
}

/**
 * MATLAB mat2gray(A) with default limits [min(A(:)) max(A(:))]: `delta*A - min*delta` with
 * delta = 1/(max-min) (imlincomb's form), clipped to [0, 1]. A constant image is returned as
 * double(A) clipped to [0, 1] (mat2gray's divide-by-zero branch); its gradient is 0 either way.
 */
export function mat2gray(data: ArrayLike<number>): Float64Array {
  const n = data.length;
  const out = new Float64Array(n);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (n === 0) return out;
  if (hi === lo) {
    for (let i = 0; i < n; i++) out[i] = Math.max(0, Math.min(data[i]!, 1));
    return out;
  }
  const delta = 1 / (hi - lo);
  const offset = -lo * delta;
  for (let i = 0; i < n; i++) out[i] = Math.max(0, Math.min(delta * data[i]! + offset, 1));
  return out;
}

// 1-D factors of hx: hx(i, j) = gs(i) * ds(j), each factor scaled to unit norm so that the product has
// unit Frobenius norm like the 2-D kernel (||gs ⊗ ds||_F = ||gs|| * ||ds||). Convolving separably
// with replicated borders is exactly the 2-D replicate convolution, since the clamp acts per axis.
function separableFactors(sigma: number, epsilon: number): { gs: Float64Array; ds: Float64Array; half: number } {
  const half = halfSizeOf(sigma, epsilon);
  const size = 2 * half + 1;
  const gs = new Float64Array(size);
  const ds = new Float64Array(size);
  let ng = 0;
  let nd = 0;
  for (let t = 0; t < size; t++) {
    gs[t] = gauss(t - half, sigma);
    ds[t] = dgauss(t - half, sigma);
    ng += gs[t]! * gs[t]!;
    nd += ds[t]! * ds[t]!;
  }
  ng = Math.sqrt(ng);
  nd = Math.sqrt(nd);
  for (let t = 0; t < size; t++) {
    gs[t] = gs[t]! / ng;
    ds[t] = ds[t]! / nd;
  }
  return { gs, ds, half };
}

// out(r, c) = sum_j k(j) * src(r, clamp(c - j)) for offsets j in -half..half (true convolution).
function convAlongRows(src: Float64Array, w: number, h: number, k: Float64Array, half: number, out: Float64Array): void {
  const size = 2 * half + 1;
  const pad = new Float64Array(w + 2 * half);
  for (let r = 0; r < h; r++) {
    const base = r * w;
    for (let c = 0; c < w; c++) pad[c + half] = src[base + c]!;
    for (let t = 0; t < half; t++) {
      pad[t] = src[base]!;
      pad[w + half + t] = src[base + w - 1]!;
    }
    for (let c = 0; c < w; c++) {
      // offset j = t - half reads src column c - j, i.e. pad index c + half - j = c + 2*half - t.
      let s = 0;
      const top = c + 2 * half;
      for (let t = 0; t < size; t++) s += k[t]! * pad[top - t]!;
      out[base + c] = s;
    }
  }
}

// out(r, c) = sum_i k(i) * src(clamp(r - i), c) for offsets i in -half..half (true convolution).
function convAlongCols(src: Float64Array, w: number, h: number, k: Float64Array, half: number, out: Float64Array): void {
  const size = 2 * half + 1;
  const pad = new Float64Array(h + 2 * half);
  for (let c = 0; c < w; c++) {
    for (let r = 0; r < h; r++) pad[r + half] = src[r * w + c]!;
    for (let t = 0; t < half; t++) {
      pad[t] = src[c]!;
      pad[h + half + t] = src[(h - 1) * w + c]!;
    }
    for (let r = 0; r < h; r++) {
      let s = 0;
      const top = r + 2 * half;
      for (let t = 0; t < size; t++) s += k[t]! * pad[top - t]!;
      out[r * w + c] = s;
    }
  }
}

/**
 * Gradient magnitude of gaussgradient.m, sqrt(gx^2 + gy^2), of an already normalised image
 * (row-major, w x h): gx = img (*) hx, gy = img (*) hy, replicated borders.
 */
export function gaussGradientMagnitude(img: Float64Array, w: number, h: number, sigma = 1.4, epsilon = 0.01): Float64Array {
  const { gs, ds, half } = separableFactors(sigma, epsilon);
  const n = w * h;
  const tmp = new Float64Array(n);
  const gx = new Float64Array(n);
  const gy = new Float64Array(n);
  // hx(i, j) = gs(i) ds(j): derivative along columns, smoothing along rows.
  convAlongRows(img, w, h, ds, half, tmp);
  convAlongCols(tmp, w, h, gs, half, gx);
  // hy(i, j) = hx(j, i) = ds(i) gs(j): smoothing along columns, derivative along rows.
  convAlongRows(img, w, h, gs, half, tmp);
  convAlongCols(tmp, w, h, ds, half, gy);
  for (let i = 0; i < n; i++) gx[i] = Math.sqrt(gx[i]! * gx[i]! + gy[i]! * gy[i]!);
  return gx;
}

/** Internal: gradient error over a precomputed unknown mask (sizes already checked). */
export function gradientFromMask(p: AlphaImage, g: AlphaImage, mask: Uint8Array): number {
  const { width: w, height: h } = p;
  const ampP = gaussGradientMagnitude(mat2gray(p.data), w, h);
  const ampG = gaussGradientMagnitude(mat2gray(g.data), w, h);
  let sum = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    const e = f32(f32(ampP[i]!) - f32(ampG[i]!));
    sum += f32(e * e);
  }
  return sum / 1000;
}

/**
 * Gradient error over the unknown region, **divided by 1000** (the division evaluate.m applies). Each image
 * is normalised by its own min and max (mat2gray), not by 255.
 */
export function gradientError(p: AlphaImage, g: AlphaImage, trimap: Trimap): number {
  return gradientFromMask(p, g, prepare(p, g, trimap));
}
