/**
 * "cols": a conv's input and weight gradients as one GEMM over the conv's column matrix, for convs
 * whose output plane is small and whose kernel is large (fc6: 7x7 over 512 channels on a 10x10
 * plane, 25,088 taps a pixel). With k = c*KH*KW + ky*KW + kx and p = oy*OW + ox:
 *
 *   input gradient   D[k][p]  = sum_o w[o][k] dy[o][p]        then dx = col2im(D)  (colsToImageKernel)
 *   weight gradient  dw[o][k] = sum_p dyT[p][o] XT[p][k]       XT = the input's rows (imageToRowsKernel)
 *
 * Both run on the Winograd GEMM kernel (winogradGemmKernel: M[a][b] = sum_c U[c][a] V[c][b], one
 * position) with its vec4-loading tiles: the direct kernels' loads per multiply-add are bound by the
 * plane (a 10-pixel row feeds each weight 10 times), the GEMM's by its register tile. Where the
 * kernel overhangs the plane (7x7 on 10x10: 31% of the taps), the column matrix holds zeros, as the
 * direct kernels multiply by their padding.
 */
import type { KernelDef } from '../kernel.ts';
import { flatIndex } from '../kernel.ts';
import type { ConvGeometry } from '../conv2d.ts';
import { maxBindingElements } from '../binding.ts';
import { memoized } from './direct.ts';
import type { WinogradTile } from './winograd.ts';

/**
 * Whether a column-matrix tile runs a pass of a conv: the GEMM's vec4 loads of U (TN a multiple of
 * 32, subgroups), for the input gradient the taps K = C*KH*KW a multiple of TN and the plane of P,
 * for the weight gradient O a multiple of TN and K of P; one sample's column matrix within a binding.
 */
export function colsApplies(pass: 'forward' | 'backward-data' | 'backward-weights', g: ConvGeometry, tile: WinogradTile, subgroupsOf8: boolean): boolean {
  const { P, TN } = tile;
  if (pass === 'forward' || !tile.u4 || !subgroupsOf8 || TN % 32 !== 0 || P % 4 !== 0 || P * TN > 256) return false;
  const K = g.C * g.KH * g.KW, plane = g.OH * g.OW;
  if (K * plane > maxBindingElements()) return false;
  if (pass === 'backward-data') return K % TN === 0 && plane % P === 0;
  return g.O % TN === 0 && K % P === 0;
}

/** The geometry fields the column kernels bake in (one pipeline per conv shape). */
const key = (g: ConvGeometry): string => JSON.stringify([g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.DH, g.DW]);

/**
 * XT[n*OH*OW + p][k] = x[n, c, iy, ix] with iy = oy*SH - PT + ky*DH, ix = ox*SW - PL + kx*DW (zero in
 * the padding), for the launch's samples. One invocation per element, k fastest.
 */
export function imageToRowsKernel(g: ConvGeometry): KernelDef {
  return memoized(`imageToRows:${key(g)}`, () => {
    const { C, H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW } = g;
    const K = C * KH * KW;
    return {
      name: 'convImageToRows',
      uniforms: [['count', 'u32'], ['xOff', 'u32']],
      storage: [
        ['x', 'read', 'array<f32>'],
        ['xt', 'write', 'array<f32>'],
      ],
      body: `
// x [N,${C},${H},${W}] -> rows [N*${OH * OW}][${K}], ${KH}x${KW} stride ${SH},${SW} pad ${PT},${PL} dilation ${DH},${DW}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(64)};
  if (i >= u.count) { return; }
  let k = i % ${K}u;
  let r = i / ${K}u;
  let p = r % ${OH * OW}u;
  let n = r / ${OH * OW}u;
  let c = k / ${KH * KW}u;
  let tap = k % ${KH * KW}u;
  let iy = i32((p / ${OW}u) * ${SH}u + (tap / ${KW}u) * ${DH}u) - ${PT};
  let ix = i32((p % ${OW}u) * ${SW}u + (tap % ${KW}u) * ${DW}u) - ${PL};
  let inside = iy >= 0 && iy < ${H} && ix >= 0 && ix < ${W};
  let at = n * ${C * H * W}u + c * ${H * W}u + u32(clamp(iy, 0, ${H - 1})) * ${W}u + u32(clamp(ix, 0, ${W - 1})) - u.xOff;
  xt[i] = select(0.0, x[at], inside);
}`,
    };
  });
}

/**
 * dyT[n*OH*OW + p][o - oBase] = dy[n, o, p] for the Op channels oBase.. (zero past O), for the launch's
 * samples: the weight gradient's U, output channels contiguous. One invocation per element.
 */
export function outputGradRowsKernel(g: ConvGeometry, O: number, Op: number): KernelDef {
  return memoized(`outputGradRows:${JSON.stringify([g.OH, g.OW, O, Op])}`, () => {
    const plane = g.OH * g.OW;
    return {
      name: 'convOutputGradRows',
      uniforms: [['count', 'u32'], ['oBase', 'u32'], ['yOff', 'u32']],
      storage: [
        ['dy', 'read', 'array<f32>'],
        ['dyt', 'write', 'array<f32>'],
      ],
      body: `
// dy [N,${O},${g.OH},${g.OW}] -> rows [N*${plane}][${Op}]
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(64)};
  if (i >= u.count) { return; }
  let o = u.oBase + i % ${Op}u;
  let r = i / ${Op}u;
  let p = r % ${plane}u;
  let n = r / ${plane}u;
  let live = o < ${O}u;
  dyt[i] = select(0.0, dy[(n * ${O}u + min(o, ${O - 1}u)) * ${plane}u + p - u.yOff], live);
}`,
    };
  });
}

/**
 * One sample's dx[c, iy, ix] = sum over the taps (ky, kx) that reach it of D[c*KH*KW + ky*KW + kx][p],
 * p the output pixel (oy, ox) with oy*SH = iy + PT - ky*DH (likewise x). One invocation per element
 * of dx's sample; the taps in a fixed order (bit-identical run to run).
 */
export function colsToImageKernel(g: ConvGeometry): KernelDef {
  return memoized(`colsToImage:${key(g)}`, () => {
    const { C, H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW } = g;
    const plane = OH * OW;
    const taps: string[] = [];
    for (let ky = 0; ky < KH; ky++) {
      for (let kx = 0; kx < KW; kx++) {
        // the tap's output pixel, when it lies on the stride grid and inside the output
        taps.push(`  {
    let ty = i32(iy) + ${PT - ky * DH};
    let tx = i32(ix) + ${PL - kx * DW};
    let oy = ty / ${SH};
    let ox = tx / ${SW};
    let hit = ty >= 0 && tx >= 0 && ty % ${SH} == 0 && tx % ${SW} == 0 && oy < ${OH} && ox < ${OW};
    let at = (c * ${KH * KW}u + ${ky * KW + kx}u) * ${plane}u + u32(clamp(oy, 0, ${OH - 1})) * ${OW}u + u32(clamp(ox, 0, ${OW - 1}));
    acc += select(0.0, d[at], hit);
  }`);
      }
    }
    return {
      name: 'convColsToImage',
      uniforms: [['xOff', 'u32']],
      storage: [
        ['d', 'read', 'array<f32>'],
        ['dx', 'write', 'array<f32>'],
      ],
      body: `
// cols [${C * KH * KW}][${plane}] -> dx [${C},${H},${W}], ${KH}x${KW} stride ${SH},${SW} pad ${PT},${PL} dilation ${DH},${DW}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(64)};
  if (i >= ${C * H * W}u) { return; }
  let ix = i % ${W}u;
  let iy = (i / ${W}u) % ${H}u;
  let c = i / ${H * W}u;
  var acc = 0.0;
${taps.join('\n')}
  dx[i - u.xOff] = acc;
}`,
    };
  });
}
