/**
 * Batch normalisation kernels (NCHW, per-channel statistics over the M = N*H*W values of a channel).
 *
 * Statistics are deterministic two-pass sums: `bnPartial` has one invocation per (channel, part);
 * a part is a fixed contiguous run of the channel's (n, h, w) values, summed serially, so the
 * partial sums and their order never change. `bnFinalize` then sums each channel's partials in
 * order. Pass 1 sums x (-> mean), pass 2 sums (x - mean)^2 (-> variance; no cancellation of
 * E[x^2] - E[x]^2). The backward sums dy and dy * xhat the same way. No atomics anywhere.
 *
 * A launch of `bnPartial`/`bnBackwardPartial` covers a box of samples n0..n0+nCount and channels
 * c0..c0+cCount (the op splits a tensor larger than one binding into such boxes); it writes its
 * parts into columns partBase.. of a [C, totalParts] partial buffer, and zeros for channels outside
 * its box, so that every column of every channel is written once.
 *
 * Per-channel buffers:
 *   stats [C, 2] = (mean, invStd)                       saved for the backward
 *   coef  [C, 3] = (mean, gamma * invStd, beta)         forward normalisation
 *   red   [2, C] = (sum dy, sum dy * xhat)              = (dbeta, dgamma)
 *   bcoef [C, 5] = (mean, invStd, gamma * invStd, k0, k1)  backward: dx = gamma*invStd*(dy - k0 - xhat*k1),
 *                  k0 = sum dy / M and k1 = sum dy*xhat / M in training, 0 in eval (constant statistics)
 */
import { flatIndex, type KernelDef } from './kernel.ts';

export const BN_WG = 128;

const BOX = [
  ['C', 'u32'], ['HW', 'u32'], ['c0', 'u32'], ['cCount', 'u32'], ['nCount', 'u32'],
  ['parts', 'u32'], ['perPart', 'u32'], ['partBase', 'u32'], ['totalParts', 'u32'],
] as const;

/** The serial loop over one part of channel c within the launch's box (shared by both partial kernels). */
const PART_LOOP_HEAD = `
  let t = ${flatIndex(BN_WG)};
  if (t >= u.C * u.parts) { return; }
  let c = t / u.parts;
  let p = t % u.parts;
  let col = c * u.totalParts + u.partBase + p;
  let inBox = c >= u.c0 && c < u.c0 + u.cCount;
  let count = u.nCount * u.HW;
  var start = min(p * u.perPart, count);
  let stop = min(start + u.perPart, count);
  if (!inBox) { start = stop; }
  var n = start / u.HW;
  var r = start % u.HW;
  let sampleStride = u.C * u.HW;
  // element (n, c, r) of the box, relative to the box's first element; offsets wrap (u32)
  var rowBase = n * sampleStride + (c - u.c0) * u.HW;`;

export const bnPartial: KernelDef = {
  name: 'bnPartial',
  uniforms: [...BOX, ['xOff', 'u32'], ['mode', 'u32']],
  storage: [
    ['x', 'read', 'array<f32>'],
    ['stats', 'read', 'array<f32>'],
    ['partial', 'write', 'array<f32>'],
  ],
  body: `
// mode 0: sum of x; mode 1: sum of (x - mean)^2 with mean = stats[2c]
@compute @workgroup_size(${BN_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
${PART_LOOP_HEAD}
  var mean = 0.0;
  if (u.mode == 1u && inBox) { mean = stats[2u * c]; }
  var acc = 0.0;
  for (var m = start; m < stop; m++) {
    let v = x[rowBase + r - u.xOff];
    if (u.mode == 0u) { acc += v; } else { let d = v - mean; acc += d * d; }
    r++;
    if (r == u.HW) { r = 0u; rowBase += sampleStride; }
  }
  partial[col] = acc;
}`,
};

export const bnBackwardPartial: KernelDef = {
  name: 'bnBackwardPartial',
  uniforms: [...BOX, ['xOff', 'u32'], ['dyOff', 'u32']],
  storage: [
    ['x', 'read', 'array<f32>'],
    ['dy', 'read', 'array<f32>'],
    ['stats', 'read', 'array<f32>'],
    ['partial', 'write', 'array<f32>'],
  ],
  body: `
// partial[c, j] = sum dy, partial[C + c, j] = sum dy * (x - mean) (times invStd at the finalize)
@compute @workgroup_size(${BN_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
${PART_LOOP_HEAD}
  var mean = 0.0;
  if (inBox) { mean = stats[2u * c]; }
  var sdy = 0.0;
  var sdyx = 0.0;
  for (var m = start; m < stop; m++) {
    let g = dy[rowBase + r - u.dyOff];
    sdy += g;
    sdyx += g * (x[rowBase + r - u.xOff] - mean);
    r++;
    if (r == u.HW) { r = 0u; rowBase += sampleStride; }
  }
  partial[col] = sdy;
  partial[u.C * u.totalParts + col] = sdyx;
}`,
};

export const bnFinalize: KernelDef = {
  name: 'bnFinalize',
  uniforms: [['C', 'u32'], ['totalParts', 'u32'], ['mode', 'u32'], ['invM', 'f32'], ['invM1', 'f32'], ['eps', 'f32'], ['momentum', 'f32']],
  storage: [
    ['partial', 'read', 'array<f32>'],
    ['stats', 'write', 'array<f32>'],
    ['runMean', 'write', 'array<f32>'],
    ['runVar', 'write', 'array<f32>'],
  ],
  body: `
// mode 0: stats.mean = sum / M.
// mode 1: stats.invStd = 1/sqrt(sum/M + eps) and the running statistics move towards the batch's
//         (unbiased variance sum/(M-1)), in place.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= u.C) { return; }
  var s = 0.0;
  for (var j = 0u; j < u.totalParts; j++) { s += partial[c * u.totalParts + j]; }
  if (u.mode == 0u) {
    stats[2u * c] = s * u.invM;
    return;
  }
  stats[2u * c + 1u] = 1.0 / sqrt(s * u.invM + u.eps);
  let mean = stats[2u * c];
  runMean[c] = (1.0 - u.momentum) * runMean[c] + u.momentum * mean;
  runVar[c] = (1.0 - u.momentum) * runVar[c] + u.momentum * (s * u.invM1);
}`,
};

export const bnEvalStats: KernelDef = {
  name: 'bnEvalStats',
  uniforms: [['C', 'u32'], ['eps', 'f32']],
  storage: [
    ['runMean', 'read', 'array<f32>'],
    ['runVar', 'read', 'array<f32>'],
    ['stats', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= u.C) { return; }
  stats[2u * c] = runMean[c];
  stats[2u * c + 1u] = 1.0 / sqrt(runVar[c] + u.eps);
}`,
};

export const bnForwardCoef: KernelDef = {
  name: 'bnForwardCoef',
  uniforms: [['C', 'u32']],
  storage: [
    ['stats', 'read', 'array<f32>'],
    ['gamma', 'read', 'array<f32>'],
    ['beta', 'read', 'array<f32>'],
    ['coef', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= u.C) { return; }
  coef[3u * c] = stats[2u * c];
  coef[3u * c + 1u] = gamma[c] * stats[2u * c + 1u];
  coef[3u * c + 2u] = beta[c];
}`,
};

export const bnBackwardFinalize: KernelDef = {
  name: 'bnBackwardFinalize',
  uniforms: [['C', 'u32'], ['totalParts', 'u32'], ['train', 'f32'], ['invM', 'f32']],
  storage: [
    ['partial', 'read', 'array<f32>'],
    ['stats', 'read', 'array<f32>'],
    ['gamma', 'read', 'array<f32>'],
    ['red', 'write', 'array<f32>'],
    ['bcoef', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= u.C) { return; }
  var sdy = 0.0;
  var sdyx = 0.0;
  let T = u.totalParts;
  for (var j = 0u; j < T; j++) {
    sdy += partial[c * T + j];
    sdyx += partial[u.C * T + c * T + j];
  }
  let invStd = stats[2u * c + 1u];
  let sdyXhat = sdyx * invStd;
  red[c] = sdy;
  red[u.C + c] = sdyXhat;
  // dx = gamma * invStd * (dy - k0 - xhat * k1), k0 = train * sum dy / M, k1 = train * sum dy*xhat / M
  bcoef[5u * c] = stats[2u * c];
  bcoef[5u * c + 1u] = invStd;
  bcoef[5u * c + 2u] = gamma[c] * invStd;
  bcoef[5u * c + 3u] = u.train * sdy * u.invM;
  bcoef[5u * c + 4u] = u.train * sdyXhat * u.invM;
}`,
};

const ELEMENTWISE_HEAD = `
  let t = ${flatIndex(BN_WG)};
  if (t >= u.n) { return; }
  let g = t + u.base;
  let c = (g / u.HW) % u.C;`;

export const bnNormalize: KernelDef = {
  name: 'bnNormalize',
  uniforms: [['n', 'u32'], ['base', 'u32'], ['C', 'u32'], ['HW', 'u32'], ['xOff', 'u32'], ['yOff', 'u32']],
  storage: [
    ['x', 'read', 'array<f32>'],
    ['coef', 'read', 'array<f32>'],
    ['y', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${BN_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
${ELEMENTWISE_HEAD}
  y[g - u.yOff] = (x[g - u.xOff] - coef[3u * c]) * coef[3u * c + 1u] + coef[3u * c + 2u];
}`,
};

export const bnBackwardDx: KernelDef = {
  name: 'bnBackwardDx',
  uniforms: [['n', 'u32'], ['base', 'u32'], ['C', 'u32'], ['HW', 'u32'], ['xOff', 'u32'], ['dyOff', 'u32'], ['dxOff', 'u32']],
  storage: [
    ['x', 'read', 'array<f32>'],
    ['dy', 'read', 'array<f32>'],
    ['bcoef', 'read', 'array<f32>'],
    ['dx', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${BN_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
${ELEMENTWISE_HEAD}
  let k = 5u * c;
  let xhat = (x[g - u.xOff] - bcoef[k]) * bcoef[k + 1u];
  dx[g - u.dxOff] = bcoef[k + 2u] * (dy[g - u.dyOff] - bcoef[k + 3u] - xhat * bcoef[k + 4u]);
}`,
};
