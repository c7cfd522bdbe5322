/**
 * 2-D max pooling with PyTorch indices, its gradient, and max unpooling (NCHW, f32, i32 indices).
 *
 * - `maxPool2dForward`:  one invocation per output cell; scans its window in row-major order and
 *   keeps the FIRST maximum (strict `>`), as PyTorch's CPU kernel does. Cells outside the input
 *   (padding, and what a ceil-mode window sticks out past the bottom/right) never win: the scan is
 *   clipped to the input, which is the same as counting them as -Infinity. The index is `h*W + w`
 *   inside the sample's (n, c) plane.
 * - `maxPool2dBackward`: a gather, one invocation per INPUT pixel: it visits the output windows that
 *   contain it (row-major order) and adds dy where the stored index is its own position. No atomics,
 *   fixed summation order: bit-identical run after run, also for overlapping windows.
 * - `maxUnpool2dScatter`: y[plane, idx[i]] = x[i] over a zero-filled y; indices outside the output
 *   plane are skipped. Windows that do not overlap give distinct indices, so no two invocations write
 *   the same cell (see ops/pool.ts for how overlapping-window indices are refused).
 * - `maxUnpool2dBackward`: dx[i] = dy[plane, idx[i]] (a gather).
 *
 * All four work on a range of (n, c) planes: the op splits the planes so that each operand's window
 * fits one storage binding (binding.ts). Offsets are "window first element minus the range's first
 * element", passed modulo 2^32: the kernels' u32 arithmetic wraps back into the window.
 */
import { flatIndex, type KernelDef } from './kernel.ts';

export const POOL_WG = 128;

const GEOMETRY = [
  ['planes', 'u32'], ['H', 'u32'], ['W', 'u32'], ['OH', 'u32'], ['OW', 'u32'],
  ['KH', 'u32'], ['KW', 'u32'], ['SH', 'u32'], ['SW', 'u32'], ['PT', 'i32'], ['PL', 'i32'],
] as const;

export const maxPool2dForward: KernelDef = {
  name: 'maxPool2dForward',
  uniforms: [...GEOMETRY, ['xOff', 'u32'], ['yOff', 'u32'], ['iOff', 'u32']],
  storage: [
    ['x', 'read', 'array<f32>'],
    ['y', 'write', 'array<f32>'],
    ['ind', 'write', 'array<i32>'],
  ],
  body: `
@compute @workgroup_size(${POOL_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(POOL_WG)};
  let oplane = u.OH * u.OW;
  if (t >= u.planes * oplane) { return; }
  let p = t / oplane;
  let r = t % oplane;
  let y0 = i32((r / u.OW) * u.SH) - u.PT;
  let x0 = i32((r % u.OW) * u.SW) - u.PL;
  let ys = max(y0, 0);
  let ye = min(y0 + i32(u.KH), i32(u.H));
  let xs = max(x0, 0);
  let xe = min(x0 + i32(u.KW), i32(u.W));
  let base = p * u.H * u.W - u.xOff;
  // The window holds at least one input cell (the op checks the geometry); it starts the scan.
  var bestIdx = ys * i32(u.W) + xs;
  var best = x[base + u32(bestIdx)];
  for (var iy = ys; iy < ye; iy++) {
    let row = iy * i32(u.W);
    for (var ix = xs; ix < xe; ix++) {
      let v = x[base + u32(row + ix)];
      if (v > best) {
        best = v;
        bestIdx = row + ix;
      }
    }
  }
  y[t - u.yOff] = best;
  ind[t - u.iOff] = bestIdx;
}`,
};

export const maxPool2dBackward: KernelDef = {
  name: 'maxPool2dBackward',
  uniforms: [...GEOMETRY, ['dyOff', 'u32'], ['iOff', 'u32'], ['dxOff', 'u32']],
  storage: [
    ['dy', 'read', 'array<f32>'],
    ['ind', 'read', 'array<i32>'],
    ['dx', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${POOL_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(POOL_WG)};
  let plane = u.H * u.W;
  if (t >= u.planes * plane) { return; }
  let p = t / plane;
  let r = t % plane;
  let iy = r / u.W;
  let ix = r % u.W;
  let me = i32(r);
  // Output windows containing (iy, ix): oy*SH - PT <= iy <= oy*SH - PT + KH - 1.
  let ty = iy + u32(u.PT);
  let tx = ix + u32(u.PL);
  var oyLo = 0u;
  if (ty + 1u > u.KH) { oyLo = (ty + 1u - u.KH + u.SH - 1u) / u.SH; }
  var oxLo = 0u;
  if (tx + 1u > u.KW) { oxLo = (tx + 1u - u.KW + u.SW - 1u) / u.SW; }
  let oyHi = min(ty / u.SH + 1u, u.OH);
  let oxHi = min(tx / u.SW + 1u, u.OW);
  let obase = p * u.OH * u.OW;
  var acc = 0.0;
  for (var oy = oyLo; oy < oyHi; oy++) {
    for (var ox = oxLo; ox < oxHi; ox++) {
      let o = obase + oy * u.OW + ox;
      if (ind[o - u.iOff] == me) { acc += dy[o - u.dyOff]; }
    }
  }
  dx[t - u.dxOff] = acc;
}`,
};

const UNPOOL_GEOMETRY = [['planes', 'u32'], ['inPlane', 'u32'], ['outPlane', 'u32']] as const;

export const maxUnpool2dScatter: KernelDef = {
  name: 'maxUnpool2dScatter',
  uniforms: [...UNPOOL_GEOMETRY, ['xOff', 'u32'], ['iOff', 'u32'], ['yOff', 'u32']],
  storage: [
    ['x', 'read', 'array<f32>'],
    ['ind', 'read', 'array<i32>'],
    ['y', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${POOL_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(POOL_WG)};
  if (t >= u.planes * u.inPlane) { return; }
  let k = ind[t - u.iOff];
  if (k < 0 || u32(k) >= u.outPlane) { return; }
  y[(t / u.inPlane) * u.outPlane + u32(k) - u.yOff] = x[t - u.xOff];
}`,
};

export const maxUnpool2dBackward: KernelDef = {
  name: 'maxUnpool2dBackward',
  uniforms: [...UNPOOL_GEOMETRY, ['dyOff', 'u32'], ['iOff', 'u32'], ['dxOff', 'u32']],
  storage: [
    ['dy', 'read', 'array<f32>'],
    ['ind', 'read', 'array<i32>'],
    ['dx', 'write', 'array<f32>'],
  ],
  body: `
@compute @workgroup_size(${POOL_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(POOL_WG)};
  if (t >= u.planes * u.inPlane) { return; }
  let k = ind[t - u.iOff];
  var v = 0.0;
  if (k >= 0 && u32(k) < u.outPlane) { v = dy[(t / u.inPlane) * u.outPlane + u32(k) - u.dyOff]; }
  dx[t - u.dxOff] = v;
}`,
};
