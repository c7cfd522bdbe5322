/**
 * The launcher of the Winograd F(2x2,3x3) kernels (kernels/conv/winograd.ts): weights transformed
 * once per call, then per batch chunk (so that V and M fit one binding) the input transform, the 16
 * GEMMs in one dispatch and the output transform with bias and ReLU. Serves a 3x3 stride-1 conv's
 * forward and its input gradient (ops/conv.ts picks the geometry and weight layout), and, as
 * F(3x3,2x2), its weight gradient.
 */
import { engine } from '../engine.ts';
import { Tensor } from '../tensor.ts';
import { grid1d } from '../kernels/kernel.ts';
import { maxBindingElements, windowOf } from '../kernels/binding.ts';
import type { WeightLayout } from '../kernels/conv/direct.ts';
import {
  winogradChannels, winogradGemmKernel, winogradInputKernel, winogradOutputGradKernel, winogradOutputKernel, winogradRangeTiles,
  outputSide, winogradPositions, winogradTiles, winogradWeightGradKernel, winogradWeightKernel, type WinogradGeometry, type WinogradTile,
} from '../kernels/conv/winograd.ts';

const u32 = (v: number): number => v >>> 0; // offsets may wrap: the kernels' u32 arithmetic is modular

/** A tensor's first `n` elements as one binding (the pool may hand out a larger buffer). */
const head = (t: Tensor, n: number) => windowOf(t.buffer, 0, n).slice;

/**
 * `positions` GEMMs M[pos][o][t] = sum_c U[pos][c][o] V[pos][c][t] (C summed, Op x tp products per
 * position; 16 for the Winograd passes, 1 for ops/conv-cols.ts). uOff, vOff: where U and V start
 * within their bindings, in U's elements (vec4s with tile.u4) and in vec4s.
 */
export function dispatchGemm(C: number, Op: number, tp: number, tile: WinogradTile, U: GPUBufferBinding, V: GPUBufferBinding, M: GPUBufferBinding, positions = 16, uOff = 0, vOff = 0): void {
  const groups = tp / tile.P;
  const wgSize = Math.min(64, Math.ceil(groups / 8) * 8);
  engine().dispatch(winogradGemmKernel(C, Op, tile, wgSize), { groups, tp4: tp / 4, uOff, vOff }, [U, V, M], [Op / tile.TN, Math.ceil(groups / wgSize), positions]);
}

/** The tile ranges [t0, t1) of a launch over all N samples, and the samples [n0, n1) each touches. */
function tileRanges(total: number, perRange: number, sampleTiles: number): { t0: number; t1: number; n0: number; n1: number }[] {
  const out = [];
  for (let t0 = 0; t0 < total; t0 += perRange) {
    const t1 = Math.min(total, t0 + perRange);
    out.push({ t0, t1, n0: Math.floor(t0 / sampleTiles), n1: Math.floor((t1 - 1) / sampleTiles) + 1 });
  }
  return out;
}

/**
 * y [N, O, OH, OW] = the conv of x [N, C, H, W] with w(o, c, tap) (+ bias, ReLU), 3x3 (or 5x5) stride
 * 1, via F(m x m, r x r): per range of tiles (winogradRangeTiles: V and M within one binding; tiles
 * counted over the whole batch) the input transform, the GEMMs and the output transform.
 */
export function launchWinograd(g: WinogradGeometry, N: number, x: Tensor, w: Tensor, wl: WeightLayout, b: Tensor | null, y: Tensor, tile: WinogradTile, relu: boolean): void {
  const e = engine();
  const { C, O } = g;
  const Op = winogradChannels(O, tile);
  const m = outputSide(tile);
  const A2 = winogradPositions(m, g.K);
  const U = Tensor.empty([A2 * C * Op], 'f32', 'winograd weights');
  const ww = windowOf(w.buffer, 0, g.K * g.K * C * O);
  e.dispatch(winogradWeightKernel(C, O, Op, wl, m, g.K), { wOff: ww.first }, [ww.slice, head(U, A2 * C * Op)], grid1d(C * Op, 64));
  const { TH, TW } = winogradTiles(g, m);
  const xs = C * g.H * g.W, ys = O * g.OH * g.OW;
  const bw = b ? windowOf(b.buffer, 0, O) : null;
  for (const { t0, t1, n0, n1 } of tileRanges(N * TH * TW, winogradRangeTiles(g, tile), TH * TW)) {
    const tiles = t1 - t0;
    const tp = Math.ceil(tiles / tile.P) * tile.P;
    const V = Tensor.empty([A2 * C * tp], 'f32', 'winograd input tiles');
    const M = Tensor.empty([A2 * Op * tp], 'f32', 'winograd products');
    const xw = windowOf(x.buffer, n0 * xs, n1 * xs);
    e.dispatch(winogradInputKernel(g, xs, undefined, m), { tiles, tp, t0, xOff: u32(xw.first) }, [xw.slice, head(V, A2 * C * tp)], grid1d(C * tp, 64));
    dispatchGemm(C, Op, tp, tile, head(U, A2 * C * Op), head(V, A2 * C * tp), head(M, A2 * Op * tp), A2);
    V.dispose();
    const yw = windowOf(y.buffer, n0 * ys, n1 * ys);
    e.dispatch(
      winogradOutputKernel(g, Op, m),
      { tiles, tp, t0, yOff: u32(yw.first), bOff: bw ? bw.first : 0, hasBias: b ? 1 : 0, relu: relu ? 1 : 0 },
      [head(M, A2 * Op * tp), bw ? bw.slice : head(M, 4), yw.slice],
      grid1d(O * tiles, 64),
    );
    M.dispose();
  }
  U.dispose();
}

/**
 * dw [O, C, r, r] of the r x r stride-1 conv x [N, C, H, W] -> dy [N, O, OH, OW] via F(r x r, m x m):
 * per range of tiles (X and E within one binding) the input and output-gradient transforms, the
 * GEMMs summing over the range's tiles, and G^T . G into one partial slab [1, O*C*r*r]; the caller
 * sums the slabs in order (ops/conv.ts sumPartialsInto).
 */
export function launchWinogradWeightGrad(g: WinogradGeometry, N: number, x: Tensor, dy: Tensor, tile: WinogradTile): Tensor[] {
  const e = engine();
  const { C, O } = g;
  const Op = winogradChannels(O, tile);
  const Cp = Math.ceil(C / tile.P) * tile.P;
  const m = outputSide(tile);
  const A2 = winogradPositions(m, g.K);
  const { TH, TW } = winogradTiles(g, m);
  const xs = C * g.H * g.W, ys = O * g.OH * g.OW;
  const perRange = Math.floor(maxBindingElements() / (A2 * Math.max(Cp, Op)));
  const slabs: Tensor[] = [];
  for (const { t0, t1, n0, n1 } of tileRanges(N * TH * TW, perRange, TH * TW)) {
    const tiles = t1 - t0;
    const X = Tensor.empty([A2 * tiles * Cp], 'f32', 'winograd input tiles');
    const E = Tensor.empty([A2 * tiles * Op], 'f32', 'winograd output-gradient tiles');
    const M = Tensor.empty([A2 * Op * Cp], 'f32', 'winograd products');
    const xw = windowOf(x.buffer, n0 * xs, n1 * xs);
    e.dispatch(winogradInputKernel(g, xs, Cp, m), { tiles, tp: 0, t0, xOff: u32(xw.first) }, [xw.slice, head(X, A2 * tiles * Cp)], grid1d(tiles * Cp, 64));
    const dyw = windowOf(dy.buffer, n0 * ys, n1 * ys);
    e.dispatch(winogradOutputGradKernel(g, Op, m), { tiles, t0, yOff: u32(dyw.first) }, [dyw.slice, head(E, A2 * tiles * Op)], grid1d(tiles * Op, 64));
    // the GEMM's summed index is the tile (its "C"), its columns the input channels (its "tiles")
    dispatchGemm(tiles, Op, Cp, tile, head(E, A2 * tiles * Op), head(X, A2 * tiles * Cp), head(M, A2 * Op * Cp), A2);
    X.dispose();
    E.dispose();
    const slab = Tensor.empty([1, O * C * g.K * g.K], 'f32', 'conv dw partials');
    e.dispatch(winogradWeightGradKernel(C, O, Op, Cp, m, g.K), {}, [head(M, A2 * Op * Cp), head(slab, O * C * g.K * g.K)], grid1d(O * C, 64));
    M.dispose();
    slabs.push(slab);
  }
  return slabs;
}
