import { mulberry32 as rng } from '../reference/array.ts';
import { describe, expect, it } from 'vitest';
import {
  gaussGradientMagnitude,
  gaussianDerivativeFilters,
  gradientError,
  mat2gray,
  sadError,
  type AlphaImage,
} from '../../matting/metrics/index.ts';

// Written out here independently of the module under test.
const SIGMA = 1.4;
const gaussRef = (x: number): number => Math.exp((-x * x) / (2 * SIGMA * SIGMA)) / (SIGMA * Math.sqrt(2 * Math.PI));
const dgaussRef = (x: number): number => (-x * gaussRef(x)) / (SIGMA * SIGMA);


const relErr = (a: number, b: number): number => Math.abs(a / b - 1);

describe('gaussianDerivativeFilters', () => {
  it('is 9 x 9 for sigma 1.4, epsilon 0.01 (halfsize = ceil(3.62...) = 4, not int() = 3)', () => {
    // 1.4 * sqrt(-2 ln(sqrt(2 pi) * 1.4 * 0.01)) = 1.4 * sqrt(-2 ln 0.0350945) = 1.4 * 2.5883 = 3.6236
    expect(1.4 * Math.sqrt(-2 * Math.log(Math.sqrt(2 * Math.PI) * 1.4 * 0.01))).toBeCloseTo(3.6236, 3);
    const { hx, hy, size } = gaussianDerivativeFilters();
    expect(size).toBe(9);
    expect(hx.length).toBe(81);
    expect(hy.length).toBe(81);
  });

  it('matches gauss(i) * dgauss(j) scaled to unit Frobenius norm; hy = hx transposed', () => {
    const { hx, hy } = gaussianDerivativeFilters(1.4, 0.01);
    const ref: number[] = [];
    for (let i = -4; i <= 4; i++) for (let j = -4; j <= 4; j++) ref.push(gaussRef(i) * dgaussRef(j));
    const norm = Math.sqrt(ref.reduce((s, v) => s + v * v, 0));
    for (let k = 0; k < 81; k++) expect(hx[k]).toBeCloseTo(ref[k]! / norm, 15);
    for (let i = 0; i < 9; i++) for (let j = 0; j < 9; j++) expect(hy[i * 9 + j]).toBe(hx[j * 9 + i]);
    // Shape: zero centre column (dgauss(0) = 0), negative for positive column offsets, odd in j.
    for (let i = 0; i < 9; i++) {
      expect(Math.abs(hx[i * 9 + 4]!)).toBe(0);
      for (let j = 1; j <= 4; j++) {
        expect(hx[i * 9 + 4 + j]!).toBeLessThan(0);
        expect(hx[i * 9 + 4 - j]).toBeCloseTo(-hx[i * 9 + 4 + j]!, 16);
      }
    }
    let fro = 0;
    for (const v of hx) fro += v * v;
    expect(fro).toBeCloseTo(1, 14);
  });
});

// Direct 2-D convolution with the 9 x 9 kernels and replicated borders, as
// imfilter(img, h, 'replicate', 'conv'): out(r, c) = sum h(a, b) img(clamp(r - a), clamp(c - b)).
function naiveMagnitude(img: Float64Array, w: number, h: number): Float64Array {
  const { hx, hy } = gaussianDerivativeFilters();
  const clamp = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
  const out = new Float64Array(w * h);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      let gx = 0;
      let gy = 0;
      for (let a = -4; a <= 4; a++) {
        for (let b = -4; b <= 4; b++) {
          const v = img[clamp(r - a, h - 1) * w + clamp(c - b, w - 1)]!;
          gx += hx[(a + 4) * 9 + (b + 4)]! * v;
          gy += hy[(a + 4) * 9 + (b + 4)]! * v;
        }
      }
      out[r * w + c] = Math.hypot(gx, gy);
    }
  }
  return out;
}

describe('gradient error', () => {
  it('ramp: constant magnitude from the formula in the interior, /1000', () => {
    // p(r, c) = 10 c on a 12 x 20 image; mat2gray -> c / 19. g is flat (zero gradient).
    // gx = sum_{i,j} hx(i,j) (c - j) / 19 = -sum_i gauss(i) * sum_j j dgauss(j) / (N * 19)
    //    = sum_i gauss(i) * sum_j j^2 gauss(j) / sigma^2 / (N * 19), N = ||gauss|| * ||dgauss||;
    // gy = sum_i dgauss(i) * (...) = 0. Unknown: columns 4..15 (no border effect), all 12 rows.
    const w = 20;
    const h = 12;
    const p = new Float64Array(w * h);
    const g = new Float64Array(w * h).fill(77);
    const tri = new Uint8Array(w * h);
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        p[r * w + c] = 10 * c;
        tri[r * w + c] = c >= 4 && c <= 15 ? 128 : 255;
      }
    }
    let sg = 0;
    let sjj = 0;
    let ng = 0;
    let nd = 0;
    for (let i = -4; i <= 4; i++) {
      sg += gaussRef(i);
      sjj += (i * i * gaussRef(i)) / (SIGMA * SIGMA);
      ng += gaussRef(i) ** 2;
      nd += dgaussRef(i) ** 2;
    }
    const amp = (sg * sjj) / (Math.sqrt(ng) * Math.sqrt(nd) * 19);
    const expected = (12 * 12 * amp * amp) / 1000;
    const P: AlphaImage = { width: w, height: h, data: p };
    const G: AlphaImage = { width: w, height: h, data: g };
    const T: AlphaImage = { width: w, height: h, data: tri };
    expect(relErr(gradientError(P, G, T), expected)).toBeLessThan(1e-6);
    expect(relErr(gradientError(G, P, T), expected)).toBeLessThan(1e-6);
    // The magnitude itself, interior pixels.
    const mag = gaussGradientMagnitude(mat2gray(p), w, h);
    for (let r = 0; r < h; r++) for (let c = 4; c <= 15; c++) expect(relErr(mag[r * w + c]!, amp)).toBeLessThan(1e-12);
    // The same ramp running down the rows (transposed) gives the same error.
    const pt = new Float64Array(w * h);
    const tt = new Uint8Array(w * h);
    for (let r = 0; r < w; r++) for (let c = 0; c < h; c++) { pt[r * h + c] = p[c * w + r]!; tt[r * h + c] = tri[c * w + r]!; }
    const Pt: AlphaImage = { width: h, height: w, data: pt };
    const Gt: AlphaImage = { width: h, height: w, data: g };
    expect(relErr(gradientError(Pt, Gt, { width: h, height: w, data: tt }), expected)).toBeLessThan(1e-6);
  });

  it('normalises each image by its own min and max (mat2gray), not by 255', () => {
    const w = 16;
    const h = 10;
    const rand = rng(7);
    const a = new Float64Array(w * h);
    for (let i = 0; i < a.length; i++) a[i] = Math.round(rand() * 100);
    a[0] = 0;
    a[1] = 100;
    const b = a.map((v) => 2 * v + 20); // same image after an affine map: identical after mat2gray
    const tri = { width: w, height: h, data: new Uint8Array(w * h).fill(128) };
    const A = { width: w, height: h, data: a };
    const B = { width: w, height: h, data: b };
    expect(sadError(A, B, tri)).toBeGreaterThan(0);
    expect(gradientError(A, B, tri)).toBe(0);
  });

  it('separable filtering equals the direct 9 x 9 replicate convolution, borders included', () => {
    const w = 13;
    const h = 7; // smaller than the kernel in one direction: heavy replication
    const rand = rng(42);
    const img = new Float64Array(w * h);
    for (let i = 0; i < img.length; i++) img[i] = rand();
    const fast = gaussGradientMagnitude(img, w, h);
    const slow = naiveMagnitude(img, w, h);
    for (let i = 0; i < img.length; i++) expect(Math.abs(fast[i]! - slow[i]!)).toBeLessThan(1e-13);

    // And the full error against a direct implementation on random mattes and trimap.
    const p = new Uint8Array(w * h);
    const g = new Uint8Array(w * h);
    const t = new Uint8Array(w * h);
    for (let i = 0; i < p.length; i++) {
      p[i] = Math.floor(rand() * 256);
      g[i] = Math.floor(rand() * 256);
      t[i] = [0, 128, 255][Math.floor(rand() * 3)]!;
    }
    const norm = (x: Uint8Array): Float64Array => {
      const lo = Math.min(...x);
      const hi = Math.max(...x);
      return Float64Array.from(x, (v) => (v - lo) / (hi - lo));
    };
    const mp = naiveMagnitude(norm(p), w, h);
    const mg = naiveMagnitude(norm(g), w, h);
    let expected = 0;
    for (let i = 0; i < p.length; i++) if (t[i] === 128) expected += (mp[i]! - mg[i]!) ** 2;
    expected /= 1000;
    expect(relErr(gradientError({ width: w, height: h, data: p }, { width: w, height: h, data: g }, { width: w, height: h, data: t }), expected)).toBeLessThan(1e-6);
  });

  it('is 0 when p == g, and for flat images', () => {
    const w = 9;
    const h = 11;
    const rand = rng(3);
    const p = Uint8Array.from({ length: w * h }, () => Math.floor(rand() * 256));
    const tri = { width: w, height: h, data: new Uint8Array(w * h).fill(128) };
    const P = { width: w, height: h, data: p };
    expect(gradientError(P, P, tri)).toBe(0);
    const flat1 = { width: w, height: h, data: new Uint8Array(w * h).fill(0) };
    const flat2 = { width: w, height: h, data: new Uint8Array(w * h).fill(200) };
    // Flat images: mat2gray maps 0 -> 0 and 200 -> clip(200, 0, 1) = 1; the kernel taps sum to 0
    // up to rounding, so the error is 0 up to ~1e-32 (as in MATLAB).
    expect(gradientError(flat1, flat2, tri)).toBeLessThan(1e-20);
  });
});
