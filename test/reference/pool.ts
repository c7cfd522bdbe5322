// Reference 2-D max pooling with indices, its gradient, and max unpooling, NCHW, f64.
//
// Conventions (PyTorch's, so that indices can be compared with torch.nn.MaxPool2d(return_indices=True)):
// - Window (oh, ow) covers rows oh*sh - pt .. oh*sh - pt + kh - 1 (likewise columns). Any cell outside
//   the input (the padding, and in ceil mode whatever sticks out past the bottom/right) counts as
//   -Infinity, i.e. it never wins. TensorFlow's max pool ignores its SAME padding the same way.
// - indices[n, c, oh, ow] = h*W + w, the flat position of the winner inside its own (n, c) plane.
// - Ties go to the FIRST maximum in row-major scan order of the window (strict `>`), as PyTorch's
//   CPU kernel does. Inputs are assumed finite (no NaN handling).

import { type Arr, arr, sizeOf } from './array.ts';
import { tfPadding } from './conv2d.ts';

export interface MaxPool2dOpts {
  kernel: [number, number];
  stride: [number, number];
  /** top, left; padded cells are -Infinity */
  padding: [number, number];
  outSize: [number, number];
}

export function maxPool2d(x: Arr, o: MaxPool2dOpts): { y: Arr; indices: Int32Array } {
  if (x.shape.length !== 4) throw new Error('maxPool2d: x must be 4-D');
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [kh, kw] = o.kernel;
  const [sh, sw] = o.stride;
  const [pt, pl] = o.padding;
  const [OH, OW] = o.outSize;
  const y = arr([N, C, OH, OW]);
  const indices = new Int32Array(N * C * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const plane = (n * C + c) * H * W;
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let best = -Infinity;
          let bestIdx = -1;
          for (let ki = 0; ki < kh; ki++) {
            const h = oh * sh - pt + ki;
            if (h < 0 || h >= H) continue; // -Infinity cell
            for (let kj = 0; kj < kw; kj++) {
              const w = ow * sw - pl + kj;
              if (w < 0 || w >= W) continue;
              const v = x.data[plane + h * W + w];
              if (v > best) {
                best = v;
                bestIdx = h * W + w;
              }
            }
          }
          // A window made only of padding would have no winner; PyTorch's and TF's size rules never
          // produce one, so reaching this means the options are inconsistent.
          if (bestIdx < 0) throw new Error(`maxPool2d: window (${oh}, ${ow}) lies entirely in the padding`);
          const yi = ((n * C + c) * OH + oh) * OW + ow;
          y.data[yi] = best;
          indices[yi] = bestIdx;
        }
      }
    }
  }
  return { y, indices };
}

/** dx = scatter-add of dy at the winners; a cell that wins several (overlapping) windows sums them. */
export function maxPool2dBackward(dy: Arr, indices: Int32Array, inputShape: number[]): Arr {
  if (dy.shape.length !== 4 || inputShape.length !== 4) throw new Error('maxPool2dBackward: 4-D only');
  const [N, C, OH, OW] = dy.shape as [number, number, number, number];
  const [, , H, W] = inputShape as [number, number, number, number];
  if (inputShape[0] !== N || inputShape[1] !== C) throw new Error('maxPool2dBackward: N/C mismatch');
  if (indices.length !== dy.data.length) throw new Error('maxPool2dBackward: indices length mismatch');
  const dx = arr(inputShape);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < OH * OW; p++) {
        const yi = (n * C + c) * OH * OW + p;
        dx.data[(n * C + c) * H * W + indices[yi]] += dy.data[yi];
      }
    }
  }
  return dx;
}

/**
 * y[n, c, indices[i]] = x[i]; every other cell is zero (the paper's unpooling for its decoder).
 * Indices must be distinct within each (n, c) plane: with duplicates (possible only when pooling
 * windows overlap) the result would depend on write order and a gather would no longer be the
 * gradient, so the reference refuses rather than pick an order.
 */
export function maxUnpool2d(x: Arr, indices: Int32Array, outSize: [number, number]): Arr {
  if (x.shape.length !== 4) throw new Error('maxUnpool2d: x must be 4-D');
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [OH, OW] = outSize;
  if (indices.length !== x.data.length) throw new Error('maxUnpool2d: indices length mismatch');
  const y = arr([N, C, OH, OW]);
  const written = new Uint8Array(OH * OW);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      written.fill(0);
      for (let p = 0; p < H * W; p++) {
        const xi = (n * C + c) * H * W + p;
        const t = indices[xi];
        if (t < 0 || t >= OH * OW) throw new Error(`maxUnpool2d: index ${t} outside ${OH}x${OW}`);
        if (written[t]) throw new Error(`maxUnpool2d: duplicate index ${t} in plane (${n}, ${c})`);
        written[t] = 1;
        y.data[(n * C + c) * OH * OW + t] = x.data[xi];
      }
    }
  }
  return y;
}

/** dx[i] = dy[n, c, indices[i]] (a gather; exact because the indices are distinct per plane). */
export function maxUnpool2dBackward(dy: Arr, indices: Int32Array, xShape: number[]): Arr {
  if (dy.shape.length !== 4 || xShape.length !== 4) throw new Error('maxUnpool2dBackward: 4-D only');
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [, , OH, OW] = dy.shape as [number, number, number, number];
  if (indices.length !== sizeOf(xShape)) throw new Error('maxUnpool2dBackward: indices length mismatch');
  const dx = arr(xShape);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < H * W; p++) {
        const xi = (n * C + c) * H * W + p;
        dx.data[xi] = dy.data[(n * C + c) * OH * OW + indices[xi]];
      }
    }
  }
  return dx;
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/**
 * PyTorch nn.MaxPool2d(kernel, stride, padding, ceil_mode), dilation 1:
 *   out = floor_or_ceil((in + 2p - k) / s) + 1,
 * and in ceil mode the last window is dropped when it would start at or past in + p, i.e. when it
 * would begin in the right padding or beyond (PyTorch's "last pooling starts inside the image" rule).
 * PyTorch also requires p <= k/2.
 */
export function torchPoolOpts(
  H: number,
  W: number,
  k: number | [number, number],
  s: number | [number, number],
  p: number | [number, number] = 0,
  ceilMode = false,
): MaxPool2dOpts {
  const kernel = pair(k);
  const stride = pair(s);
  const padding = pair(p);
  const inSize = [H, W];
  const outSize: [number, number] = [0, 0];
  for (let a = 0; a < 2; a++) {
    if (padding[a] > kernel[a] / 2) throw new Error(`torchPoolOpts: padding ${padding[a]} > kernel/2`);
    const span = inSize[a] + 2 * padding[a] - kernel[a];
    if (span < 0) throw new Error('torchPoolOpts: kernel larger than padded input');
    let out = (ceilMode ? Math.ceil(span / stride[a]) : Math.floor(span / stride[a])) + 1;
    if (ceilMode && (out - 1) * stride[a] >= inSize[a] + padding[a]) out--;
    outSize[a] = out;
  }
  return { kernel, stride, padding, outSize };
}

/**
 * TensorFlow max_pool with 'SAME' or 'VALID'. SAME: out = ceil(in/s), padding split as for conv
 * (smaller half first; the after-part is implied by outSize). VALID: out = ceil((in - k + 1)/s).
 */
export function tfPoolOpts(
  H: number,
  W: number,
  k: number | [number, number],
  s: number | [number, number],
  mode: 'same' | 'valid',
): MaxPool2dOpts {
  const kernel = pair(k);
  const stride = pair(s);
  const inSize = [H, W];
  const padding: [number, number] = [0, 0];
  const outSize: [number, number] = [0, 0];
  for (let a = 0; a < 2; a++) {
    padding[a] = tfPadding(mode, inSize[a], kernel[a], stride[a], 1)[0];
    if (mode === 'same') {
      outSize[a] = Math.ceil(inSize[a] / stride[a]);
    } else {
      if (inSize[a] < kernel[a]) throw new Error('tfPoolOpts: VALID kernel larger than input');
      outSize[a] = Math.ceil((inSize[a] - kernel[a] + 1) / stride[a]);
    }
  }
  return { kernel, stride, padding, outSize };
}

