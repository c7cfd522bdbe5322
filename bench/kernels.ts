/**
 * Kernel microbenchmarks at the Deep Image Matting model's layer shapes (docs/dim-model.md).
 *
 * Every conv layer is described by the conv it is (or, for a transposed conv, the conv whose input
 * gradient it is): a big side x [N, C, H, W], a small side y [N, O, OH, OW] and a weight
 * [O, C, K, K] (a transposed conv's own [in, out, k, k] layout is the same array), TF SAME padding.
 * Three GEMM-shaped kernels then cover forward and both backwards of both layer kinds:
 *
 * | kernel         | ours                                   | tfjs-backend-webgpu                       |
 * | x -> y (conv)  | conv2d (conv2dForward kernel)          | tf.conv2d (Conv2D: Conv2DMMProgram / matmul) |
 * | y -> x         | launchConvBackwardData / convTranspose2d | tf.conv2dTranspose (Conv2DBackpropInput) |
 * | (x, y) -> w    | launchConvBackwardWeight               | runKernel Conv2DBackpropFilter             |
 *
 * A conv layer's forward is x -> y, its backward-data y -> x, its backward-weights (x, y) -> w. A
 * transposed conv's forward is y -> x (its input is the small side), its backward-data x -> y, its
 * backward-weights (x = its output gradient, y = its input) -> w. These are exactly the kernels each
 * framework's autograd calls (tfjs's Conv2D gradient calls Conv2DBackpropInput and
 * Conv2DBackpropFilter; its Conv2DBackpropInput gradient calls Conv2D and Conv2DBackpropFilter), so
 * calling them directly times the same computation without the gradient bookkeeping.
 * FLOPs: 2 N OH OW O C K K for each of the three.
 */
import { tensor } from '../engine/creation.ts';
import { keep } from '../engine/scope.ts';
import type { Tensor } from '../engine/tensor.ts';
import { backward } from '../engine/autograd/backward.ts';
import { conv2d, conv2dGeometry, convTranspose2d, convTranspose2dGeometry, launchConvBackwardWeight } from '../engine/ops/conv.ts';
import { tuneConv, type ConvPass } from '../engine/autotune.ts';
import { maxPool2d, maxPool2dBackwardRaw, maxPool2dGeometry } from '../engine/ops/pool.ts';
import { charbonnierLoss } from '../engine/ops/charbonnier.ts';
import type * as TF from '@tensorflow/tfjs-core';
import { convFlops, normalData, relativeError, summarise } from './harness.ts';
import { appendNote, emptyRow, measurePair, progressLine, type BenchRow, type MeasureContext, type OpPair } from './rows.ts';
import { hwioToOihw, nchwToNhwc, nhwcToNchw, oihwToHwio } from './tfjs-peer.ts';

export interface ConvCase {
  layer: string;
  kind: 'conv' | 'deconv';
  /** Big side: channels and size (a conv's input, a transposed conv's output). */
  C: number;
  H: number;
  /** Small side channels (a conv's output, a transposed conv's input). */
  O: number;
  K: number;
  S: number;
}

export type KernelCase =
  | ({ type: 'conv' } & ConvCase)
  | { type: 'maxpool'; layer: string; C: number; H: number }
  | { type: 'charbonnier'; layer: string; C: number; H: number };

export type Pass = 'forward' | 'backward-data' | 'backward-weights';

/**
 * The suite's cases. Full: the real 320x320 model shapes. Quick: every VGG stage, the decoder and
 * the refinement at a fifth of the spatial size (a 64x64 input, so conv5_3 is 4x4) with the real
 * channel counts, fc6 on its real 10x10 with 64 -> 512 channels, deconv6 with a quarter of its 8192
 * input channels (2048 -> 512).
 */
export function kernelCases(quick: boolean): KernelCase[] {
  const S = quick ? 64 : 320;
  const s = (d: number) => S / d;
  const conv = (layer: string, C: number, H: number, O: number, K: number, stride = 1): KernelCase => ({ type: 'conv', layer, kind: 'conv', C, H, O, K, S: stride });
  const deconv = (layer: string, cin: number, hin: number, cout: number, K: number, stride: number): KernelCase => ({
    type: 'conv', layer, kind: 'deconv', C: cout, H: hin * stride, O: cin, K, S: stride,
  });
  return [
    conv('conv1_2', 64, s(1), 64, 3),
    conv('conv2_2', 128, s(2), 128, 3),
    conv('conv3_3', 256, s(4), 256, 3),
    conv('conv4_3', 512, s(8), 512, 3),
    conv('conv5_3', 512, s(16), 512, 3),
    quick ? conv('fc6 (64->512)', 64, 10, 512, 7) : conv('fc6', 512, 10, 4096, 7),
    quick ? deconv('deconv6 (2048->512)', 2048, 10, 512, 1, 2) : deconv('deconv6', 8192, 10, 512, 1, 2),
    deconv('deconv5', 512, s(16), 512, 5, 2),
    conv('refine_conv1', 4, S, 64, 3),
    { type: 'maxpool', layer: 'maxPool 2x2', C: 64, H: S },
    { type: 'charbonnier', layer: 'charbonnier loss', C: 1, H: S },
  ];
}

/** A row's shape text for a conv case. */
function convShape(c: ConvCase, N: number): string {
  const small = Math.ceil(c.H / c.S);
  if (c.kind === 'conv') return `N${N} ${c.C}x${c.H}x${c.H} -> ${c.O}x${small}x${small}, ${c.K}x${c.K}/${c.S}`;
  return `N${N} ${c.O}x${small}x${small} -> ${c.C}x${c.H}x${c.H}, ${c.K}x${c.K}/${c.S} transposed`;
}

/** Maps a layer's pass onto the GEMM kernel that computes it. */
function kernelOf(kind: 'conv' | 'deconv', pass: Pass): 'xy' | 'yx' | 'w' {
  if (pass === 'backward-weights') return 'w';
  return (pass === 'forward') === (kind === 'conv') ? 'xy' : 'yx';
}

interface ConvTensors {
  x: Tensor; y: Tensor; w: Tensor;
  data: { x: Float32Array; y: Float32Array; w: Float32Array };
  tx: TF.Tensor4D | null; ty: TF.Tensor4D | null; tw: TF.Tensor4D | null;
  dispose(): void;
}

function makeConvTensors(ctx: MeasureContext, c: ConvCase, N: number, seed: number): ConvTensors {
  const g = conv2dGeometry([N, c.C, c.H, c.H], [c.O, c.C, c.K, c.K], { stride: c.S, padding: 'same' });
  const xShape = [N, c.C, c.H, c.H], yShape = [N, c.O, g.OH, g.OW], wShape = [c.O, c.C, c.K, c.K];
  const xd = normalData(N * c.C * c.H * c.H, seed);
  const yd = normalData(N * c.O * g.OH * g.OW, seed + 1);
  const wd = normalData(c.O * c.C * c.K * c.K, seed + 2, 1 / Math.sqrt(c.C * c.K * c.K));
  const x = keep(tensor(xd, xShape)), y = keep(tensor(yd, yShape)), w = keep(tensor(wd, wShape));
  const tf = ctx.peer?.tf;
  const tx = tf ? tf.tensor4d(nchwToNhwc(xd, xShape), [N, c.H, c.H, c.C]) : null;
  const ty = tf ? tf.tensor4d(nchwToNhwc(yd, yShape), [N, g.OH, g.OW, c.O]) : null;
  const tw = tf ? tf.tensor4d(oihwToHwio(wd, wShape), [c.K, c.K, c.C, c.O]) : null;
  return {
    x, y, w, tx, ty, tw,
    data: { x: xd, y: yd, w: wd },
    dispose() {
      for (const t of [x, y, w]) t.dispose();
      for (const t of [tx, ty, tw]) t?.dispose();
    },
  };
}

function convPair(ctx: MeasureContext, c: ConvCase, N: number, t: ConvTensors, kernel: 'xy' | 'yx' | 'w'): OpPair {
  const g = conv2dGeometry([N, c.C, c.H, c.H], [c.O, c.C, c.K, c.K], { stride: c.S, padding: 'same' });
  const opts = { stride: c.S, padding: 'same' as const };
  const tf = ctx.peer?.tf;
  const xShape = [N, c.C, c.H, c.H], yShape = [N, c.O, g.OH, g.OW], wShape = [c.O, c.C, c.K, c.K];
  if (kernel === 'xy') {
    return {
      ours: () => conv2d(t.x, t.w, null, opts),
      tfjs: tf ? () => tf.conv2d(t.tx!, t.tw!, c.S, 'same') : null,
      tfjsToOurs: (d) => nhwcToNchw(d, yShape),
    };
  }
  if (kernel === 'yx') {
    return {
      // convTranspose2d's forward is launchConvBackwardData on this geometry.
      ours: () => convTranspose2d(t.y, t.w, null, { stride: c.S, padding: 'same', outputSize: [c.H, c.H] }),
      tfjs: tf ? () => tf.conv2dTranspose(t.ty!, t.tw!, [N, c.H, c.H, c.C], c.S, 'same') : null,
      tfjsToOurs: (d) => nhwcToNchw(d, xShape),
    };
  }
  return {
    ours: () => launchConvBackwardWeight(g, t.x, t.y),
    tfjs: tf
      ? () =>
          tf.engine().runKernel('Conv2DBackpropFilter', { x: t.tx!, dy: t.ty! }, {
            strides: [c.S, c.S], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [c.K, c.K, c.C, c.O],
          } as unknown as TF.NamedAttrMap) as TF.Tensor
      : null,
    tfjsToOurs: (d) => hwioToOihw(d, wShape),
  };
}

async function convRows(ctx: MeasureContext, c: ConvCase, N: number, seed: number, passes: readonly Pass[]): Promise<BenchRow[]> {
  const g = conv2dGeometry([N, c.C, c.H, c.H], [c.O, c.C, c.K, c.K], { stride: c.S, padding: 'same' });
  const t = makeConvTensors(ctx, c, N, seed);
  const rows: BenchRow[] = [];
  const oursOut = new Map<BenchRow, Float32Array>();
  try {
    for (const pass of passes) {
      const row = emptyRow({ suite: 'kernels', layer: c.layer, pass, shape: convShape(c, N), batch: N, flops: convFlops(g) });
      // The variant this row runs: measured on this adapter first (or taken from the cache).
      const kernel = kernelOf(c.kind, pass);
      const tunePass: ConvPass = kernel === 'xy' ? 'forward' : kernel === 'yx' ? 'backward-data' : 'backward-weights';
      const tg = kernel === 'yx' ? convTranspose2dGeometry([N, c.O, g.OH, g.OW], [c.O, c.C, c.K, c.K], { stride: c.S, padding: 'same', outputSize: [c.H, c.H] }) : g;
      row.note = appendNote(row.note, `ours: ${await tuneConv(tunePass, tg)}`);
      rows.push(await measurePair(ctx, row, convPair(ctx, c, N, t, kernelOf(c.kind, pass)), (d) => ctx.torch && oursOut.set(row, d)));
      if (!ctx.torch) ctx.log(progressLine(row));
    }
    if (ctx.torch) await torchRows(ctx, c, N, t, rows, passes, oursOut);
  } finally {
    t.dispose();
  }
  return rows;
}

/** The PyTorch CPU column of a conv case's rows: agreement with ours, then its own timing. */
async function torchRows(ctx: MeasureContext, c: ConvCase, N: number, t: ConvTensors, rows: BenchRow[], passes: readonly Pass[], oursOut: Map<BenchRow, Float32Array>): Promise<void> {
  const kernels = passes.map((p) => kernelOf(c.kind, p));
  try {
    const res = await ctx.torch!.conv({
      N, C: c.C, H: c.H, O: c.O, K: c.K, S: c.S, ...t.data, kernels,
      minReps: ctx.timing.minReps, maxReps: ctx.timing.maxReps, budgetMs: ctx.timing.budgetMs / 2,
    });
    rows.forEach((row, i) => {
      const r = res[kernels[i]!];
      const ours = oursOut.get(row);
      if (!ours) return;
      row.torchRelErr = relativeError(ours, r.out);
      if (row.torchRelErr > ctx.tolerance) row.note = appendNote(row.note, `torch MISMATCH (rel err ${row.torchRelErr.toExponential(1)}): not timed`);
      else {
        row.torch = summarise(r.samplesMs);
        if (row.ours) row.torchRatio = row.torch.medianMs / row.ours.medianMs;
      }
    });
  } catch (err) {
    for (const row of rows) row.note = appendNote(row.note, `torch failed: ${((err as Error).message ?? String(err)).split('\n')[0]}`);
  }
  for (const row of rows) ctx.log(progressLine(row));
}

/**
 * Makes every 2x2 window's four values distinct: on a tie the frameworks route the gradient to
 * different cells (ours to the first maximum, as PyTorch), and float32 normals do tie now and then
 * among millions of windows.
 */
function untie2x2(d: Float32Array, [N, C, H, W]: readonly number[]): Float32Array {
  for (let p = 0; p < N! * C!; p++)
    for (let y = 0; y + 1 < H!; y += 2)
      for (let x = 0; x + 1 < W!; x += 2) {
        const i = (p * H! + y) * W! + x;
        const idx = [i, i + 1, i + W!, i + W! + 1];
        for (let a = 1; a < 4; a++)
          while (idx.slice(0, a).some((j) => d[j] === d[idx[a]!])) d[idx[a]!] = d[idx[a]!]! + 1e-3;
      }
  return d;
}

async function maxPoolRows(ctx: MeasureContext, c: { layer: string; C: number; H: number }, N: number, seed: number): Promise<BenchRow[]> {
  const xShape = [N, c.C, c.H, c.H];
  const g = maxPool2dGeometry(xShape, { kernelSize: 2, stride: 2 });
  const yShape = [N, c.C, g.OH, g.OW];
  const xd = untie2x2(normalData(N * c.C * c.H * c.H, seed), xShape), dyd = normalData(N * c.C * g.OH * g.OW, seed + 1);
  const x = keep(tensor(xd, xShape)), dy = keep(tensor(dyd, yShape));
  const indices = keep(maxPool2d(x, { kernelSize: 2, stride: 2 }).indices);
  const tf = ctx.peer?.tf;
  const tx = tf ? tf.tensor4d(nchwToNhwc(xd, xShape), [N, c.H, c.H, c.C]) : null;
  const tdy = tf ? tf.tensor4d(nchwToNhwc(dyd, yShape), [N, g.OH, g.OW, c.C]) : null;
  const ty = tf ? tf.maxPool(tx!, 2, 2, 'valid') : null;
  const shape = `N${N} ${c.C}x${c.H}x${c.H} -> ${c.C}x${g.OH}x${g.OW}`;
  const rows: BenchRow[] = [];
  try {
    // Forward: reads x, writes y (and our indices, which training keeps for the backward).
    const fwd = emptyRow({ suite: 'kernels', layer: c.layer, pass: 'forward', shape, batch: N, bytes: 4 * (x.size + 2 * dy.size) });
    rows.push(
      await measurePair(ctx, fwd, {
        ours: () => maxPool2d(x, { kernelSize: 2, stride: 2, returnIndices: false }).y,
        tfjs: tf ? () => tf.maxPool(tx!, 2, 2, 'valid') : null,
        tfjsToOurs: (d) => nhwcToNchw(d, yShape),
      }),
    );
    ctx.log(progressLine(fwd));
    // Backward: ours scatters dy through the saved argmax indices; tfjs's MaxPoolGrad recomputes the
    // argmax positions from x and y, then gathers.
    const bwd = emptyRow({ suite: 'kernels', layer: c.layer, pass: 'backward', shape, batch: N, bytes: 4 * (x.size + 2 * dy.size) });
    rows.push(
      await measurePair(ctx, bwd, {
        ours: () => maxPool2dBackwardRaw(dy, indices, g),
        tfjs: tf
          ? () =>
              tf.engine().runKernel('MaxPoolGrad', { dy: tdy!, input: tx!, output: ty! }, {
                filterSize: [2, 2], strides: [2, 2], pad: 'valid', dimRoundingMode: undefined,
              } as unknown as TF.NamedAttrMap) as TF.Tensor
          : null,
        tfjsToOurs: (d) => nhwcToNchw(d, xShape),
      }),
    );
    ctx.log(progressLine(bwd));
  } finally {
    for (const t of [x, dy, indices]) t.dispose();
    for (const t of [tx, tdy, ty]) t?.dispose();
  }
  return rows;
}

/** The seed's Charbonnier term in tfjs ops: sum(w sqrt((p - t)^2 + eps)) / (sum(w) + eps). */
export function tfCharbonnier(tf: typeof TF, p: TF.Tensor, t: TF.Tensor, w: TF.Tensor, eps = 1e-12): TF.Scalar {
  const e = tf.scalar(eps);
  return tf.div(tf.sum(tf.mul(w, tf.sqrt(tf.add(tf.square(tf.sub(p, t)), e)))), tf.add(tf.sum(w), e)) as TF.Scalar;
}

async function charbonnierRows(ctx: MeasureContext, c: { layer: string; C: number; H: number }, N: number, seed: number): Promise<BenchRow[]> {
  const shape4 = [N, c.C, c.H, c.H], mShape = [N, 1, c.H, c.H];
  const pd = Float32Array.from(normalData(N * c.C * c.H * c.H, seed), (v) => 1 / (1 + Math.exp(-v)));
  const td = Float32Array.from(normalData(N * c.C * c.H * c.H, seed + 1), (v) => 1 / (1 + Math.exp(-v)));
  const md = Float32Array.from(normalData(N * c.H * c.H, seed + 2), (v) => (v > 0 ? 1 : 0));
  const pred = keep(tensor(pd, shape4)), target = keep(tensor(td, shape4)), mask = keep(tensor(md, mShape));
  const tf = ctx.peer?.tf;
  const nhwc = [N, c.H, c.H, c.C] as [number, number, number, number];
  const tp = tf ? tf.tensor4d(nchwToNhwc(pd, shape4), nhwc) : null;
  const tt = tf ? tf.tensor4d(nchwToNhwc(td, shape4), nhwc) : null;
  const tm = tf ? tf.tensor4d(md, [N, c.H, c.H, 1]) : null;
  const shape = `N${N} ${c.C}x${c.H}x${c.H}, mask 1x${c.H}x${c.H}`;
  const bytes = 4 * (2 * pred.size + mask.size);
  const rows: BenchRow[] = [];
  try {
    const fwd = emptyRow({ suite: 'kernels', layer: c.layer, pass: 'forward', shape, batch: N, bytes });
    rows.push(
      await measurePair(ctx, fwd, {
        ours: () => charbonnierLoss(pred, target, mask),
        tfjs: tf ? () => tfCharbonnier(tf, tp!, tt!, tm!) : null,
        tfjsToOurs: (d) => d,
      }),
    );
    ctx.log(progressLine(fwd));
    const bwd = emptyRow({ suite: 'kernels', layer: c.layer, pass: 'forward+backward', shape, batch: N, bytes: bytes + 4 * pred.size });
    rows.push(
      await measurePair(ctx, bwd, {
        ours: () => {
          pred.requiresGrad = true;
          try {
            backward(charbonnierLoss(pred, target, mask));
          } finally {
            pred.requiresGrad = false;
          }
          const g = pred.grad!;
          pred.grad = null;
          return g;
        },
        tfjs: tf ? () => tf.grad((p: TF.Tensor) => tfCharbonnier(tf, p, tt!, tm!))(tp!) : null,
        tfjsToOurs: (d) => nhwcToNchw(d, shape4),
      }),
    );
    ctx.log(progressLine(bwd));
  } finally {
    for (const t of [pred, target, mask]) t.dispose();
    for (const t of [tp, tt, tm]) t?.dispose();
  }
  return rows;
}

export interface KernelSuiteOptions {
  quick: boolean;
  batches: number[];
  /** Only cases whose layer name contains one of these (case-insensitive); empty: all. */
  filter: string[];
}

export async function runKernelSuite(ctx: MeasureContext, o: KernelSuiteOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const cases = kernelCases(o.quick).filter((c) => o.filter.length === 0 || o.filter.some((f) => c.layer.toLowerCase().includes(f.toLowerCase())));
  let seed = 1;
  for (const N of o.batches) {
    for (const c of cases) {
      seed += 10;
      if (c.type === 'conv') rows.push(...(await convRows(ctx, c, N, seed, ['forward', 'backward-data', 'backward-weights'])));
      else if (c.type === 'maxpool') rows.push(...(await maxPoolRows(ctx, c, N, seed)));
      else rows.push(...(await charbonnierRows(ctx, c, N, seed)));
    }
  }
  return rows;
}

/** One conv case's rows (for the smoke test and for ad-hoc runs). */
export function runConvCase(ctx: MeasureContext, c: ConvCase, N: number, passes: readonly Pass[] = ['forward', 'backward-data', 'backward-weights']): Promise<BenchRow[]> {
  return convRows(ctx, c, N, 7, passes);
}

