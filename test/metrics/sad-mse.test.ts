import { describe, expect, it } from 'vitest';
import { allMetrics, mseError, sadError, type AlphaImage } from '../../matting/metrics/index.ts';

const img = (width: number, height: number, values: number[]): AlphaImage => ({ width, height, data: Float32Array.from(values) });

// Hand-computed 3 x 3 case (rows listed top to bottom).
//   p:       0 255 100 |  50 128 200 | 255   0  10
//   g:     255 200 100 |  60 128 250 |   0  51 200
//   trimap:  0 128 128 | 128 128 128 | 255 128 129
// Unknown (exactly 128): (0,1) (0,2) (1,0) (1,1) (1,2) (2,1) -> 6 pixels. The known pixels (0,0),
// (2,0) and (2,2) (129 is not unknown) differ by 255, 255, 190 and must be ignored.
// |p - g| on U: 55, 0, 10, 0, 50, 51 -> sum 166.
//   SAD = 166 / 255 / 1000 = 0.000650980392...
// (p - g)^2 on U: 3025 + 0 + 100 + 0 + 2500 + 2601 = 8226.
//   MSE = 8226 / 255^2 / 6 = 8226 / 390150 = 0.0210841984...
const relErr = (a: number, b: number): number => Math.abs(a / b - 1);

const P = img(3, 3, [0, 255, 100, 50, 128, 200, 255, 0, 10]);
const G = img(3, 3, [255, 200, 100, 60, 128, 250, 0, 51, 200]);
const T = img(3, 3, [0, 128, 128, 128, 128, 128, 255, 128, 129]);

describe('SAD and MSE', () => {
  it('hand-computed 3x3 case', () => {
    // Per-pixel values are rounded to single precision as in MATLAB: agree to ~1e-7 relative.
    expect(relErr(sadError(P, G, T), 166 / 255 / 1000)).toBeLessThan(1e-6);
    expect(relErr(mseError(P, G, T), 8226 / 390150)).toBeLessThan(1e-6);
  });

  it('are symmetric in p and g and accept uint8 / f64 buffers alike', () => {
    const p8 = { ...P, data: Uint8Array.from(P.data as Float32Array) };
    const g64 = { ...G, data: Float64Array.from(G.data as Float32Array) };
    expect(sadError(p8, g64, T)).toBe(sadError(P, G, T));
    expect(mseError(g64, p8, T)).toBe(mseError(P, G, T));
  });

  it('are 0 when p == g', () => {
    expect(sadError(P, P, T)).toBe(0);
    expect(mseError(G, G, T)).toBe(0);
  });

  it('MSE is NaN and SAD 0 without unknown pixels; allMetrics reports the count', () => {
    const none = img(3, 3, [0, 255, 0, 0, 255, 0, 127, 129, 0]);
    expect(Number.isNaN(mseError(P, G, none))).toBe(true);
    expect(sadError(P, G, none)).toBe(0);
    const m = allMetrics(P, G, none);
    expect(m.unknownPixels).toBe(0);
    expect(Number.isNaN(m.mse)).toBe(true);
    expect(m.sad).toBe(0);
    expect(m.grad).toBe(0);
    expect(m.conn).toBe(0);
    expect(allMetrics(P, G, T).unknownPixels).toBe(6);
  });

  it('accepts an already thresholded unknown mask', () => {
    const mask = { width: 3, height: 3, unknown: [false, true, true, true, true, true, false, true, false] };
    expect(sadError(P, G, mask)).toBe(sadError(P, G, T));
    expect(mseError(P, G, mask)).toBe(mseError(P, G, T));
  });

  it('rejects mismatched sizes', () => {
    expect(() => sadError(P, img(9, 1, Array(9).fill(0)), T)).toThrow(RangeError);
    expect(() => mseError(P, G, img(3, 2, Array(6).fill(128)))).toThrow(RangeError);
    expect(() => sadError({ width: 3, height: 3, data: [1, 2] }, G, T)).toThrow(RangeError);
  });
});
