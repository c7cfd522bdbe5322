// Reference 2-D batch normalisation (PyTorch nn.BatchNorm2d semantics), NCHW, f64.
//
// Per channel c, over the M = N*H*W values of that channel:
// - training: mean and BIASED variance (divide by M) of the batch normalise x:
//     y = (x - mean) / sqrt(var + eps) * gamma + beta
//   and the running statistics move towards the batch ones using the UNBIASED variance (M - 1):
//     running = (1 - momentum) * running + momentum * batch
//   (PyTorch's `momentum` is the weight of the NEW value; TF/Keras's momentum is the weight of the old.)
// - eval: the running statistics are used as constants and are not updated.

import { type Arr, arr, assertShape } from './array.ts';

export interface BatchNorm2dOpts {
  training: boolean;
  eps: number;
  momentum: number;
  runningMean: Arr;
  runningVar: Arr;
}

interface ChannelStats {
  mean: Float64Array;
  /** the variance used to normalise: biased batch variance (training) or the running variance (eval) */
  variance: Float64Array;
  /** unbiased batch variance, only meaningful in training */
  unbiased: Float64Array;
  M: number;
}

function stats(x: Arr, o: BatchNorm2dOpts): ChannelStats {
  if (x.shape.length !== 4) throw new Error('batchNorm2d: x must be 4-D');
  const [N, C, H, W] = x.shape as [number, number, number, number];
  assertShape(o.runningMean, [C], 'batchNorm2d runningMean');
  assertShape(o.runningVar, [C], 'batchNorm2d runningVar');
  const M = N * H * W;
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  const unbiased = new Float64Array(C);
  if (!o.training) {
    mean.set(o.runningMean.data);
    variance.set(o.runningVar.data);
    return { mean, variance, unbiased, M };
  }
  // PyTorch refuses this too: the unbiased variance of one value is 0/0.
  if (M < 2) throw new Error('batchNorm2d: training needs more than 1 value per channel');
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let p = 0; p < H * W; p++) s += x.data[(n * C + c) * H * W + p];
    const m = s / M;
    let sq = 0;
    for (let n = 0; n < N; n++)
      for (let p = 0; p < H * W; p++) {
        const d = x.data[(n * C + c) * H * W + p] - m;
        sq += d * d;
      }
    mean[c] = m;
    variance[c] = sq / M;
    unbiased[c] = sq / (M - 1);
  }
  return { mean, variance, unbiased, M };
}

export function batchNorm2d(
  x: Arr,
  gamma: Arr,
  beta: Arr,
  o: BatchNorm2dOpts,
): { y: Arr; newRunningMean: Arr; newRunningVar: Arr } {
  const st = stats(x, o);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  assertShape(gamma, [C], 'batchNorm2d gamma');
  assertShape(beta, [C], 'batchNorm2d beta');
  const y = arr(x.shape);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const invStd = 1 / Math.sqrt(st.variance[c] + o.eps);
      for (let p = 0; p < H * W; p++) {
        const i = (n * C + c) * H * W + p;
        y.data[i] = (x.data[i] - st.mean[c]) * invStd * gamma.data[c] + beta.data[c];
      }
    }
  const newRunningMean = arr([C], o.runningMean.data);
  const newRunningVar = arr([C], o.runningVar.data);
  if (o.training) {
    for (let c = 0; c < C; c++) {
      newRunningMean.data[c] = (1 - o.momentum) * o.runningMean.data[c] + o.momentum * st.mean[c];
      newRunningVar.data[c] = (1 - o.momentum) * o.runningVar.data[c] + o.momentum * st.unbiased[c];
    }
  }
  return { y, newRunningMean, newRunningVar };
}

/**
 * Gradients given dy. With xhat = (x - mean) * invStd and per-channel sums over the M values:
 *   dbeta = sum(dy), dgamma = sum(dy * xhat)
 *   training (mean and var depend on x):
 *     dx = gamma * invStd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))
 *   eval (running statistics are constants):
 *     dx = gamma * invStd * dy
 * (The running-statistic update has no gradient: PyTorch treats it as a side effect.)
 */
export function batchNorm2dBackward(
  x: Arr,
  gamma: Arr,
  dy: Arr,
  o: BatchNorm2dOpts,
): { dx: Arr; dgamma: Arr; dbeta: Arr } {
  const st = stats(x, o);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  assertShape(gamma, [C], 'batchNorm2dBackward gamma');
  assertShape(dy, x.shape, 'batchNorm2dBackward dy');
  const M = st.M;
  const dx = arr(x.shape);
  const dgamma = arr([C]);
  const dbeta = arr([C]);
  for (let c = 0; c < C; c++) {
    const invStd = 1 / Math.sqrt(st.variance[c] + o.eps);
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let n = 0; n < N; n++)
      for (let p = 0; p < H * W; p++) {
        const i = (n * C + c) * H * W + p;
        sumDy += dy.data[i];
        sumDyXhat += dy.data[i] * (x.data[i] - st.mean[c]) * invStd;
      }
    dbeta.data[c] = sumDy;
    dgamma.data[c] = sumDyXhat;
    for (let n = 0; n < N; n++)
      for (let p = 0; p < H * W; p++) {
        const i = (n * C + c) * H * W + p;
        if (o.training) {
          const xhat = (x.data[i] - st.mean[c]) * invStd;
          dx.data[i] = ((gamma.data[c] * invStd) / M) * (M * dy.data[i] - sumDy - xhat * sumDyXhat);
        } else {
          dx.data[i] = gamma.data[c] * invStd * dy.data[i];
        }
      }
  }
  return { dx, dgamma, dbeta };
}
