/**
 * A plane whose Winograd tiles exceed one 128 MiB binding: 64 channels at 320x320 under F(2x2,5x5)
 * transform into 236 MB of V (the paper's last decoder conv), so the launchers run in ranges of
 * tiles. Spot checks of the forward (outputs on either side of
 * the range boundaries, the borders) and of the weight gradient (one partial slab per range, summed)
 * against f64.
 */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { hashValue } from '../reference/array.ts';
import { tensor } from '../../engine/index.ts';
import { keep } from '../../engine/scope.ts';
import { Tensor } from '../../engine/tensor.ts';
import { conv2dGeometry, launchConvBackwardWeight, launchConvForward } from '../../engine/ops/conv.ts';
import { parseWinogradTile, variantApplies } from '../../engine/autotune.ts';
import { winogradGeometryOf, winogradRangeTiles, winogradTiles } from '../../engine/kernels/conv/winograd.ts';

useEngine();

const [C, H, W, O, K] = [64, 320, 320, 64, 5];

describe('Winograd F(2x2,5x5) over a plane larger than one binding', () => {
  const g = conv2dGeometry([1, C, H, W], [O, C, K, K], { padding: 'same' });
  const variant = 'winograd-8x32v';
  const xd = Float32Array.from({ length: C * H * W }, (_, i) => hashValue(i, 1));

  it('runs in more than one range of tiles', () => {
    const wg = winogradGeometryOf('forward', g)!;
    const tile = parseWinogradTile(variant)!;
    const { TH, TW } = winogradTiles(wg, 2);
    expect(winogradRangeTiles(wg, tile)).toBeLessThan(TH * TW);
    expect(winogradRangeTiles(wg, tile)).toBeGreaterThan(0);
  });

  it('gives the f64 forward around the range boundaries', async (ctx) => {
    if (!variantApplies('forward', g, variant)) return ctx.skip(); // the adapter lacks subgroups of 8 lanes
    const wd = Float32Array.from({ length: O * C * K * K }, (_, i) => hashValue(i, 2) * 0.1);
    const x = keep(tensor(xd, [1, C, H, W]));
    const w = keep(tensor(wd, [O, C, K, K]));
    const y = Tensor.empty([1, O, H, W]);
    launchConvForward(g, x, w, null, y, variant);
    const yd = await y.data();
    const range = winogradRangeTiles(winogradGeometryOf('forward', g)!, parseWinogradTile(variant)!);
    // the tile rows (2 output rows each) around the first range boundary, and the corners
    const boundaryRow = 2 * Math.floor(range / (W / 2));
    const boundaryCol = 2 * (range % (W / 2));
    const spots: [number, number, number][] = [
      [0, 0, 0], [63, 319, 319], [5, boundaryRow, boundaryCol], [6, boundaryRow, Math.max(0, boundaryCol - 1)],
      [7, boundaryRow + 1, boundaryCol + 1], [8, Math.max(0, boundaryRow - 1), 319], [40, 160, 3],
    ];
    for (const [o, oy, ox] of spots) {
      let want = 0;
      for (let c = 0; c < C; c++) {
        for (let ky = 0; ky < K; ky++) {
          const iy = oy + ky - 2;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < K; kx++) {
            const ix = ox + kx - 2;
            if (ix >= 0 && ix < W) want += xd[(c * H + iy) * W + ix]! * wd[((o * C + c) * K + ky) * K + kx]!;
          }
        }
      }
      expect(Math.abs(yd[(o * H + oy) * W + ox]! - want), `o ${o} (${oy},${ox})`).toBeLessThan(1e-4 + 1e-4 * Math.abs(want));
    }
    for (const t of [x, w, y]) t.dispose();
  }, 300_000);

  it('gives the f64 weight gradient summed over the ranges', async (ctx) => {
    if (!variantApplies('backward-weights', g, variant)) return ctx.skip(); // the adapter lacks subgroups of 8 lanes
    const dyd = Float32Array.from({ length: O * H * W }, (_, i) => hashValue(i, 3));
    const x = keep(tensor(xd, [1, C, H, W]));
    const dy = keep(tensor(dyd, [1, O, H, W]));
    const dw = launchConvBackwardWeight(g, x, dy, variant);
    const dwd = await dw.data();
    const spots: [number, number, number, number][] = [[0, 0, 0, 0], [63, 63, 4, 4], [17, 40, 2, 2], [5, 9, 0, 3]];
    for (const [o, c, ky, kx] of spots) {
      let want = 0, scale = 0;
      for (let oy = 0; oy < H; oy++) {
        const iy = oy + ky - 2;
        if (iy < 0 || iy >= H) continue;
        for (let ox = 0; ox < W; ox++) {
          const ix = ox + kx - 2;
          if (ix < 0 || ix >= W) continue;
          const p = dyd[(o * H + oy) * W + ox]! * xd[(c * H + iy) * W + ix]!;
          want += p;
          scale += Math.abs(p);
        }
      }
      // a sum of ~100k products: the bound is relative to the sum of their magnitudes
      expect(Math.abs(dwd[((o * C + c) * K + ky) * K + kx]! - want), `o ${o} c ${c} (${ky},${kx})`).toBeLessThan(1e-5 * scale);
    }
    for (const t of [x, dy, dw]) t.dispose();
  }, 300_000);
});
