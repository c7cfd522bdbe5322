/**
 * The masked Charbonnier loss, fused: no intermediate tensor for the difference, the root or the
 * weighting.
 *
 *   loss = sum_{n,c,h,w} w[n,0,h,w] * sqrt((pred - target)^2 + eps) / (sum_{n,h,w} w[n,0,h,w] + eps)
 *
 * Forward, a deterministic two-stage reduction:
 * - `charbonnierPartial`: invocation p of a launch sums a fixed contiguous run of pred's elements
 *   (numerator; the mask is broadcast over the C channels) and a fixed contiguous run of the mask
 *   (denominator) into partial[partBase + p] and partial[totalParts + partBase + p];
 * - `charbonnierFinalize`: one invocation sums the partials in order and writes the loss and the
 *   denominator (sum w + eps, kept on the GPU for the backward).
 * Backward, element-wise: dPred = scale * w * d / sqrt(d^2 + eps) with scale = dLoss / denominator,
 * a one-element tensor computed on the GPU (no readback).
 *
 * Launches cover a flat range [g0, g0 + n) of pred (split so that every window fits one binding);
 * `xOff` uniforms are window first elements, indices are global (pred index g, mask index
 * (g / (C*HW)) * HW + g % HW).
 */
import { flatIndex, type KernelDef } from './kernel.ts';

export const CHARB_WG = 64;

export const charbonnierPartial: KernelDef = {
  name: 'charbonnierPartial',
  uniforms: [
    ['n', 'u32'], ['g0', 'u32'], ['C', 'u32'], ['HW', 'u32'],
    ['predOff', 'u32'], ['targetOff', 'u32'], ['wNumOff', 'u32'],
    ['parts', 'u32'], ['perNum', 'u32'],
    ['h0', 'u32'], ['denCount', 'u32'], ['perDen', 'u32'], ['wDenOff', 'u32'],
    ['partBase', 'u32'], ['totalParts', 'u32'], ['eps', 'f32'],
  ],
  storage: [
    ['pred', 'read', 'array<f32>'],
    ['targ', 'read', 'array<f32>'],
    ['wNum', 'read', 'array<f32>'],
    ['wDen', 'read', 'array<f32>'],
    ['partial', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${CHARB_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = ${flatIndex(CHARB_WG)};
  if (p >= u.parts) { return; }
  let s = min(p * u.perNum, u.n);
  let e = min(s + u.perNum, u.n);
  let g = u.g0 + s;
  var r = g % u.HW;
  let q = g / u.HW;
  var c = q % u.C;
  var wBase = (q / u.C) * u.HW - u.wNumOff;
  var num = 0.0;
  for (var k = g; k < u.g0 + e; k++) {
    let d = pred[k - u.predOff] - targ[k - u.targetOff];
    num += wNum[wBase + r] * sqrt(d * d + u.eps);
    r++;
    if (r == u.HW) {
      r = 0u;
      c++;
      if (c == u.C) { c = 0u; wBase += u.HW; }
    }
  }
  let ds = min(p * u.perDen, u.denCount);
  let de = min(ds + u.perDen, u.denCount);
  var den = 0.0;
  for (var k = u.h0 + ds; k < u.h0 + de; k++) { den += wDen[k - u.wDenOff]; }
  partial[u.partBase + p] = num;
  partial[u.totalParts + u.partBase + p] = den;
}`,
};

export const charbonnierFinalize: KernelDef = {
  name: 'charbonnierFinalize',
  uniforms: [['totalParts', 'u32'], ['eps', 'f32']],
  storage: [
    ['partial', 'read', 'array<f32>'],
    ['loss', 'write', 'array<f32>'],
    ['denom', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(1)
fn main() {
  var num = 0.0;
  var den = 0.0;
  for (var j = 0u; j < u.totalParts; j++) {
    num += partial[j];
    den += partial[u.totalParts + j];
  }
  let U = den + u.eps;
  loss[0] = num / U;
  denom[0] = U;
}`,
};

export const charbonnierBackward: KernelDef = {
  name: 'charbonnierBackward',
  uniforms: [
    ['n', 'u32'], ['g0', 'u32'], ['C', 'u32'], ['HW', 'u32'],
    ['predOff', 'u32'], ['targetOff', 'u32'], ['wOff', 'u32'], ['dOff', 'u32'], ['eps', 'f32'],
  ],
  storage: [
    ['pred', 'read', 'array<f32>'],
    ['targ', 'read', 'array<f32>'],
    ['w', 'read', 'array<f32>'],
    ['scale', 'read', 'array<f32>'],
    ['dPred', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${CHARB_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(CHARB_WG)};
  if (t >= u.n) { return; }
  let g = u.g0 + t;
  let q = g / u.HW;
  let wi = (q / u.C) * u.HW + g % u.HW;
  let d = pred[g - u.predOff] - targ[g - u.targetOff];
  dPred[g - u.dOff] = scale[0] * w[wi - u.wOff] * d / sqrt(d * d + u.eps);
}`,
};
