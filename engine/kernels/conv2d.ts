/**
 * conv2d as tiled implicit GEMM, three kernels that also serve convTranspose2d:
 *
 * - `conv2dForward`:        y[n,o,oy,ox]  = sum_{c,ky,kx} x[n,c,iy,ix] w[o,c,ky,kx]  (GEMM M=N*OH*OW, N=O, K=C*KH*KW)
 * - `conv2dBackwardData`:   dx[n,c,iy,ix] = sum_{o,ky,kx} dy[n,o,oy,ox] w[o,c,ky,kx] (M=N*H*W, N=C, K=O*KH*KW)
 * - `conv2dBackwardWeight`: dw[o,c,ky,kx] = sum_{n,oy,ox} dy[n,o,oy,ox] x[n,c,iy,ix] (M=O, N=C*KH*KW, K=N*OH*OW, split-K)
 *
 * with iy = oy*SH - PT + ky*DH (ix likewise). Each invocation owns a 4x4 register tile (4 GEMM rows
 * by 4 columns, a vec4 of accumulators per row) and reads its operands straight from global memory
 * with no workgroup memory: on llvmpipe (invocations run as SIMD lanes) barriers are very costly and
 * register blocking is ~20x faster than shared-memory tiling (docs/software-gpu.md).
 * The layout is NCHW and PyTorch's [out, in, kh, kw] weights, unchanged.
 */
import { flatIndex, type KernelDef } from './kernel.ts';

export const CONV_WG = 64;

/** Shapes of one conv (in conv terms; a transposed conv maps onto it, see ops/conv.ts). */
export interface ConvGeometry {
  N: number; C: number; H: number; W: number;
  O: number; OH: number; OW: number;
  KH: number; KW: number;
  SH: number; SW: number;
  PT: number; PL: number;
  DH: number; DW: number;
}

const GEOMETRY_UNIFORMS = [
  ['N', 'u32'], ['C', 'u32'], ['H', 'u32'], ['W', 'u32'],
  ['O', 'u32'], ['OH', 'u32'], ['OW', 'u32'],
  ['KH', 'u32'], ['KW', 'u32'], ['SH', 'u32'], ['SW', 'u32'],
  ['PT', 'i32'], ['PL', 'i32'], ['DH', 'u32'], ['DW', 'u32'],
] as const;

/** Window offsets (see binding.ts) and the channel slice a launch covers (big weights are split). */
const WINDOW_UNIFORMS = [
  ['xOff', 'u32'], ['wOff', 'u32'], ['yOff', 'u32'], ['bOff', 'u32'],
  ['oBase', 'u32'], ['oCount', 'u32'], ['hasBias', 'u32'],
] as const;

/**
 * The forward kernel, specialised by how many output channels one invocation owns (4 x `vecs`):
 * the weights of a channel group are the same for neighbouring invocations (a broadcast load on a
 * SIMD CPU), while input values are per-invocation gathers, so owning 8 channels halves the gathers
 * per multiply-add when there are enough channels.
 */
function conv2dForwardKernel(vecs: 1 | 2): KernelDef {
  const TN = 4 * vecs;
  const V = [...Array(vecs).keys()];
  return {
    name: 'conv2dForward',
    // relu != 0: a fused ReLU after the bias (conv2d's \`relu\` option), saving its own pass.
    uniforms: [...GEOMETRY_UNIFORMS, ...WINDOW_UNIFORMS, ['relu', 'u32']],
    storage: [
      ['x', 'read', 'array<f32>'],
      ['w', 'read', 'array<f32>'],
      ['bias', 'read', 'array<f32>'],
      ['y', 'write', 'array<f32>'],
    ],
    body: `
// One invocation: 4 consecutive output pixels (GEMM rows) x ${TN} output channels of the slice.
@compute @workgroup_size(${CONV_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(CONV_WG)};
  let M = u.N * u.OH * u.OW;
  let rowTiles = (M + 3u) / 4u;
  let colTiles = (u.oCount + ${TN - 1}u) / ${TN}u;
  if (t >= rowTiles * colTiles) { return; }
  let m0 = (t % rowTiles) * 4u;
  let o0 = (t / rowTiles) * ${TN}u;
  let plane = u.OH * u.OW;
  let K = u.C * u.KH * u.KW;
  var xBase: array<i32, 4>;
  var iy0: array<i32, 4>;
  var ix0: array<i32, 4>;
  for (var p = 0u; p < 4u; p++) {
    let m = min(m0 + p, M - 1u);
    let n = m / plane;
    let r = m % plane;
    iy0[p] = i32((r / u.OW) * u.SH) - u.PT;
    ix0[p] = i32((r % u.OW) * u.SW) - u.PL;
    xBase[p] = i32(n * u.C * u.H * u.W) - i32(u.xOff);
  }
  // Rows of w for the channels (clamped: a missing channel recomputes the last, never written).
  var wRow: array<u32, ${TN}>;
  for (var q = 0u; q < ${TN}u; q++) { wRow[q] = min(o0 + q, u.oCount - 1u) * K - u.wOff; }
${V.map((v) => `  var acc${v}: array<vec4<f32>, 4>;`).join('\n')}
  for (var c = 0u; c < u.C; c++) {
    let xc = i32(c * u.H * u.W);
    for (var ky = 0u; ky < u.KH; ky++) {
      let dy = i32(ky * u.DH);
      for (var kx = 0u; kx < u.KW; kx++) {
        let k = (c * u.KH + ky) * u.KW + kx;
${V.map((v) => `        let wv${v} = vec4<f32>(w[wRow[${4 * v}] + k], w[wRow[${4 * v + 1}] + k], w[wRow[${4 * v + 2}] + k], w[wRow[${4 * v + 3}] + k]);`).join('\n')}
        let dx = i32(kx * u.DW);
        for (var p = 0u; p < 4u; p++) {
          let iy = iy0[p] + dy;
          let ix = ix0[p] + dx;
          if (iy >= 0 && iy < i32(u.H) && ix >= 0 && ix < i32(u.W)) {
            let xv = x[u32(xBase[p] + xc + iy * i32(u.W) + ix)];
${V.map((v) => `            acc${v}[p] += xv * wv${v};`).join('\n')}
          }
        }
      }
    }
  }
  for (var p = 0u; p < 4u; p++) {
    let m = m0 + p;
    if (m >= M) { break; }
    let n = m / plane;
    let r = m % plane;
    for (var q = 0u; q < ${TN}u; q++) {
      let o = o0 + q;
      if (o >= u.oCount) { break; }
      var v = 0.0;
${V.map((v) => `      ${v ? 'else ' : ''}if (q < ${4 * v + 4}u) { v = acc${v}[p][q - ${4 * v}u]; }`).join('\n')}
      if (u.hasBias != 0u) { v += bias[o - u.bOff]; }
      if (u.relu != 0u) { v = max(v, 0.0); }
      y[(n * u.O + u.oBase + o) * plane + r - u.yOff] = v;
    }
  }
}`,
  };
}

export const conv2dForward4 = conv2dForwardKernel(1);
export const conv2dForward8 = conv2dForwardKernel(2);

/** The widest variant that the channel count fills. */
export function conv2dForwardFor(oCount: number): { def: KernelDef; channels: number } {
  return oCount >= 8 ? { def: conv2dForward8, channels: 8 } : { def: conv2dForward4, channels: 4 };
}

/**
 * The input-gradient kernel (also the transposed conv's forward), specialised like the forward by
 * how many input channels one invocation owns (4 x `vecs`).
 */
function conv2dBackwardDataKernel(vecs: 1 | 2): KernelDef {
  const TN = 4 * vecs;
  const V = [...Array(vecs).keys()];
  return {
    name: 'conv2dBackwardData',
    uniforms: [...GEOMETRY_UNIFORMS, ...WINDOW_UNIFORMS],
    storage: [
      ['dy', 'read', 'array<f32>'],
      ['w', 'read', 'array<f32>'],
      ['dx', 'write', 'array<f32>'],
    ],
    body: `
// One invocation: 4 input pixels of one row that share their phase modulo the stride (columns
// ix0, ix0+SW, ix0+2SW, ix0+3SW) x ${TN} input channels. Sharing the phase means a kernel tap reaches
// all four pixels or none, and reaches consecutive output columns: tap validity is decided once per
// tile (no division in the inner loop), and a stride-2 transposed conv skips the 3/4 of taps that
// contribute nothing instead of testing them per pixel.
@compute @workgroup_size(${CONV_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(CONV_WG)};
  // Tiles are ordered by (row phase, column phase) first, so that neighbouring invocations (SIMD
  // lanes on a CPU adapter, a warp on a GPU) share their valid taps and skip the same ones.
  let colsPerPhase = (u.W + u.SW - 1u) / u.SW;
  let xTiles = (colsPerPhase + 3u) / 4u;
  let rowsPerPhase = (u.H + u.SH - 1u) / u.SH;
  let rowTiles = u.SH * u.SW * u.N * rowsPerPhase * xTiles;
  let colTiles = (u.C + ${TN - 1}u) / ${TN}u;
  if (t >= rowTiles * colTiles) { return; }
  let rt = t % rowTiles;
  let c0 = (t / rowTiles) * ${TN}u;
  let xt = rt % xTiles;
  let r1 = rt / xTiles;
  let iyq = r1 % rowsPerPhase;
  let r2 = r1 / rowsPerPhase;
  let n = r2 % u.N;
  let r3 = r2 / u.N;
  let phase = r3 % u.SW;
  let iy = r3 / u.SW + iyq * u.SH;
  if (iy >= u.H) { return; }
  let ix0 = phase + 4u * xt * u.SW;
  let oplane = u.OH * u.OW;
  let KK = u.KH * u.KW;
  let dyBase = i32((n * u.O + u.oBase) * oplane) - i32(u.yOff);
  var cCol: array<u32, ${TN}>;
  for (var q = 0u; q < ${TN}u; q++) { cCol[q] = min(c0 + q, u.C - 1u) * KK; }
${V.map((v) => `  var acc${v}: array<vec4<f32>, 4>;`).join('\n')}
  for (var ky = 0u; ky < u.KH; ky++) {
    let ny = i32(iy) + u.PT - i32(ky * u.DH);
    if (ny < 0 || ny % i32(u.SH) != 0) { continue; }
    let oy = ny / i32(u.SH);
    if (oy >= i32(u.OH)) { continue; }
    for (var kx = 0u; kx < u.KW; kx++) {
      let nx = i32(ix0) + u.PL - i32(kx * u.DW);
      if (((nx % i32(u.SW)) + i32(u.SW)) % i32(u.SW) != 0) { continue; }
      let ox0 = nx / i32(u.SW); // exact: nx is a multiple of SW
      // pixel p reads output column ox0 + p (when inside the output and the pixel inside the input)
      var ok: array<bool, 4>;
      var at: array<i32, 4>;
      for (var p = 0u; p < 4u; p++) {
        let ox = ox0 + i32(p);
        ok[p] = ox >= 0 && ox < i32(u.OW) && ix0 + p * u.SW < u.W;
        at[p] = dyBase + oy * i32(u.OW) + select(0, ox, ok[p]);
      }
      let kk = ky * u.KW + kx;
      for (var o = 0u; o < u.oCount; o++) {
        let wo = o * u.C * KK + kk - u.wOff;
${V.map((v) => `        let wv${v} = vec4<f32>(w[wo + cCol[${4 * v}]], w[wo + cCol[${4 * v + 1}]], w[wo + cCol[${4 * v + 2}]], w[wo + cCol[${4 * v + 3}]]);`).join('\n')}
        let dyo = i32(o * oplane);
        for (var p = 0u; p < 4u; p++) {
          if (ok[p]) {
            let g = dy[u32(at[p] + dyo)];
${V.map((v) => `            acc${v}[p] += g * wv${v};`).join('\n')}
          }
        }
      }
    }
  }
  for (var p = 0u; p < 4u; p++) {
    let ix = ix0 + p * u.SW;
    if (ix >= u.W) { break; }
    for (var q = 0u; q < ${TN}u; q++) {
      let c = c0 + q;
      if (c >= u.C) { break; }
      var v = 0.0;
${V.map((v) => `      ${v ? 'else ' : ''}if (q < ${4 * v + 4}u) { v = acc${v}[p][q - ${4 * v}u]; }`).join('\n')}
      dx[((n * u.C + c) * u.H + iy) * u.W + ix - u.xOff] = v;
    }
  }
}`,
  };
}

export const conv2dBackwardData4 = conv2dBackwardDataKernel(1);
export const conv2dBackwardData8 = conv2dBackwardDataKernel(2);

export function conv2dBackwardDataFor(channels: number): { def: KernelDef; channels: number } {
  return channels >= 8 ? { def: conv2dBackwardData8, channels: 8 } : { def: conv2dBackwardData4, channels: 4 };
}

export const conv2dBackwardWeight: KernelDef = {
  name: 'conv2dBackwardWeight',
  uniforms: [...GEOMETRY_UNIFORMS, ...WINDOW_UNIFORMS, ['splits', 'u32'], ['rowsPerSplit', 'u32']],
  storage: [
    ['x', 'read', 'array<f32>'],
    ['dy', 'read', 'array<f32>'],
    ['dw', 'write', 'array<f32>'],
  ],
  body: `
// One invocation: 4 output channels (of the slice) x 4 weight columns (c,ky,kx), summed over the
// output rows (n, oy) of its split; partial results land in dw[split][o][col] and are summed after.
@compute @workgroup_size(${CONV_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = ${flatIndex(CONV_WG)};
  let KK = u.KH * u.KW;
  let cols = u.C * KK;
  let colTiles = (cols + 3u) / 4u;
  let oTiles = (u.oCount + 3u) / 4u;
  if (t >= colTiles * oTiles * u.splits) { return; }
  let j0 = (t % colTiles) * 4u;
  let rest = t / colTiles;
  let o0 = (rest % oTiles) * 4u;
  let s = rest / oTiles;
  let plane = u.H * u.W;
  let oplane = u.OH * u.OW;
  var xcol: array<i32, 4>;
  var ky: array<i32, 4>;
  var kx: array<i32, 4>;
  for (var j = 0u; j < 4u; j++) {
    let col = min(j0 + j, cols - 1u);
    let c = col / KK;
    let kk = col % KK;
    ky[j] = i32((kk / u.KW) * u.DH) - u.PT;
    kx[j] = i32((kk % u.KW) * u.DW) - u.PL;
    xcol[j] = i32(c * plane);
  }
  var dyRow: array<u32, 4>;
  for (var q = 0u; q < 4u; q++) { dyRow[q] = (u.oBase + min(o0 + q, u.oCount - 1u)) * oplane; }
  var acc: array<vec4<f32>, 4>;
  let rows = u.N * u.OH;
  let r0 = s * u.rowsPerSplit;
  let r1 = min(r0 + u.rowsPerSplit, rows);
  for (var row = r0; row < r1; row++) {
    let n = row / u.OH;
    let oy = row % u.OH;
    let xn = i32(n * u.C * plane) - i32(u.xOff);
    let dyn = n * u.O * oplane + oy * u.OW - u.yOff;
    for (var ox = 0u; ox < u.OW; ox++) {
      let g = vec4<f32>(dy[dyn + dyRow[0] + ox], dy[dyn + dyRow[1] + ox], dy[dyn + dyRow[2] + ox], dy[dyn + dyRow[3] + ox]);
      var xv = vec4<f32>(0.0);
      for (var j = 0u; j < 4u; j++) {
        let iy = i32(oy * u.SH) + ky[j];
        let ix = i32(ox * u.SW) + kx[j];
        if (iy >= 0 && iy < i32(u.H) && ix >= 0 && ix < i32(u.W)) {
          xv[j] = x[u32(xn + xcol[j] + iy * i32(u.W) + ix)];
        }
      }
      acc[0] += g[0] * xv;
      acc[1] += g[1] * xv;
      acc[2] += g[2] * xv;
      acc[3] += g[3] * xv;
    }
  }
  for (var q = 0u; q < 4u; q++) {
    let o = o0 + q;
    if (o >= u.oCount) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = j0 + j;
      if (col >= cols) { break; }
      dw[(s * u.oCount + o) * cols + col - u.wOff] = acc[q][j];
    }
  }
}`,
};
