/**
 * The masked Charbonnier loss (the seed's alpha-prediction loss), one fused reduction, with autograd:
 *
 *   loss = sum_{n,c,h,w} w[n,0,h,w] * sqrt((pred - target)^2 + eps) / (sum_{n,h,w} w[n,0,h,w] + eps)
 *
 * pred and target are [N, C, H, W]; the mask (or weights) w is [N, 1, H, W], broadcast over the C
 * channels in the numerator only (the denominator counts each pixel once); one denominator for the
 * whole batch. The loss is a scalar tensor of shape [] (as `sum` over all axes returns).
 * Gradients: dPred = dLoss * w * d / sqrt(d^2 + eps) / (sum w + eps), dTarget = -dPred; the mask gets
 * none. Nothing is read back: the denominator stays on the GPU between forward and backward.
 * The reduction is a fixed two-stage partial sum (no atomics): bit-identical run after run.
 */
import { engine } from '../engine.ts';
import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { grid1d } from '../kernels/kernel.ts';
import { maxBindingElements, pieces, windowOf } from '../kernels/binding.ts';
import { mapElementwise } from '../kernels/elementwise.ts';
import { CHARB_WG, charbonnierBackward, charbonnierFinalize, charbonnierPartial } from '../kernels/charbonnier.ts';

/** Elements one invocation sums before the work is split into more parts. */
const SERIAL = 512;
const MAX_PARTS = 4096;

function check(cond: boolean, msg: string): void {
  if (!cond) throw new Error(msg);
}

/** pred ranges such that the pred, target and mask windows of each fit one binding. */
function chunks(total: number): [number, number][] {
  const max = maxBindingElements();
  return total <= max ? [[0, total]] : pieces(total, Math.floor(max / 2));
}

/**
 * The window of the mask that pred elements [g0, g1) read: the rows of their own channel plane when
 * the range stays in one (n, c) plane, else whole sample rows (the plane index wraps at each channel).
 */
function maskWindow(w: Tensor, g0: number, g1: number, C: number, HW: number) {
  const q0 = Math.floor(g0 / HW), q1 = Math.floor((g1 - 1) / HW);
  const n0 = Math.floor(q0 / C), n1 = Math.floor(q1 / C);
  const [lo, hi] = q0 === q1 ? [n0 * HW + (g0 % HW), n0 * HW + ((g1 - 1) % HW) + 1] : [n0 * HW, (n1 + 1) * HW];
  check(hi - lo <= maxBindingElements(), `charbonnierLoss: the mask rows of one launch exceed a storage binding`);
  return windowOf(w.buffer, lo, hi);
}

export function charbonnierLoss(pred: Tensor, target: Tensor, weight: Tensor, eps = 1e-12): Tensor {
  check(pred.rank === 4, `charbonnierLoss: pred must be NCHW (rank 4), got [${pred.shape}]`);
  const [N, C, H, W] = pred.shape as [number, number, number, number];
  check(target.shape.length === 4 && target.shape.every((d, i) => d === pred.shape[i]), `charbonnierLoss: target [${target.shape}] must match pred [${pred.shape}]`);
  check(
    weight.shape.length === 4 && weight.shape[0] === N && weight.shape[1] === 1 && weight.shape[2] === H && weight.shape[3] === W,
    `charbonnierLoss: the mask [${weight.shape}] must be [${N}, 1, ${H}, ${W}]`,
  );
  check([pred, target, weight].every((t) => t.dtype === 'f32'), 'charbonnierLoss: f32 tensors only');
  check(Number.isFinite(eps) && eps >= 0, `charbonnierLoss: bad eps ${eps}`);
  const e = engine();
  const HW = H * W;
  const total = pred.size;
  const maskTotal = weight.size;
  const ranges = chunks(total);
  const K = ranges.length;
  const plan = ranges.map(([g0, g1], k) => {
    const n = g1 - g0;
    const h0 = Math.floor((k * maskTotal) / K), h1 = Math.floor(((k + 1) * maskTotal) / K);
    const parts = Math.min(MAX_PARTS, Math.max(1, Math.ceil(Math.max(n, h1 - h0) / SERIAL)));
    return { g0, g1, n, h0, denCount: h1 - h0, parts, perNum: Math.ceil(n / parts), perDen: Math.ceil((h1 - h0) / parts) };
  });
  const totalParts = plan.reduce((s, p) => s + p.parts, 0);
  const partial = Tensor.empty([2, totalParts], 'f32', 'charbonnier partials');
  let partBase = 0;
  for (const p of plan) {
    const pw = windowOf(pred.buffer, p.g0, p.g1);
    const tw = windowOf(target.buffer, p.g0, p.g1);
    const wn = p.n > 0 ? maskWindow(weight, p.g0, p.g1, C, HW) : windowOf(weight.buffer, 0, 0);
    const wd = windowOf(weight.buffer, p.h0, p.h0 + p.denCount);
    e.dispatch(
      charbonnierPartial,
      {
        n: p.n, g0: p.g0, C: Math.max(1, C), HW: Math.max(1, HW),
        predOff: pw.first, targetOff: tw.first, wNumOff: wn.first,
        parts: p.parts, perNum: Math.max(1, p.perNum),
        h0: p.h0, denCount: p.denCount, perDen: Math.max(1, p.perDen), wDenOff: wd.first,
        partBase, totalParts, eps,
      },
      [pw.slice, tw.slice, wn.slice, wd.slice, partial.buffer],
      grid1d(p.parts, CHARB_WG),
    );
    partBase += p.parts;
  }
  const loss = Tensor.empty([]);
  const denom = Tensor.empty([1], 'f32', 'charbonnier denominator');
  e.dispatch(charbonnierFinalize, { totalParts, eps }, [partial.buffer, loss.buffer, denom.buffer], [1, 1, 1]);
  partial.dispose();
  record('charbonnierLoss', loss, [pred, target, null], [pred, target, weight, denom], (gy, [sp, st, sw, sd]) => {
    const scale = mapElementwise('charbonnierScale', 'a / b', [gy, sd!]);
    const dPred = Tensor.empty(pred.shape);
    for (const [g0, g1] of total > 0 ? ranges : []) {
      const pw = windowOf(sp!.buffer, g0, g1);
      const tw = windowOf(st!.buffer, g0, g1);
      const ww = maskWindow(sw!, g0, g1, C, HW);
      const dw = windowOf(dPred.buffer, g0, g1);
      e.dispatch(
        charbonnierBackward,
        { n: g1 - g0, g0, C, HW, predOff: pw.first, targetOff: tw.first, wOff: ww.first, dOff: dw.first, eps },
        [pw.slice, tw.slice, ww.slice, scale.buffer, dw.slice],
        grid1d(g1 - g0, CHARB_WG),
      );
    }
    scale.dispose();
    const wantTarget = !!(target.node || target.requiresGrad);
    const dTarget = wantTarget ? mapElementwise('neg', '-a', [dPred]) : null;
    const wantPred = !!(pred.node || pred.requiresGrad);
    if (!wantPred) dPred.dispose();
    return [wantPred ? dPred : null, dTarget, null];
  });
  denom.dispose();
  return loss;
}
