/**
 * The launcher of the phase form (kernels/conv/phase.ts): a stride-2 conv's three passes as the
 * passes of a stride-1 3x3 conv over its input's four phases, run by ops/conv.ts's launchers with
 * the inner variant (a Winograd tile). Forward: y = conv(split(x), w'); input gradient:
 * dx = merge(dx'); weight gradient: dw = gather(dw'(split(x), dy)).
 */
import { engine } from '../engine.ts';
import { Tensor } from '../tensor.ts';
import { grid1d } from '../kernels/kernel.ts';
import { maxBindingElements, pieces, windowOf } from '../kernels/binding.ts';
import type { ConvGeometry } from '../kernels/conv2d.ts';
import { phaseCopyKernel, phaseWeightGradKernel, phaseWeightsKernel } from '../kernels/conv/phase.ts';

const u32 = (v: number): number => v >>> 0; // offsets may wrap: the kernels' u32 arithmetic is modular

/** Sample ranges whose x (xs elements each) and phase form (ps each) fit one binding. */
const sampleRanges = (N: number, xs: number, ps: number) => pieces(N, Math.max(1, Math.floor(maxBindingElements() / Math.max(xs, ps))));

/**
 * 'split': xp [N, 4C, Hp, Wp], the four phases of x [N, C, H, W] as channels; 'merge': dx [N, C, H, W]
 * from the phase form's input gradient. Per range of samples whose both sides fit one binding.
 */
function phaseCopy(g: ConvGeometry, pg: ConvGeometry, src: Tensor, direction: 'split' | 'merge'): Tensor {
  const xs = g.C * g.H * g.W, ps = pg.C * pg.H * pg.W;
  const split = direction === 'split';
  const dst = split ? Tensor.empty([g.N, pg.C, pg.H, pg.W], 'f32', 'conv input phases') : Tensor.empty([g.N, g.C, g.H, g.W]);
  const [x, xp] = split ? [src, dst] : [dst, src];
  for (const [n0, n1] of sampleRanges(g.N, xs, ps)) {
    const xw = windowOf(x.buffer, n0 * xs, n1 * xs);
    const pw = windowOf(xp.buffer, n0 * ps, n1 * ps);
    const count = (n1 - n0) * ps;
    engine().dispatch(phaseCopyKernel(g, direction), { count, xOff: u32(xw.first - n0 * xs), pOff: n0 * ps - pw.first }, split ? [xw.slice, pw.slice] : [pw.slice, xw.slice], grid1d(count, 64));
  }
  return dst;
}

/** xp [N, 4C, Hp, Wp]: the four phases of x [N, C, H, W] as channels. */
export const phaseSplit = (g: ConvGeometry, pg: ConvGeometry, x: Tensor): Tensor => phaseCopy(g, pg, x, 'split');

/** dx [N, C, H, W] from the phase form's input gradient dxp [N, 4C, Hp, Wp]. */
export const phaseMerge = (g: ConvGeometry, pg: ConvGeometry, dxp: Tensor): Tensor => phaseCopy(g, pg, dxp, 'merge');

/** w' [O, 4C, 3, 3] from w [O, C, KH, KW]. */
export function phaseWeights(g: ConvGeometry, w: Tensor): Tensor {
  const n = g.O * 4 * g.C * 9;
  const wp = Tensor.empty([g.O, 4 * g.C, 3, 3], 'f32', 'conv phase weights');
  const ww = windowOf(w.buffer, 0, g.O * g.C * g.KH * g.KW);
  engine().dispatch(phaseWeightsKernel(g), { wOff: ww.first }, [ww.slice, windowOf(wp.buffer, 0, n).slice], grid1d(n, 64));
  return wp;
}

/** dw [O, C, KH, KW] from the phase form's weight gradient dwp [O, 4C, 3, 3]. */
export function phaseWeightGrad(g: ConvGeometry, dwp: Tensor): Tensor {
  const n = g.O * g.C * g.KH * g.KW;
  const dw = Tensor.empty([g.O, g.C, g.KH, g.KW]);
  engine().dispatch(phaseWeightGradKernel(g), {}, [windowOf(dwp.buffer, 0, g.O * 4 * g.C * 9).slice, windowOf(dw.buffer, 0, n).slice], grid1d(n, 64));
  return dw;
}
