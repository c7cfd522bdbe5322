// Reference 2-D convolution (really cross-correlation, as in every DL framework), NCHW, f64.
//
// Conventions:
// - x: [N, C, H, W]; w: [O, C, kh, kw] (PyTorch layout, which checkpoints use); b: [O] or null.
// - Padding is given as four explicit numbers (top, bottom, left, right) because TensorFlow's SAME
//   padding is asymmetric (the extra pixel goes at the bottom/right); padded cells are zeros.
// - Output pixel (oh, ow) reads input (oh*sh - pt + ki*dh, ow*sw - pl + kj*dw).

import { type Arr, arr, assertShape } from './array.ts';

export interface Conv2dOpts {
  stride: [number, number];
  /** top, bottom, left, right (may be asymmetric) */
  padding: [number, number, number, number];
  dilation: [number, number];
}

/** One spatial output size: floor((in + padBefore + padAfter - d*(k-1) - 1) / s) + 1. */
export function convOutSize(
  inSize: number,
  k: number,
  stride: number,
  padBefore: number,
  padAfter: number,
  dilation: number,
): number {
  const span = inSize + padBefore + padAfter - dilation * (k - 1) - 1;
  if (span < 0) throw new Error(`conv: kernel (k=${k}, d=${dilation}) larger than padded input ${inSize}`);
  return Math.floor(span / stride) + 1;
}

function checkOpts(o: Conv2dOpts): void {
  for (const s of o.stride) if (!(Number.isInteger(s) && s >= 1)) throw new Error(`bad stride ${o.stride}`);
  for (const d of o.dilation) if (!(Number.isInteger(d) && d >= 1)) throw new Error(`bad dilation ${o.dilation}`);
  for (const p of o.padding) if (!(Number.isInteger(p) && p >= 0)) throw new Error(`bad padding ${o.padding}`);
}

/** Output shape [N, O, OH, OW] of conv2d(x, w) under `o`. */
export function conv2dOutShape(xShape: number[], wShape: number[], o: Conv2dOpts): number[] {
  checkOpts(o);
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [O, Cw, kh, kw] = wShape as [number, number, number, number];
  if (xShape.length !== 4 || wShape.length !== 4) throw new Error('conv2d: x and w must be 4-D');
  if (C !== Cw) throw new Error(`conv2d: x has ${C} channels, w expects ${Cw}`);
  const [sh, sw] = o.stride;
  const [pt, pb, pl, pr] = o.padding;
  const [dh, dw] = o.dilation;
  return [N, O, convOutSize(H, kh, sh, pt, pb, dh), convOutSize(W, kw, sw, pl, pr, dw)];
}

export function conv2d(x: Arr, w: Arr, b: Arr | null, o: Conv2dOpts): Arr {
  const outShape = conv2dOutShape(x.shape, w.shape, o);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, , kh, kw] = w.shape as [number, number, number, number];
  const [, , OH, OW] = outShape as [number, number, number, number];
  if (b !== null) assertShape(b, [O], 'conv2d bias');
  const [sh, sw] = o.stride;
  const [pt, , pl] = o.padding;
  const [dh, dw] = o.dilation;
  const y = arr(outShape);
  for (let n = 0; n < N; n++) {
    for (let oc = 0; oc < O; oc++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = b === null ? 0 : b.data[oc];
          for (let c = 0; c < C; c++) {
            for (let ki = 0; ki < kh; ki++) {
              const ih = oh * sh - pt + ki * dh;
              if (ih < 0 || ih >= H) continue; // zero padding
              for (let kj = 0; kj < kw; kj++) {
                const iw = ow * sw - pl + kj * dw;
                if (iw < 0 || iw >= W) continue;
                acc += x.data[((n * C + c) * H + ih) * W + iw] * w.data[((oc * C + c) * kh + ki) * kw + kj];
              }
            }
          }
          y.data[((n * O + oc) * OH + oh) * OW + ow] = acc;
        }
      }
    }
  }
  return y;
}

/**
 * Gradients of conv2d given dy = dLoss/dy. Walks exactly the same (output, tap) pairs as the
 * forward pass, so each product x*w that made y contributes dy*w to dx and dy*x to dw.
 */
export function conv2dBackward(
  x: Arr,
  w: Arr,
  dy: Arr,
  o: Conv2dOpts,
  hasBias: boolean,
): { dx: Arr; dw: Arr; db: Arr | null } {
  const outShape = conv2dOutShape(x.shape, w.shape, o);
  assertShape(dy, outShape, 'conv2dBackward dy');
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, , kh, kw] = w.shape as [number, number, number, number];
  const [, , OH, OW] = outShape as [number, number, number, number];
  const [sh, sw] = o.stride;
  const [pt, , pl] = o.padding;
  const [dh, dw] = o.dilation;
  const dx = arr(x.shape);
  const dW = arr(w.shape);
  const db = hasBias ? arr([O]) : null;
  for (let n = 0; n < N; n++) {
    for (let oc = 0; oc < O; oc++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const g = dy.data[((n * O + oc) * OH + oh) * OW + ow];
          if (db !== null) db.data[oc] += g;
          for (let c = 0; c < C; c++) {
            for (let ki = 0; ki < kh; ki++) {
              const ih = oh * sh - pt + ki * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kj = 0; kj < kw; kj++) {
                const iw = ow * sw - pl + kj * dw;
                if (iw < 0 || iw >= W) continue;
                const xi = ((n * C + c) * H + ih) * W + iw;
                const wi = ((oc * C + c) * kh + ki) * kw + kj;
                dx.data[xi] += g * w.data[wi];
                dW.data[wi] += g * x.data[xi];
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw: dW, db };
}

/**
 * TensorFlow's padding for one spatial axis, as [before, after].
 * SAME: out = ceil(in / stride); the effective kernel is (k-1)*dilation + 1; the total padding is
 *   whatever makes the last window fit, max((out-1)*stride + effK - in, 0), and TensorFlow puts the
 *   smaller half first (before = floor(total/2)), so odd totals pad one more at the bottom/right.
 *   (PyTorch's padding='same' splits the same way, but only supports stride 1.)
 * VALID: no padding; out = ceil((in - effK + 1) / stride), which the conv formula gives by itself.
 */
export function tfPadding(
  mode: 'same' | 'valid',
  inSize: number,
  k: number,
  stride: number,
  dilation: number,
): [number, number] {
  if (mode === 'valid') return [0, 0];
  const out = Math.ceil(inSize / stride);
  const effK = (k - 1) * dilation + 1;
  const total = Math.max((out - 1) * stride + effK - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Conv2dOpts for a TensorFlow conv with `mode` padding on an H x W input. */
export function tfConv2dOpts(
  mode: 'same' | 'valid',
  inSize: [number, number],
  kernel: [number, number],
  stride: [number, number],
  dilation: [number, number] = [1, 1],
): Conv2dOpts {
  const [pt, pb] = tfPadding(mode, inSize[0], kernel[0], stride[0], dilation[0]);
  const [pl, pr] = tfPadding(mode, inSize[1], kernel[1], stride[1], dilation[1]);
  return { stride, padding: [pt, pb, pl, pr], dilation };
}
