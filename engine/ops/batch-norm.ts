/**
 * batchNorm2d with PyTorch's nn.BatchNorm2d semantics, with autograd (x, gamma, beta), on the
 * kernels of kernels/batch-norm.ts.
 *
 * Per channel c, over the M = N*H*W values of that channel:
 * - training: normalise with the batch mean and the BIASED variance (divide by M):
 *     y = (x - mean) / sqrt(var + eps) * gamma + beta,
 *   and move the running statistics towards the batch ones, IN PLACE on the GPU (no readback):
 *     runningMean = (1 - momentum) * runningMean + momentum * mean
 *     runningVar  = (1 - momentum) * runningVar  + momentum * var * M / (M - 1)   (unbiased)
 *   PyTorch's `momentum` is the weight of the NEW value (Keras's is the weight of the old one).
 *   M must be at least 2, as PyTorch requires.
 * - eval: the running statistics are constants; nothing is updated.
 * The backward goes through the batch statistics in training (they depend on x) and treats the
 * running statistics as constants in eval; the running-statistics update has no gradient.
 * All sums are fixed-order partial sums (no atomics): results are bit-identical run after run.
 */
import { engine } from '../engine.ts';
import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { grid1d, type KernelDef } from '../kernels/kernel.ts';
import { maxBindingElements, pieces, windowOf } from '../kernels/binding.ts';
import { fill } from '../kernels/elementwise.ts';
import {
  BN_WG,
  bnBackwardDx,
  bnBackwardFinalize,
  bnBackwardPartial,
  bnEvalStats,
  bnFinalize,
  bnForwardCoef,
  bnNormalize,
  bnPartial,
} from '../kernels/batch-norm.ts';

export interface BatchNorm2dOptions {
  training: boolean;
  /** Weight of the new batch statistic in the running average (PyTorch's convention). Default 0.1. */
  momentum?: number;
  /** Default 1e-5. */
  eps?: number;
}

/** Values one invocation sums serially before a channel is split into more parts. */
const SERIAL = 256;
/** Most parts per channel per launch box. */
const MAX_PARTS = 1024;

const u32 = (v: number): number => v >>> 0; // offsets may wrap: the kernels' u32 arithmetic is modular

function check(cond: boolean, msg: string): void {
  if (!cond) throw new Error(msg);
}

interface Box {
  n0: number; nCount: number; c0: number; cCount: number;
  parts: number; perPart: number; partBase: number;
}

/** Launch boxes (samples x channels) whose span of a [N, C, H, W] tensor fits one binding. */
function boxes(N: number, C: number, HW: number): { list: Box[]; totalParts: number } {
  const max = maxBindingElements();
  const raw: Omit<Box, 'parts' | 'perPart' | 'partBase'>[] = [];
  if (C * HW <= max) {
    const per = Math.max(1, Math.floor(max / Math.max(1, C * HW)));
    for (let n = 0; n < N; n += per) raw.push({ n0: n, nCount: Math.min(per, N - n), c0: 0, cCount: C });
  } else {
    check(HW <= max, `batchNorm2d: one ${HW * 4}-byte channel plane exceeds a storage binding`);
    const per = Math.floor(max / HW);
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c += per) raw.push({ n0: n, nCount: 1, c0: c, cCount: Math.min(per, C - c) });
  }
  let totalParts = 0;
  const list = raw.map((b) => {
    const count = b.nCount * HW;
    let parts = Math.min(MAX_PARTS, Math.max(1, Math.ceil(count / SERIAL)));
    const perPart = Math.max(1, Math.ceil(count / parts));
    parts = Math.max(1, Math.ceil(count / perPart));
    const box = { ...b, parts, perPart, partBase: totalParts };
    totalParts += parts;
    return box;
  });
  return { list, totalParts };
}

/** Runs a partial-sum kernel over every box; `operands` are [tensor, offset uniform name] of x's shape. */
function launchPartials(
  def: KernelDef,
  x: Tensor,
  extra: Record<string, number>,
  operands: [Tensor, string][],
  fixed: GPUBuffer[],
  partial: Tensor,
  layout: { list: Box[]; totalParts: number },
): void {
  const [, C, H, W] = x.shape as [number, number, number, number];
  const HW = H * W;
  const e = engine();
  for (const b of layout.list) {
    const start = (b.n0 * C + b.c0) * HW;
    const end = ((b.n0 + b.nCount - 1) * C + b.c0 + b.cCount) * HW;
    const uniforms: Record<string, number> = {
      ...extra,
      C, HW, c0: b.c0, cCount: b.cCount, nCount: b.nCount,
      parts: b.parts, perPart: b.perPart, partBase: b.partBase, totalParts: layout.totalParts,
    };
    const slices = operands.map(([t, off]) => {
      const w = windowOf(t.buffer, start, end);
      uniforms[off] = u32(w.first - start);
      return w.slice;
    });
    e.dispatch(def, uniforms, [...slices, ...fixed, partial.buffer], grid1d(C * b.parts, BN_WG));
  }
}

/** Runs an element-wise kernel over flat windows of x-shaped operands (the last one is written). */
function launchFlat(def: KernelDef, x: Tensor, operands: [Tensor, string][], fixed: GPUBuffer[]): void {
  const [, C, H, W] = x.shape as [number, number, number, number];
  const e = engine();
  for (const [start, end] of pieces(x.size, maxBindingElements())) {
    const uniforms: Record<string, number> = { n: end - start, base: start, C, HW: H * W };
    const slices = operands.map(([t, off]) => {
      const w = windowOf(t.buffer, start, end);
      uniforms[off] = w.first;
      return w.slice;
    });
    const written = slices.pop()!;
    e.dispatch(def, uniforms, [...slices, ...fixed, written], grid1d(end - start, BN_WG));
  }
}

const perChannel = (C: number): [number, number, number] => [Math.max(1, Math.ceil(C / 64)), 1, 1];

/**
 * Channel statistics [C, 2] = (mean, invStd): from the batch (training, which also updates the
 * running statistics in place) or from the running statistics (eval).
 */
function channelStats(x: Tensor, runningMean: Tensor, runningVar: Tensor, training: boolean, momentum: number, eps: number): Tensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const e = engine();
  const stats = Tensor.empty([C, 2], 'f32', 'bn stats');
  if (!training) {
    e.dispatch(bnEvalStats, { C, eps }, [runningMean.buffer, runningVar.buffer, stats.buffer], perChannel(C));
    return stats;
  }
  const M = N * H * W;
  const layout = boxes(N, C, H * W);
  const partial = Tensor.empty([C, layout.totalParts], 'f32', 'bn partials');
  const fin = { C, totalParts: layout.totalParts, invM: 1 / M, invM1: 1 / (M - 1), eps, momentum };
  const finBuffers = [partial.buffer, stats.buffer, runningMean.buffer, runningVar.buffer];
  for (const mode of [0, 1]) {
    launchPartials(bnPartial, x, { mode }, [[x, 'xOff']], [stats.buffer], partial, layout);
    e.dispatch(bnFinalize, { ...fin, mode }, finBuffers, perChannel(C));
  }
  partial.dispose();
  return stats;
}

function batchNormBackward(
  x: Tensor,
  gamma: Tensor,
  stats: Tensor,
  dy: Tensor,
  training: boolean,
  wantDx: boolean,
): { dx: Tensor | null; dgamma: Tensor; dbeta: Tensor } {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const e = engine();
  const layout = boxes(N, C, H * W);
  const partial = Tensor.empty([2, C, layout.totalParts], 'f32', 'bn backward partials');
  launchPartials(bnBackwardPartial, x, {}, [[x, 'xOff'], [dy, 'dyOff']], [stats.buffer], partial, layout);
  const red = Tensor.empty([2, C], 'f32', 'bn sums');
  const bcoef = Tensor.empty([C, 5], 'f32', 'bn backward coefficients');
  e.dispatch(
    bnBackwardFinalize,
    { C, totalParts: layout.totalParts, train: training ? 1 : 0, invM: 1 / (N * H * W) },
    [partial.buffer, stats.buffer, gamma.buffer, red.buffer, bcoef.buffer],
    perChannel(C),
  );
  partial.dispose();
  let dx: Tensor | null = null;
  if (wantDx) {
    dx = Tensor.empty(x.shape);
    launchFlat(bnBackwardDx, x, [[x, 'xOff'], [dy, 'dyOff'], [dx, 'dxOff']], [bcoef.buffer]);
  }
  bcoef.dispose();
  const dbeta = Tensor.empty(gamma.shape);
  const dgamma = Tensor.empty(gamma.shape);
  e.copy(red.buffer, 0, dbeta.buffer, 0, C * 4);
  e.copy(red.buffer, C * 4, dgamma.buffer, 0, C * 4);
  red.dispose();
  return { dx, dgamma, dbeta };
}

/**
 * y = (x - mean) / sqrt(var + eps) * gamma + beta per channel of an NCHW tensor (see the file
 * comment for the statistics). gamma and beta ([C]; null for 1 and 0) get gradients; runningMean
 * and runningVar ([C]) are read in eval and updated in place in training.
 */
export function batchNorm2d(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  runningMean: Tensor,
  runningVar: Tensor,
  o: BatchNorm2dOptions,
): Tensor {
  check(x.rank === 4, `batchNorm2d: input must be NCHW (rank 4), got [${x.shape}]`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  for (const [t, what] of [[gamma, 'gamma'], [beta, 'beta'], [runningMean, 'runningMean'], [runningVar, 'runningVar']] as const) {
    if (t) check(t.size === C && t.dtype === 'f32', `batchNorm2d: ${what} [${t.shape}] must hold ${C} f32 values`);
  }
  check(runningMean.buffer !== runningVar.buffer, 'batchNorm2d: runningMean and runningVar share storage');
  const momentum = o.momentum ?? 0.1;
  const eps = o.eps ?? 1e-5;
  check(Number.isFinite(momentum) && Number.isFinite(eps) && eps >= 0, `batchNorm2d: bad momentum ${momentum} or eps ${eps}`);
  if (o.training) check(N * H * W >= 2, `batchNorm2d: training needs more than 1 value per channel, got input [${x.shape}]`);
  const y = Tensor.empty(x.shape);
  if (x.size === 0) return y;
  const g = gamma ?? fill([C], 1);
  const b = beta ?? fill([C], 0);
  const stats = channelStats(x, runningMean, runningVar, o.training, momentum, eps);
  const coef = Tensor.empty([C, 3], 'f32', 'bn coefficients');
  engine().dispatch(bnForwardCoef, { C }, [stats.buffer, g.buffer, b.buffer, coef.buffer], perChannel(C));
  launchFlat(bnNormalize, x, [[x, 'xOff'], [y, 'yOff']], [coef.buffer]);
  coef.dispose();
  if (!beta) b.dispose();
  const training = o.training;
  record('batchNorm2d', y, [x, gamma, beta], [x, g, stats], (gy, [sx, sg, st]) => {
    const r = batchNormBackward(sx!, sg!, st!, gy, training, !!(x.node || x.requiresGrad));
    if (!gamma) r.dgamma.dispose();
    if (!beta) r.dbeta.dispose();
    return [r.dx, gamma ? r.dgamma : null, beta ? r.dbeta : null];
  });
  stats.dispose();
  if (!gamma) g.dispose();
  return y;
}
