/**
 * The launcher of the column-matrix conv gradients (kernels/conv/cols.ts): a conv's input gradient
 * and weight gradient as one GEMM each on the Winograd GEMM kernel, for convs with a small output
 * plane and a large kernel (fc6). ops/conv.ts picks them by variant name ('cols-PxTNv') and sums
 * what they return in a fixed order.
 */
import { engine } from '../engine.ts';
import { Tensor } from '../tensor.ts';
import { grid1d } from '../kernels/kernel.ts';
import { maxBindingElements, pieces, windowOf } from '../kernels/binding.ts';
import type { ConvGeometry } from '../kernels/conv2d.ts';
import { colsToImageKernel, imageToRowsKernel, outputGradRowsKernel } from '../kernels/conv/cols.ts';
import type { WinogradTile } from '../kernels/conv/winograd.ts';
import { dispatchGemm } from './conv-winograd.ts';

const u32 = (v: number): number => v >>> 0; // offsets may wrap: the kernels' u32 arithmetic is modular

/** A tensor's first `n` elements as one binding (the pool may hand out a larger buffer). */
const head = (t: Tensor, n: number) => windowOf(t.buffer, 0, n).slice;

/**
 * Partial input gradients [N, C, H, W], one per range of output channels whose weights fit one
 * binding (their sum, in order, is dx): per sample D = w^T . dy (the GEMM summing the range's output
 * channels), then dx = col2im(D).
 */
export function launchColsBackwardData(g: ConvGeometry, dy: Tensor, w: Tensor, tile: WinogradTile): Tensor[] {
  const e = engine();
  const K = g.C * g.KH * g.KW, plane = g.OH * g.OW;
  const xs = g.C * g.H * g.W, ys = g.O * plane;
  const D = Tensor.empty([K * plane], 'f32', 'conv column gradient');
  const partials: Tensor[] = [];
  for (const [o0, o1] of pieces(g.O, Math.floor(maxBindingElements() / K))) {
    const dx = Tensor.empty([g.N, g.C, g.H, g.W]);
    const ww = windowOf(w.buffer, o0 * K, o1 * K);
    for (let n = 0; n < g.N; n++) {
      const start = n * ys + o0 * plane;
      const dyw = windowOf(dy.buffer, start, start + (o1 - o0) * plane);
      // offsets in the GEMM's units: U (the weights) and V (dy) read as vec4s; both starts are multiples of 4
      dispatchGemm(o1 - o0, K, plane, tile, ww.slice, dyw.slice, head(D, K * plane), 1, (o0 * K - ww.first) / 4, (start - dyw.first) / 4);
      const dxw = windowOf(dx.buffer, n * xs, (n + 1) * xs);
      e.dispatch(colsToImageKernel(g), { xOff: u32(dxw.first - n * xs) }, [head(D, K * plane), dxw.slice], grid1d(xs, 64));
    }
    partials.push(dx);
  }
  D.dispose();
  return partials;
}

/**
 * Weight-gradient slabs [1, (o1 - o0) * K] for output channels [o0, o1) (a multiple of TN of them),
 * one per batch chunk whose column matrix fits one binding (their sum is dw's rows): the input's
 * rows XT and dy's rows dyT, then dw = dyT^T . XT (the GEMM summing the chunk's pixels).
 */
export function launchColsWeightGrad(g: ConvGeometry, x: Tensor, dy: Tensor, o0: number, o1: number, tile: WinogradTile): Tensor[] {
  const e = engine();
  const K = g.C * g.KH * g.KW, plane = g.OH * g.OW;
  const xs = g.C * g.H * g.W, ys = g.O * plane;
  const Op = o1 - o0;
  const slabs: Tensor[] = [];
  const perChunk = Math.max(1, Math.floor(maxBindingElements() / (plane * Math.max(K, Op))));
  for (const [n0, n1] of pieces(g.N, perChunk)) {
    const rows = (n1 - n0) * plane;
    const XT = Tensor.empty([rows * K], 'f32', 'conv input rows');
    const xw = windowOf(x.buffer, n0 * xs, n1 * xs);
    e.dispatch(imageToRowsKernel(g), { count: rows * K, xOff: u32(xw.first - n0 * xs) }, [xw.slice, head(XT, rows * K)], grid1d(rows * K, 64));
    const dyT = Tensor.empty([rows * Op], 'f32', 'conv output-gradient rows');
    const dyw = windowOf(dy.buffer, n0 * ys, n1 * ys);
    e.dispatch(outputGradRowsKernel(g, g.O, Op), { count: rows * Op, oBase: o0, yOff: u32(dyw.first - n0 * ys) }, [dyw.slice, head(dyT, rows * Op)], grid1d(rows * Op, 64));
    const slab = Tensor.empty([1, Op * K], 'f32', 'conv dw partials');
    dispatchGemm(rows, Op, K, tile, head(dyT, rows * Op), head(XT, rows * K), head(slab, Op * K), 1);
    XT.dispose();
    dyT.dispose();
    slabs.push(slab);
  }
  return slabs;
}
