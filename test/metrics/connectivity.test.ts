import { describe, expect, it } from 'vitest';
import { connectivityError, thresholdsPassed, type AlphaImage } from '../../matting/metrics/index.ts';

// Images are written as rows (top to bottom) and stored row-major.
const img = (rows: number[][]): AlphaImage => ({ width: rows[0]!.length, height: rows.length, data: Float32Array.from(rows.flat()) });
const full = (w: number, h: number, v: number): AlphaImage => ({ width: w, height: h, data: new Float32Array(w * h).fill(v) });
const transpose = (rows: number[][]): number[][] => rows[0]!.map((_, c) => rows.map((row) => row[c]!));
// Compare the raw sum (error * 1000) to a hand-computed value; per-pixel single rounding ~1e-7.
const expectSum = (conn: number, handSum: number): void => expect(conn * 1000).toBeCloseTo(handSum, 5);

describe('thresholdsPassed (MATLAB single(x)/255 >= 0:0.1:1)', () => {
  it('gets every uint8 decision exactly right, 153 passes 0.6', () => {
    // The f64 shortcut that ports use is wrong at 153 / t = 0.6:
    expect(153 / 255 >= 6 * 0.1).toBe(false);
    expect(thresholdsPassed(153)).toBe(6);
    expect(thresholdsPassed(152)).toBe(5);
    expect(thresholdsPassed(51)).toBe(2);
    expect(thresholdsPassed(102)).toBe(4);
    expect(thresholdsPassed(204)).toBe(8);
    expect(thresholdsPassed(255)).toBe(10);
    expect(thresholdsPassed(254)).toBe(9);
    expect(thresholdsPassed(0)).toBe(0);
    expect(thresholdsPassed(25)).toBe(0);
    expect(thresholdsPassed(26)).toBe(1);
    for (let x = 0; x <= 255; x++) {
      let exact = 0; // exact decimal semantics: x/255 >= k/10  <=>  10x >= 255k
      for (let k = 1; k <= 10; k++) if (10 * x >= 255 * k) exact = k;
      // MATLAB's single-precision decision, emulated independently, agrees for every uint8 value
      // whichever way the colon operator rounded t_k in double.
      const a = Math.fround(Math.fround(x) / 255);
      let single = 0;
      for (let k = 1; k <= 10; k++) {
        const tk = [k / 10, k * 0.1, 1 - (10 - k) * 0.1];
        const passes = tk.map((t) => a >= t);
        expect(new Set(passes).size).toBe(1);
        expect(Math.fround(tk[0]!)).toBe(Math.fround(tk[1]!));
        expect(Math.fround(tk[0]!)).toBe(Math.fround(tk[2]!));
        if (passes[0]) single = k;
      }
      expect(single).toBe(exact);
      expect(thresholdsPassed(x)).toBe(exact);
    }
  });

  it('emulates single precision for non-integer predictions', () => {
    expect(thresholdsPassed(153.00001)).toBe(6);
    expect(thresholdsPassed(152.9999)).toBe(5);
    // 152.99999 rounds to the single 153 -> passes like 153 does in MATLAB.
    expect(Math.fround(152.999999)).toBe(153);
    expect(thresholdsPassed(152.999999)).toBe(6);
    expect(thresholdsPassed(254.5)).toBe(9);
    expect(thresholdsPassed(300)).toBe(10);
    expect(thresholdsPassed(-3)).toBe(0);
  });
});

describe('connectivity error', () => {
  it('is 0 when p == g', () => {
    const p = img([
      [0, 30, 255, 128],
      [153, 77, 200, 10],
      [255, 255, 0, 51],
    ]);
    expect(connectivityError(p, p, full(4, 3, 128))).toBe(0);
  });

  it('hand-computed 2 x 3 case', () => {
    //   g = 255 255 0 | 255 102 0        p = 255 204 51 | 128 255 0
    // min(p, g)/255: 1, 0.8, 0 | 0.502, 0.4, 0  (pixel in the intersection at t iff min >= t)
    // t=0.1: largest comp = {(0,0),(0,1),(1,0),(1,1)}; (0,2),(1,2) -> l = 0
    // t=0.2..0.4: same (0.4 >= 0.4: 102 is an exact tie that passes)
    // t=0.5: (1,1) drops -> l = 0.4     t=0.6: (1,0) drops (0.502 < 0.6) -> l = 0.5
    // t=0.7, 0.8: {(0,0),(0,1)} (204/255 = 0.8 >= 0.8 passes)   t=0.9: (0,1) -> l = 0.8
    // t=1.0: {(0,0)}; never assigned -> l = 1.            l = 1 0.8 0 | 0.5 0.4 0
    // phi = 1 - d [d >= 0.15], d = alpha - l:
    //   phi_p: d = 0, 0, 0.2, 0.002, 0.6, 0     -> 1, 1, 0.8, 1, 0.4, 1
    //   phi_g: d = 0, 0.2, 0, 0.5, 0, 0         -> 1, 0.8, 1, 0.5, 1, 1
    // |diff| = 0, 0.2, 0.2, 0.5, 0.6, 0 -> 1.5 over the full unknown trimap -> 0.0015.
    const g = img([
      [255, 255, 0],
      [255, 102, 0],
    ]);
    const p = img([
      [255, 204, 51],
      [128, 255, 0],
    ]);
    expectSum(connectivityError(p, g, full(3, 2, 128)), 1.5);
    // Only (0,1) and (1,1) unknown: 0.2 + 0.6.
    const tri = img([
      [0, 128, 255],
      [255, 128, 0],
    ]);
    expectSum(connectivityError(p, g, tri), 0.8);
  });

  it('value 153 at t = 0.6', () => {
    // p = 153 255 255, g = 255 255 255 (one row). 153/255 = 0.6 passes t <= 0.6, so the whole row
    // is the component up to 0.6; at t = 0.7 pixel 0 leaves it -> l = 0.6, the others end at l = 1.
    // phi_p(0): d = 0.6 - 0.6 = 0 -> 1; phi_g(0): d = 1 - 0.6 = 0.4 -> 0.6; elsewhere equal.
    // Sum 0.4. (Had 153 failed 0.6, l would be 0.5 and the sum |1 - 0.5| = 0.5.)
    const p = img([[153, 255, 255]]);
    const g = img([[255, 255, 255]]);
    expectSum(connectivityError(p, g, full(3, 1, 128)), 0.4);
    // Same answer for uint8 and f64 buffers.
    const p8 = { ...p, data: Uint8Array.from([153, 255, 255]) };
    const g64 = { ...g, data: Float64Array.from([255, 255, 255]) };
    expect(connectivityError(p8, g64, full(3, 1, 128))).toBe(connectivityError(p, g, full(3, 1, 128)));
  });

  // Two components of 2 pixels each tie for largest at t = 0.1..0.6:
  //   A = (0,3),(0,4): p = g = 255.        B = (2,0),(3,0): p = 255, g = 178 (0.698, fails 0.7).
  // Row-major order meets A first; column-major order (MATLAB) meets B first.
  const tieRows = {
    p: [
      [0, 0, 0, 255, 255],
      [0, 0, 0, 0, 0],
      [255, 0, 0, 0, 0],
      [255, 0, 0, 0, 0],
    ],
    g: [
      [0, 0, 0, 255, 255],
      [0, 0, 0, 0, 0],
      [178, 0, 0, 0, 0],
      [178, 0, 0, 0, 0],
    ],
  };

  it('breaks a tie between equal components by column-major order', () => {
    // MATLAB: B wins t = 0.1..0.6. t=0.1: everything but B -> l = 0 (A included). From t = 0.7
    // the intersection is A alone; B -> l = 0.6.
    //   A: p = g = 1, l = 0: phi 0 and 0.      B: phi_p = 1 - (1 - 0.6) = 0.6; g: d = 0.098 -> 1.
    //   Background: p = g = 0, l = 0: 1 and 1.  Sum = 2 * 0.4 = 0.8.
    // (A winning, i.e. row-major tie-breaking, gives l(A) = 1, l(B) = 0: phi_p(B) = 0,
    //  phi_g(B) = 1 - 0.698 = 0.302 -> sum 0.604. Counting the background as a component would
    //  also give 0.604.)
    const p = img(tieRows.p);
    const g = img(tieRows.g);
    expectSum(connectivityError(p, g, full(5, 4, 128)), 0.8);
    // Transposed layout: now A comes first in column-major order and wins -> 2 * 0.302.
    const pt = img(transpose(tieRows.p));
    const gt = img(transpose(tieRows.g));
    expectSum(connectivityError(pt, gt, full(4, 5, 128)), 2 * (1 - Math.fround(178 / 255)));
  });

  it('uses 4-connectivity', () => {
    // X = (0,0),(1,1) diagonal: p = g = 255. Y = (3,2),(3,3): p = 255, g = 178.
    // 4-connected, Y (2 px) beats the single X pixels up to t = 0.6: all else -> l = 0, then
    // Y -> l = 0.6 at 0.7: phi_p(Y) = 0.6, phi_g(Y) = 1 -> sum 0.8. (8-connected, X would tie with
    // Y and win by column-major order: sum 0.604.)
    const p = img([
      [255, 0, 0, 0],
      [0, 255, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 255, 255],
    ]);
    const g = img([
      [255, 0, 0, 0],
      [0, 255, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 178, 178],
    ]);
    expectSum(connectivityError(p, g, full(4, 4, 128)), 0.8);
  });

  it('treats an empty intersection as an empty component (the MATLAB original crashes)', () => {
    // p = 0 everywhere: intersections all empty, every pixel gets l = 0 at t = 0.1.
    // phi_p = 1; phi_g: 255 -> d = 1 -> 0; 20 -> d = 0.078 < 0.15 -> 1; 60 -> d = 0.235 -> 0.765.
    // Sum = 1 + 0 + 0.235 = 1.235.
    const p = img([[0, 0, 0]]);
    const g = img([[255, 20, 60]]);
    expectSum(connectivityError(p, g, full(3, 1, 128)), 1 + 60 / 255);
  });
});
