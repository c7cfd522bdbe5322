// Reference 2-D transposed convolution ("deconvolution"), NCHW, f64.
//
// Conventions:
// - x: [N, Cin, H, W]; w: [Cin, Cout, kh, kw] (PyTorch's ConvTranspose2d layout, which checkpoints
//   use; TensorFlow stores [kh, kw, Cout, Cin] and an importer permutes it); b: [Cout] or null.
// - Defined by scattering: input pixel (i, j) adds x*w[ci,co,ki,kj] to output
//   (i*sh + ki*dh - pt, j*sw + kj*dw - pl), and contributions outside [0,outH) x [0,outW) are dropped.
//   This is the adjoint (gradient) of conv2d over an outH x outW image with padding (pt, pl) at the
//   start, which is how both frameworks define it.
// - Only the start padding and the output size are given: the end "padding" is implied by outSize.
//   That one form covers PyTorch (symmetric padding + output_padding) and TensorFlow SAME
//   (asymmetric: out = in*stride), see the two helpers below.

import { type Arr, arr, assertShape } from './array.ts';

export interface ConvT2dOpts {
  stride: [number, number];
  /** cropped at the start (top, left) */
  padding: [number, number];
  outSize: [number, number];
  dilation: [number, number];
}

function checkOpts(o: ConvT2dOpts): void {
  for (const s of o.stride) if (!(Number.isInteger(s) && s >= 1)) throw new Error(`bad stride ${o.stride}`);
  for (const d of o.dilation) if (!(Number.isInteger(d) && d >= 1)) throw new Error(`bad dilation ${o.dilation}`);
  for (const p of o.padding) if (!(Number.isInteger(p) && p >= 0)) throw new Error(`bad padding ${o.padding}`);
  for (const s of o.outSize) if (!(Number.isInteger(s) && s >= 1)) throw new Error(`bad outSize ${o.outSize}`);
}

function shapes(x: Arr, w: Arr, o: ConvT2dOpts) {
  checkOpts(o);
  if (x.shape.length !== 4 || w.shape.length !== 4) throw new Error('convTranspose2d: x and w must be 4-D');
  const [N, Cin, H, W] = x.shape as [number, number, number, number];
  const [Cw, Cout, kh, kw] = w.shape as [number, number, number, number];
  if (Cin !== Cw) throw new Error(`convTranspose2d: x has ${Cin} channels, w expects ${Cw}`);
  const [OH, OW] = o.outSize;
  return { N, Cin, H, W, Cout, kh, kw, OH, OW };
}

export function convTranspose2d(x: Arr, w: Arr, b: Arr | null, o: ConvT2dOpts): Arr {
  const { N, Cin, H, W, Cout, kh, kw, OH, OW } = shapes(x, w, o);
  if (b !== null) assertShape(b, [Cout], 'convTranspose2d bias');
  const [sh, sw] = o.stride;
  const [pt, pl] = o.padding;
  const [dh, dw] = o.dilation;
  const y = arr([N, Cout, OH, OW]);
  if (b !== null) {
    for (let n = 0; n < N; n++)
      for (let co = 0; co < Cout; co++)
        for (let p = 0; p < OH * OW; p++) y.data[(n * Cout + co) * OH * OW + p] = b.data[co];
  }
  for (let n = 0; n < N; n++) {
    for (let ci = 0; ci < Cin; ci++) {
      for (let i = 0; i < H; i++) {
        for (let j = 0; j < W; j++) {
          const xv = x.data[((n * Cin + ci) * H + i) * W + j];
          for (let co = 0; co < Cout; co++) {
            for (let ki = 0; ki < kh; ki++) {
              const oh = i * sh + ki * dh - pt;
              if (oh < 0 || oh >= OH) continue; // cropped away
              for (let kj = 0; kj < kw; kj++) {
                const ow = j * sw + kj * dw - pl;
                if (ow < 0 || ow >= OW) continue;
                y.data[((n * Cout + co) * OH + oh) * OW + ow] += xv * w.data[((ci * Cout + co) * kh + ki) * kw + kj];
              }
            }
          }
        }
      }
    }
  }
  return y;
}

/** Gradients of convTranspose2d given dy = dLoss/dy; visits the same (input, tap) pairs as the forward. */
export function convTranspose2dBackward(
  x: Arr,
  w: Arr,
  dy: Arr,
  o: ConvT2dOpts,
  hasBias: boolean,
): { dx: Arr; dw: Arr; db: Arr | null } {
  const { N, Cin, H, W, Cout, kh, kw, OH, OW } = shapes(x, w, o);
  assertShape(dy, [N, Cout, OH, OW], 'convTranspose2dBackward dy');
  const [sh, sw] = o.stride;
  const [pt, pl] = o.padding;
  const [dh, dw] = o.dilation;
  const dx = arr(x.shape);
  const dW = arr(w.shape);
  let db: Arr | null = null;
  if (hasBias) {
    db = arr([Cout]);
    for (let n = 0; n < N; n++)
      for (let co = 0; co < Cout; co++)
        for (let p = 0; p < OH * OW; p++) db.data[co] += dy.data[(n * Cout + co) * OH * OW + p];
  }
  for (let n = 0; n < N; n++) {
    for (let ci = 0; ci < Cin; ci++) {
      for (let i = 0; i < H; i++) {
        for (let j = 0; j < W; j++) {
          const xi = ((n * Cin + ci) * H + i) * W + j;
          for (let co = 0; co < Cout; co++) {
            for (let ki = 0; ki < kh; ki++) {
              const oh = i * sh + ki * dh - pt;
              if (oh < 0 || oh >= OH) continue;
              for (let kj = 0; kj < kw; kj++) {
                const ow = j * sw + kj * dw - pl;
                if (ow < 0 || ow >= OW) continue;
                const g = dy.data[((n * Cout + co) * OH + oh) * OW + ow];
                const wi = ((ci * Cout + co) * kh + ki) * kw + kj;
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
 * PyTorch nn.ConvTranspose2d: out = (in-1)*stride - 2*padding + dilation*(k-1) + 1 + output_padding,
 * cropping `padding` at the start (and padding - output_padding at the end).
 * PyTorch requires output_padding < stride or output_padding < dilation (per axis).
 */
export function torchConvTransposeOpts(
  inSize: [number, number],
  kernel: [number, number],
  stride: [number, number],
  padding: [number, number] = [0, 0],
  outputPadding: [number, number] = [0, 0],
  dilation: [number, number] = [1, 1],
): ConvT2dOpts {
  const outSize: [number, number] = [0, 0];
  for (let a = 0; a < 2; a++) {
    if (!(outputPadding[a] < stride[a] || outputPadding[a] < dilation[a])) {
      throw new Error(`torchConvTransposeOpts: output_padding ${outputPadding[a]} must be < stride or < dilation`);
    }
    outSize[a] = (inSize[a] - 1) * stride[a] - 2 * padding[a] + dilation[a] * (kernel[a] - 1) + 1 + outputPadding[a];
    if (outSize[a] < 1) throw new Error(`torchConvTransposeOpts: non-positive output size ${outSize[a]}`);
  }
  return { stride, padding, outSize, dilation };
}

/**
 * TensorFlow conv2d_transpose / Keras Conv2DTranspose with padding SAME (dilation 1).
 * The output size defaults to in*stride (what Keras and the seed's slim layers produce); an explicit
 * output size must satisfy ceil(out/stride) = in, as TF requires. The start crop is the `before`
 * padding of the forward SAME conv from `out` down to `in`: floor(max((in-1)*s + k - out, 0) / 2).
 */
export function tfSameConvTransposeOpts(
  inSize: [number, number],
  kernel: [number, number],
  stride: [number, number],
  outSize?: [number, number],
): ConvT2dOpts {
  const out: [number, number] = outSize ?? [inSize[0] * stride[0], inSize[1] * stride[1]];
  const padding: [number, number] = [0, 0];
  for (let a = 0; a < 2; a++) {
    if (Math.ceil(out[a] / stride[a]) !== inSize[a]) {
      throw new Error(`tfSameConvTransposeOpts: output ${out[a]} is not a SAME pre-image of input ${inSize[a]}`);
    }
    const total = Math.max((inSize[a] - 1) * stride[a] + kernel[a] - out[a], 0);
    padding[a] = Math.floor(total / 2);
  }
  return { stride, padding, outSize: out, dilation: [1, 1] };
}
