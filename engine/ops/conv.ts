/**
 * conv2d and convTranspose2d with autograd, on the three implicit-GEMM kernels of kernels/conv2d.ts.
 * A transposed conv is the conv whose input gradient it is, so it reuses them with roles swapped:
 * its forward is conv2dBackwardData, its input gradient conv2dForward, its weight gradient
 * conv2dBackwardWeight with x and dy exchanged.
 *
 * Padding: `number | [h, w] | [top, bottom, left, right] | 'same' | 'valid'`; `same`/`valid` follow
 * TensorFlow (SAME puts the odd extra pixel at the bottom/right). Transposed conv: PyTorch's
 * `padding`/`outputPadding`, or `'same'` for TensorFlow's conv2d_transpose (output = input x stride).
 */
import { engine } from '../engine.ts';
import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { grid1d } from '../kernels/kernel.ts';
import { maxBindingElements, windowOf, type Window } from '../kernels/binding.ts';
import { CONV_WG, conv2dBackwardDataFor, conv2dBackwardWeight, conv2dForwardFor, type ConvGeometry } from '../kernels/conv2d.ts';
import { EXPR, fill, mapElementwise } from '../kernels/elementwise.ts';
import { sumRaw } from '../kernels/reduce.ts';
import { biasGradient, reluMask, reluMaskBiasGradient } from '../kernels/bias-grad.ts';
import { directConvGrid, directInputGradientApplies, directConvKernel, directConvPackedKernel, directConvSubgroupKernel, directWeightKernel, packWeightsKernel, type WeightLayout, directWeightWorkgroupSize, directWorkgroupSize, type DirectGeometry, type DirectTile } from '../kernels/conv/direct.ts';
import { convVariant, parseColsTile, parseTile, parseWinogradTile, phaseInner, registerConvTrial, type ConvVariant } from '../autotune.ts';
import { winogradGeometryOf } from '../kernels/conv/winograd.ts';
import { launchWinograd, launchWinogradWeightGrad } from './conv-winograd.ts';
import { launchColsBackwardData, launchColsWeightGrad } from './conv-cols.ts';
import { phaseMerge, phaseSplit, phaseWeightGrad, phaseWeights } from './conv-phase.ts';
import { phaseGeometryOf } from '../kernels/conv/phase.ts';
import { full } from '../creation.ts';
import { keep } from '../scope.ts';

export type Pair = number | readonly [number, number];
export type Padding = number | readonly [number, number] | readonly [number, number, number, number] | 'same' | 'valid';

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Padding;
  dilation?: Pair;
  /** relu(conv(x) + b), the ReLU fused into the conv's epilogue and its mask into the bias-gradient pass. */
  relu?: boolean;
}

export interface ConvTranspose2dOptions {
  stride?: Pair;
  /** PyTorch's padding (cropped from both sides), or 'same' for TensorFlow's SAME. */
  padding?: Pair | 'same';
  outputPadding?: Pair;
  dilation?: Pair;
  /** With 'same': the output size (default input x stride). */
  outputSize?: readonly [number, number];
  /** relu(convTranspose(x) + b), bias and ReLU in one pass and the mask fused into the bias-gradient pass. */
  relu?: boolean;
}

const pair = (p: Pair | undefined, d: number): [number, number] => (p === undefined ? [d, d] : typeof p === 'number' ? [p, p] : [p[0], p[1]]);

/** TensorFlow's SAME split of the total padding: the smaller half first. */
export function samePadding(inSize: number, k: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + (k - 1) * dilation + 1 - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new Error(msg);
}

function positiveInts(op: string, what: string, v: readonly number[]): void {
  check(v.every((x) => Number.isInteger(x) && x >= 1), `${op}: ${what} must be positive integers, got [${v}]`);
}

export function conv2dGeometry(xShape: readonly number[], wShape: readonly number[], o: Conv2dOptions): ConvGeometry {
  check(xShape.length === 4, `conv2d: input must be NCHW (rank 4), got [${xShape}]`);
  check(wShape.length === 4, `conv2d: weight must be [out, in, kh, kw], got [${wShape}]`);
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [O, Cw, KH, KW] = wShape as [number, number, number, number];
  check(C === Cw, `conv2d: input has ${C} channels but the weight expects ${Cw} ([${wShape}])`);
  const [SH, SW] = pair(o.stride, 1);
  const [DH, DW] = pair(o.dilation, 1);
  positiveInts('conv2d', 'stride', [SH, SW]);
  positiveInts('conv2d', 'dilation', [DH, DW]);
  let pad: [number, number, number, number];
  const p = o.padding ?? 0;
  if (p === 'same') pad = [...samePadding(H, KH, SH, DH), ...samePadding(W, KW, SW, DW)];
  else if (p === 'valid') pad = [0, 0, 0, 0];
  else if (typeof p === 'number') pad = [p, p, p, p];
  else if (p.length === 2) pad = [p[0], p[0], p[1], p[1]];
  else pad = [p[0], p[1], p[2], p[3]] as [number, number, number, number];
  check(pad.every((v) => Number.isInteger(v) && v >= 0), `conv2d: padding must be non-negative integers, got [${pad}]`);
  const OH = Math.floor((H + pad[0] + pad[1] - (KH - 1) * DH - 1) / SH) + 1;
  const OW = Math.floor((W + pad[2] + pad[3] - (KW - 1) * DW - 1) / SW) + 1;
  check(OH >= 1 && OW >= 1, `conv2d: a ${KH}x${KW} kernel (dilation ${DH}) does not fit the ${H}x${W} input with padding [${pad}]`);
  return { N, C, H, W, O, OH, OW, KH, KW, SH, SW, PT: pad[0], PL: pad[2], DH, DW };
}

export function convTranspose2dGeometry(xShape: readonly number[], wShape: readonly number[], o: ConvTranspose2dOptions): ConvGeometry {
  check(xShape.length === 4, `convTranspose2d: input must be NCHW (rank 4), got [${xShape}]`);
  check(wShape.length === 4, `convTranspose2d: weight must be [in, out, kh, kw], got [${wShape}]`);
  const [N, Cin, H, W] = xShape as [number, number, number, number];
  const [Cw, Cout, KH, KW] = wShape as [number, number, number, number];
  check(Cin === Cw, `convTranspose2d: input has ${Cin} channels but the weight [in, out, kh, kw] expects ${Cw}`);
  const [SH, SW] = pair(o.stride, 1);
  const [DH, DW] = pair(o.dilation, 1);
  positiveInts('convTranspose2d', 'stride', [SH, SW]);
  let PT: number, PL: number, OHt: number, OWt: number;
  if (o.padding === 'same') {
    [OHt, OWt] = o.outputSize ?? [H * SH, W * SW];
    // The conv whose gradient this is: input OHt, output H, TF SAME padding of that conv.
    PT = Math.floor(Math.max((H - 1) * SH + (KH - 1) * DH + 1 - OHt, 0) / 2);
    PL = Math.floor(Math.max((W - 1) * SW + (KW - 1) * DW + 1 - OWt, 0) / 2);
  } else {
    const [ph, pw] = pair(o.padding, 0);
    const [oph, opw] = pair(o.outputPadding, 0);
    check(oph < Math.max(SH, DH) && opw < Math.max(SW, DW), 'convTranspose2d: outputPadding must be smaller than stride or dilation');
    PT = ph;
    PL = pw;
    OHt = (H - 1) * SH - 2 * ph + (KH - 1) * DH + 1 + oph;
    OWt = (W - 1) * SW - 2 * pw + (KW - 1) * DW + 1 + opw;
  }
  check(OHt >= 1 && OWt >= 1, `convTranspose2d: output size ${OHt}x${OWt} is empty`);
  return { N, C: Cout, H: OHt, W: OWt, O: Cin, OH: H, OW: W, KH, KW, SH, SW, PT, PL, DH, DW };
}

const u32 = (v: number): number => v >>> 0; // offsets may wrap: the kernels' u32 arithmetic is modular

/** Batch ranges such that every per-sample operand of the launch fits one binding. */
function batchChunks(N: number, perSample: number[]): [number, number][] {
  const maxElems = maxBindingElements();
  const worst = Math.max(...perSample);
  check(worst <= maxElems, `conv: one sample's activation of ${worst * 4} bytes exceeds a storage binding (${maxElems * 4})`);
  const per = Math.max(1, Math.floor(maxElems / worst));
  const out: [number, number][] = [];
  for (let n = 0; n < N; n += per) out.push([n, Math.min(N, n + per)]);
  return out;
}

/**
 * Output-channel ranges such that each weight slice [o0, o1) fits one binding; with `multiple`, the
 * ranges are whole blocks of that many channels (packed weights pad the last block to a full one,
 * so the block count, not the channel count, must fit).
 */
function channelChunks(O: number, rowElems: number, multiple = 1): [number, number][] {
  const fit = Math.max(1, Math.floor(maxBindingElements() / rowElems));
  const per = Math.max(multiple, Math.floor(fit / multiple) * multiple);
  const out: [number, number][] = [];
  for (let o = 0; o < O; o += per) out.push([o, Math.min(O, o + per)]);
  return out;
}

function geometryUniforms(g: ConvGeometry, N: number) {
  return { N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, KH: g.KH, KW: g.KW, SH: g.SH, SW: g.SW, PT: g.PT, PL: g.PL, DH: g.DH, DW: g.DW };
}

/** y = conv(x, w) + b (then ReLU with `relu`), with y [N, O, OH, OW] given; `variant` overrides the tuned choice. */
export function launchConvForward(g: ConvGeometry, x: Tensor, w: Tensor, b: Tensor | null, y: Tensor, variant?: ConvVariant, relu = false): void {
  const v = variant ?? convVariant('forward', g);
  const phase = phaseInner(v);
  const pg = phase !== null ? phaseGeometryOf(g) : null;
  if (phase !== null && pg) {
    // a stride-2 conv as the 3x3 conv of its input's phases
    const xp = phaseSplit(g, pg, x);
    const wp = phaseWeights(g, w);
    launchConvForward(pg, xp, wp, b, y, phase, relu);
    xp.dispose();
    wp.dispose();
    return;
  }
  const wino = parseWinogradTile(v);
  const wg = wino && winogradGeometryOf('forward', g);
  if (wino && wg) return launchWinograd(wg, g.N, x, w, { qStride: g.C * wg.K * wg.K, cStride: wg.K * wg.K, flip: false }, b, y, wino, relu);
  if (v !== 'gemm' && !wino) return launchDirectForward(g, x, w, b, y, parseTile(v), relu);
  const e = engine();
  const K = g.C * g.KH * g.KW;
  const xs = g.C * g.H * g.W, ys = g.O * g.OH * g.OW;
  for (const [n0, n1] of batchChunks(g.N, [xs, ys])) {
    const xw = windowOf(x.buffer, n0 * xs, n1 * xs);
    const yw = windowOf(y.buffer, n0 * ys, n1 * ys);
    for (const [o0, o1] of channelChunks(g.O, K)) {
      const ww = windowOf(w.buffer, o0 * K, o1 * K);
      const bw = b ? windowOf(b.buffer, o0, o1) : ww;
      const oCount = o1 - o0;
      const kernel = conv2dForwardFor(oCount);
      const tiles = Math.ceil(((n1 - n0) * g.OH * g.OW) / 4) * Math.ceil(oCount / kernel.channels);
      e.dispatch(
        kernel.def,
        {
          ...geometryUniforms(g, n1 - n0),
          xOff: u32(xw.first - n0 * xs),
          wOff: u32(ww.first - o0 * K),
          yOff: u32(yw.first - n0 * ys),
          bOff: b ? u32(bw.first - o0) : 0,
          oBase: o0,
          oCount,
          hasBias: b ? 1 : 0,
          relu: relu ? 1 : 0,
        },
        [xw.slice, ww.slice, bw.slice, yw.slice],
        grid1d(tiles, CONV_WG),
      );
    }
  }
}

/** The direct kernel (kernels/conv/direct.ts) over batch and output-channel chunks. */
function launchDirectForward(g: ConvGeometry, x: Tensor, w: Tensor, b: Tensor | null, y: Tensor, tile: DirectTile, relu: boolean): void {
  const e = engine();
  const K = g.C * g.KH * g.KW;
  const xs = g.C * g.H * g.W, ys = g.O * g.OH * g.OW;
  for (const [n0, n1] of batchChunks(g.N, [xs, ys])) {
    const wg = directWorkgroupSize(g, tile, n1 - n0);
    const layout: WeightLayout = { qStride: K, cStride: g.KH * g.KW, flip: false };
    const def = directKernelFor(g, layout, tile, wg);
    const xw = windowOf(x.buffer, n0 * xs, n1 * xs);
    const yw = windowOf(y.buffer, n0 * ys, n1 * ys);
    for (const [o0, o1] of channelChunks(g.O, K, tile.packed ? tile.TN : 1)) {
      let ww = windowOf(w.buffer, o0 * K, o1 * K);
      const bw = b ? windowOf(b.buffer, o0, o1) : ww;
      const oCount = o1 - o0;
      let wOff = u32(ww.first - o0 * K);
      const packed = tile.packed ? packWeights(g.C, g.KH, g.KW, { qStride: K, cStride: g.KH * g.KW, flip: false }, tile.TN, ww, wOff, oCount) : null;
      if (packed) {
        ww = windowOf(packed.buffer, 0, packed.size);
        wOff = 0;
      }
      e.dispatch(
        def,
        {
          N: n1 - n0, O: g.O, oBase: o0, oCount,
          xOff: u32(xw.first - n0 * xs),
          wOff,
          yOff: u32(yw.first - n0 * ys),
          bOff: b ? u32(bw.first - o0) : 0,
          hasBias: b ? 1 : 0,
          relu: relu ? 1 : 0,
        },
        [xw.slice, ww.slice, bw.slice, yw.slice],
        directConvGrid(g, tile, n1 - n0, oCount, wg),
      );
      packed?.dispose();
    }
  }
}

/** The direct forward-type kernel of a tile: plain, packed weights, or weights shared by the subgroup. */
function directKernelFor(g: DirectGeometry, layout: WeightLayout, tile: DirectTile, wg: number) {
  if (tile.subgroup) return directConvSubgroupKernel(g, layout, tile, wg);
  return tile.packed ? directConvPackedKernel(g, tile, wg) : directConvKernel(g, layout, tile, wg);
}

/** The weights of a direct launch repacked for vec4 loads (packWeightsKernel), for `oCount` output channels. */
function packWeights(C: number, KH: number, KW: number, layout: WeightLayout, TN: number, ww: Window, wOff: number, oCount: number): Tensor {
  const total = Math.ceil(oCount / TN) * TN * C * KH * KW;
  const wp = Tensor.empty([total], 'f32', 'packed conv weights');
  // the pool may hand out a larger buffer: bind only the packed elements
  engine().dispatch(packWeightsKernel(C, KH, KW, layout, TN), { oCount, wOff, total }, [ww.slice, windowOf(wp.buffer, 0, total).slice], grid1d(total, 64));
  return wp;
}

/**
 * One output phase (ry, rx) of a strided conv's input gradient: the pixels dx[iy = SH*a + ry,
 * ix = SW*b + rx] take dy[oy, ox] * w[ky, kx] only from the taps ky = ky0 + SH*j (ky0 = (ry + PT)
 * mod SH), at oy = a + dY - j (dY = (ry + PT - ky0) / SH), and likewise along x. Over (a, b) that is
 * a stride-1 conv of dy with the sub-kernel of those taps in reverse order, padded by KHp - 1 - dY:
 * the direct kernels run it unchanged, writing every SH-th row and SW-th column of dx.
 * A phase without taps (a kernel smaller than its stride) has zeros there: `empty`.
 */
interface BackwardDataPhase {
  dg: DirectGeometry;
  layout: WeightLayout;
  empty: boolean;
}

function backwardDataPhases(g: ConvGeometry, channels: number): BackwardDataPhase[] {
  const KK = g.KH * g.KW;
  if (g.SH === 1 && g.SW === 1) {
    const dg: DirectGeometry = {
      C: channels, H: g.OH, W: g.OW, OH: g.H, OW: g.W, KH: g.KH, KW: g.KW, SH: 1, SW: 1,
      PT: (g.KH - 1) * g.DH - g.PT, PL: (g.KW - 1) * g.DW - g.PL, DH: g.DH, DW: g.DW,
    };
    return [{ dg, layout: { qStride: KK, cStride: g.C * KK, flip: true }, empty: false }];
  }
  const axis = (r: number, S: number, P: number, K: number, size: number) => {
    const k0 = (((r + P) % S) + S) % S;
    const taps = k0 < K ? Math.ceil((K - k0) / S) : 0;
    const d = (r + P - k0) / S;
    return { k0, taps, pad: taps - 1 - d, outputs: Math.ceil((size - r) / S) };
  };
  const phases: BackwardDataPhase[] = [];
  for (let ry = 0; ry < g.SH; ry++) {
    for (let rx = 0; rx < g.SW; rx++) {
      const y = axis(ry, g.SH, g.PT, g.KH, g.H), x = axis(rx, g.SW, g.PL, g.KW, g.W);
      if (y.outputs <= 0 || x.outputs <= 0) continue;
      const empty = y.taps === 0 || x.taps === 0;
      const dg: DirectGeometry = {
        C: channels, H: g.OH, W: g.OW, OH: y.outputs, OW: x.outputs, KH: Math.max(1, y.taps), KW: Math.max(1, x.taps), SH: 1, SW: 1,
        PT: y.pad, PL: x.pad, DH: 1, DW: 1,
        out: { H: g.H, W: g.W, SY: g.SH, SX: g.SW, RY: ry, RX: rx },
      };
      const sub = { rowBase: y.k0 + g.SH * (y.taps - 1), colBase: x.k0 + g.SW * (x.taps - 1), SH: g.SH, SW: g.SW, KW: g.KW };
      phases.push({ dg, layout: { qStride: KK, cStride: g.C * KK, flip: false, sub }, empty });
    }
  }
  return phases;
}

function launchDirectBackwardData(g: ConvGeometry, dy: Tensor, w: Tensor, tile: DirectTile): Tensor {
  const e = engine();
  const KK = g.KH * g.KW;
  const plane = g.OH * g.OW;
  const xs = g.C * g.H * g.W, ys = g.O * plane;
  // Weights beyond one binding (fc6's input gradient: 411 MB) go in ranges of output channels, the
  // sum the input gradient runs over: one partial dx per range, added in a fixed order.
  const channels = tile.packed ? Math.ceil(g.C / tile.TN) * tile.TN : g.C;
  const partials: Tensor[] = [];
  for (const [o0, o1] of channelChunks(g.O, channels * KK)) {
    const oc = o1 - o0;
    const phases = backwardDataPhases(g, oc);
    const dx = phases.some((ph) => ph.empty) ? fill([g.N, g.C, g.H, g.W], 0) : Tensor.empty([g.N, g.C, g.H, g.W]);
    let ww = windowOf(w.buffer, o0 * g.C * KK, o1 * g.C * KK);
    let wOff = u32(ww.first - o0 * g.C * KK);
    // packed weights: stride-1 convs only (variantApplies), one phase with the flipped layout
    const packed = tile.packed ? packWeights(oc, g.KH, g.KW, phases[0]!.layout, tile.TN, ww, wOff, g.C) : null;
    if (packed) {
      ww = windowOf(packed.buffer, 0, packed.size);
      wOff = 0;
    }
    for (const { dg: phaseGeometry, layout, empty } of phases) {
      if (empty) continue;
      // a channel range of dy: its samples stay ys apart
      const dg: DirectGeometry = oc < g.O ? { ...phaseGeometry, xStride: ys } : phaseGeometry;
      for (const [n0, n1] of batchChunks(g.N, [xs, ys])) {
        const dyw = windowOf(dy.buffer, n0 * ys + o0 * plane, (n1 - 1) * ys + o1 * plane);
        const dxw = windowOf(dx.buffer, n0 * xs, n1 * xs);
        const wg = directWorkgroupSize(dg, tile, n1 - n0);
        const def = directKernelFor(dg, layout, tile, wg);
        e.dispatch(
          def,
          { N: n1 - n0, O: g.C, oBase: 0, oCount: g.C, xOff: u32(dyw.first - n0 * ys - o0 * plane), wOff, yOff: u32(dxw.first - n0 * xs), bOff: 0, hasBias: 0, relu: 0 },
          [dyw.slice, ww.slice, ww.slice, dxw.slice],
          directConvGrid(dg, tile, n1 - n0, g.C, wg),
        );
      }
    }
    packed?.dispose();
    partials.push(dx);
  }
  return sumInOrder(partials);
}

/** The sum of partial results in a fixed order (bit-identical run to run); disposes them. */
function sumInOrder(partials: Tensor[]): Tensor {
  let acc = partials[0]!;
  for (const p of partials.slice(1)) {
    const next = mapElementwise('add', EXPR.add, [acc, p]);
    acc.dispose();
    p.dispose();
    acc = next;
  }
  return acc;
}

/** dx [N, C, H, W] = conv2d's input gradient for dy [N, O, OH, OW]. */
export function launchConvBackwardData(g: ConvGeometry, dy: Tensor, w: Tensor, variant?: ConvVariant): Tensor {
  const e = engine();
  const K = g.C * g.KH * g.KW;
  const xs = g.C * g.H * g.W, ys = g.O * g.OH * g.OW;
  const oRanges = channelChunks(g.O, K);
  const v = variant ?? convVariant('backward-data', g);
  const phase = phaseInner(v);
  const pg = phase !== null ? phaseGeometryOf(g) : null;
  if (phase !== null && pg) {
    const wp = phaseWeights(g, w);
    const dxp = launchConvBackwardData(pg, dy, wp, phase);
    wp.dispose();
    const dx = phaseMerge(g, pg, dxp);
    dxp.dispose();
    return dx;
  }
  const cols = parseColsTile(v);
  if (cols) return sumInOrder(launchColsBackwardData(g, dy, w, cols));
  const wino = parseWinogradTile(v);
  const wg = wino && winogradGeometryOf('backward-data', g);
  if (wino && wg) {
    // the conv of dy with the transposed, flipped weights
    const dx = Tensor.empty([g.N, g.C, g.H, g.W]);
    launchWinograd(wg, g.N, dy, w, { qStride: wg.K * wg.K, cStride: g.C * wg.K * wg.K, flip: true }, null, dx, wino, false);
    return dx;
  }
  if (v !== 'gemm' && !wino && directInputGradientApplies(g, parseTile(v))) return launchDirectBackwardData(g, dy, w, parseTile(v));
  const partials: Tensor[] = [];
  for (const [o0, o1] of oRanges) {
    const dx = Tensor.empty([g.N, g.C, g.H, g.W]);
    const ww = windowOf(w.buffer, o0 * K, o1 * K);
    for (const [n0, n1] of batchChunks(g.N, [xs, ys])) {
      const dyw = windowOf(dy.buffer, n0 * ys, n1 * ys);
      const dxw = windowOf(dx.buffer, n0 * xs, n1 * xs);
      const kernel = conv2dBackwardDataFor(g.C);
      const tiles = g.SH * g.SW * (n1 - n0) * Math.ceil(g.H / g.SH) * Math.ceil(Math.ceil(g.W / g.SW) / 4) * Math.ceil(g.C / kernel.channels);
      e.dispatch(
        kernel.def,
        {
          ...geometryUniforms(g, n1 - n0),
          xOff: u32(dxw.first - n0 * xs),
          wOff: u32(ww.first - o0 * K),
          yOff: u32(dyw.first - n0 * ys),
          bOff: 0,
          oBase: o0,
          oCount: o1 - o0,
          hasBias: 0,
        },
        [dyw.slice, ww.slice, dxw.slice],
        grid1d(tiles, CONV_WG),
      );
    }
    partials.push(dx);
  }
  // Weight slices (only for weights beyond one binding) are summed in a fixed order.
  return sumInOrder(partials);
}

/** Invocations a weight-gradient launch aims for before splitting its long sum (split-K). */
const TARGET_INVOCATIONS = 4096;

/** dw [O, C, KH, KW] = conv2d's weight gradient for input x and output gradient dy. */
export function launchConvBackwardWeight(g: ConvGeometry, x: Tensor, dy: Tensor, variant?: ConvVariant): Tensor {
  const v = variant ?? convVariant('backward-weights', g);
  const phase = phaseInner(v);
  const pg = phase !== null ? phaseGeometryOf(g) : null;
  if (phase !== null && pg) {
    const xp = phaseSplit(g, pg, x);
    const dwp = launchConvBackwardWeight(pg, xp, dy, phase);
    xp.dispose();
    const dw = phaseWeightGrad(g, dwp);
    dwp.dispose();
    return dw;
  }
  const cols = g.C * g.KH * g.KW;
  const shape = [g.O, g.C, g.KH, g.KW];
  const colsTile = parseColsTile(v);
  // the column-matrix GEMM computes whole blocks of TN output channels
  const ranges = channelChunks(g.O, cols, colsTile ? colsTile.TN : 1);
  const wino = parseWinogradTile(v);
  const wg = wino && winogradGeometryOf('backward-weights', g);
  const partials = (o0: number, o1: number) =>
    colsTile
      ? launchColsWeightGrad(g, x, dy, o0, o1, colsTile)
      : wg && wino && o0 === 0 && o1 === g.O
      ? launchWinogradWeightGrad(wg, g.N, x, dy, wino)
      : v === 'gemm' || wino
        ? gemmWeightPartials(g, x, dy, o0, o1)
        : directWeightPartials(g, x, dy, o0, o1, parseTile(v));
  if (ranges.length === 1) {
    const slabs = partials(0, g.O);
    // The common case, one slab: its split-K sum (or the slab itself) is dw, with no copy into a
    // separate dw (each copy ends the shared compute pass; a tiny step had ~26 of them).
    if (slabs.length === 1) return ownedView(slabs[0]!.shape[0] === 1 ? slabs[0]! : sumOwned(slabs[0]!), shape);
    const dw = Tensor.empty(shape);
    sumPartialsInto(slabs, dw, 0, g.O * cols);
    return dw;
  }
  const dw = Tensor.empty(shape);
  for (const [o0, o1] of ranges) sumPartialsInto(partials(o0, o1), dw, o0 * cols, (o1 - o0) * cols);
  return dw;
}

/** The sum of `slab` [splits, count] over its rows; disposes the slab. */
function sumOwned(slab: Tensor): Tensor {
  const out = sumRaw(slab, [0], false);
  slab.dispose();
  return out;
}

/** `t` under another shape, taking ownership (the original reference is released). */
function ownedView(t: Tensor, shape: readonly number[]): Tensor {
  const v = t.view(shape);
  t.dispose();
  return v;
}

/** Split-K over output rows: about `wanted` splits, each partial slab of `slab` elements within a binding. */
function splitRows(rows: number, wanted: number, slab: number): { splits: number; rowsPerSplit: number } {
  const splits = Math.max(1, Math.min(rows, wanted, Math.floor(maxBindingElements() / slab)));
  const rowsPerSplit = Math.ceil(rows / splits);
  return { splits: Math.ceil(rows / rowsPerSplit), rowsPerSplit };
}

/** Workgroups a weight-gradient launch aims for before splitting its long sum over rows. */
const TARGET_WORKGROUPS = 32;

function directWeightPartials(g: ConvGeometry, x: Tensor, dy: Tensor, o0: number, o1: number, tile: DirectTile): Tensor[] {
  const e = engine();
  const cols = g.C * g.KH * g.KW;
  const xs = g.C * g.H * g.W, ys = g.O * g.OH * g.OW;
  const oCount = o1 - o0;
  const wgSize = directWeightWorkgroupSize(g.C);
  const def = directWeightKernel(g, tile, wgSize);
  const kernelRowSplits = tile.kRows ? g.KH / tile.kRows : 1;
  const groups = Math.ceil(g.C / wgSize) * Math.ceil(oCount / tile.TN) * kernelRowSplits;
  const slabs: Tensor[] = [];
  for (const [n0, n1] of batchChunks(g.N, [xs, ys])) {
    const rows = (n1 - n0) * g.OH;
    const { splits, rowsPerSplit } = splitRows(rows, Math.ceil(TARGET_WORKGROUPS / groups), oCount * cols);
    const part = Tensor.empty([splits, oCount * cols], 'f32', 'conv dw partials');
    const xw = windowOf(x.buffer, n0 * xs, n1 * xs);
    const dyw = windowOf(dy.buffer, n0 * ys, n1 * ys);
    e.dispatch(
      def,
      { N: n1 - n0, O: g.O, oBase: o0, oCount, xOff: u32(xw.first - n0 * xs), wOff: 0, yOff: u32(dyw.first - n0 * ys), bOff: 0, hasBias: 0, rowsPerSplit },
      [xw.slice, dyw.slice, part.buffer],
      [Math.ceil(g.C / wgSize), Math.ceil(oCount / tile.TN), splits * kernelRowSplits],
    );
    slabs.push(part);
  }
  return slabs;
}

function gemmWeightPartials(g: ConvGeometry, x: Tensor, dy: Tensor, o0: number, o1: number): Tensor[] {
  const e = engine();
  const cols = g.C * g.KH * g.KW;
  const xs = g.C * g.H * g.W, ys = g.O * g.OH * g.OW;
  const oCount = o1 - o0;
  const tiles = Math.ceil(oCount / 4) * Math.ceil(cols / 4);
  const slabs: Tensor[] = [];
  for (const [n0, n1] of batchChunks(g.N, [xs, ys])) {
    const rows = (n1 - n0) * g.OH;
    const { splits, rowsPerSplit } = splitRows(rows, Math.ceil(TARGET_INVOCATIONS / tiles), oCount * cols);
    const part = Tensor.empty([splits, oCount * cols], 'f32', 'conv dw partials');
    const xw = windowOf(x.buffer, n0 * xs, n1 * xs);
    const dyw = windowOf(dy.buffer, n0 * ys, n1 * ys);
    e.dispatch(
      conv2dBackwardWeight,
      {
        ...geometryUniforms(g, n1 - n0),
        xOff: u32(xw.first - n0 * xs),
        wOff: 0,
        yOff: u32(dyw.first - n0 * ys),
        bOff: 0,
        oBase: o0,
        oCount,
        hasBias: 0,
        splits,
        rowsPerSplit,
      },
      [xw.slice, dyw.slice, part.buffer],
      grid1d(tiles * splits, CONV_WG),
    );
    slabs.push(part);
  }
  return slabs;
}

/** Sums split-K partials (and batch chunks) in a fixed order into dw[at, at + count): deterministic. */
function sumPartialsInto(slabs: Tensor[], dw: Tensor, at: number, count: number): void {
  const e = engine();
  let stacked: Tensor;
  if (slabs.length === 1) stacked = slabs[0]!;
  else {
    const total = slabs.reduce((s, t) => s + t.shape[0]!, 0);
    stacked = Tensor.empty([total, count]);
    let off = 0;
    for (const s of slabs) {
      e.copy(s.buffer, 0, stacked.buffer, off, s.byteLength);
      off += s.byteLength;
      s.dispose();
    }
  }
  if (stacked.shape[0] === 1) {
    e.copy(stacked.buffer, 0, dw.buffer, at * 4, count * 4);
  } else {
    const summed = sumRaw(stacked, [0], false);
    e.copy(summed.buffer, 0, dw.buffer, at * 4, count * 4);
    summed.dispose();
  }
  stacked.dispose();
}

/**
 * The output gradient a conv's backward works from, and its bias gradient: with a fused ReLU, dy
 * masked by the saved output (y > 0 exactly where the pre-activation was) in the same pass that
 * sums the bias gradient (kernels/bias-grad.ts). `own` says whether the caller must dispose gm.
 */
function convOutputGrad(gy: Tensor, y: Tensor | undefined, hasBias: boolean): { gm: Tensor; db: Tensor | null; own: boolean } {
  if (!y) return { gm: gy, db: hasBias ? biasGradient(gy) : null, own: false };
  if (!hasBias) return { gm: reluMask(gy, y), db: null, own: true };
  const { gm, db } = reluMaskBiasGradient(gy, y);
  return { gm, db, own: true };
}

export function conv2d(x: Tensor, w: Tensor, b: Tensor | null = null, o: Conv2dOptions = {}): Tensor {
  const g = conv2dGeometry(x.shape, w.shape, o);
  if (b) check(b.size === g.O, `conv2d: bias has ${b.size} values for ${g.O} output channels`);
  const relu = !!o.relu;
  const y = Tensor.empty([g.N, g.O, g.OH, g.OW]);
  launchConvForward(g, x, w, b, y, undefined, relu);
  return record(relu ? 'conv2dRelu' : 'conv2d', y, [x, w, b], relu ? [x, w, y] : [x, w], (gy, [sx, sw, sy]) => {
    const { gm, db, own } = convOutputGrad(gy, sy, !!b);
    const grads = [
      x.node || x.requiresGrad ? launchConvBackwardData(g, gm, sw!) : null,
      w.node || w.requiresGrad ? launchConvBackwardWeight(g, sx!, gm) : null,
      db,
    ];
    if (own) gm.dispose();
    return grads;
  });
}

export function convTranspose2d(x: Tensor, w: Tensor, b: Tensor | null = null, o: ConvTranspose2dOptions = {}): Tensor {
  const g = convTranspose2dGeometry(x.shape, w.shape, o);
  if (b) check(b.size === g.C, `convTranspose2d: bias has ${b.size} values for ${g.C} output channels`);
  const relu = !!o.relu;
  let y = launchConvBackwardData(g, x, w);
  if (b || relu) {
    // bias and ReLU in one elementwise pass
    const bb = b ? b.view([1, g.C, 1, 1]) : null;
    const next = bb
      ? mapElementwise(relu ? 'addBiasRelu' : 'addBias', relu ? EXPR.addRelu : EXPR.add, [y, bb])
      : mapElementwise('relu', EXPR.relu, [y]);
    bb?.dispose();
    y.dispose();
    y = next;
  }
  return record(relu ? 'convTranspose2dRelu' : 'convTranspose2d', y, [x, w, b], relu ? [x, w, y] : [x, w], (gy, [sx, sw, sy]) => {
    const { gm, db, own } = convOutputGrad(gy, sy, !!b);
    let gx: Tensor | null = null;
    if (x.node || x.requiresGrad) {
      gx = Tensor.empty(x.shape);
      launchConvForward(g, gm, sw!, null, gx);
    }
    const gw = w.node || w.requiresGrad ? launchConvBackwardWeight(g, gm, sx!) : null;
    if (own) gm.dispose();
    return [gx, gw, db];
  });
}

// The autotuner's trial runs: operands of the shape (constant values: no denormals), one pass per run.
registerConvTrial((pass, g) => {
  const x = keep(full([g.N, g.C, g.H, g.W], 0.5));
  const w = keep(full([g.O, g.C, g.KH, g.KW], 0.25));
  const dy = keep(full([g.N, g.O, g.OH, g.OW], 0.5));
  return {
    run: (v) => {
      if (pass === 'forward') {
        const y = Tensor.empty([g.N, g.O, g.OH, g.OW]);
        launchConvForward(g, x, w, null, y, v);
        y.dispose();
      } else if (pass === 'backward-data') launchConvBackwardData(g, dy, w, v).dispose();
      else launchConvBackwardWeight(g, x, dy, v).dispose();
    },
    dispose: () => {
      x.dispose();
      w.dispose();
      dy.dispose();
    },
  };
});
