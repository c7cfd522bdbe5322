/**
 * "phase": a stride-2 conv as a stride-1 3x3 conv over the input's four phases, so that it runs on
 * the Winograd kernels. With x_ab[c][i][j] = x[c][2i + a][2j + b] (a, b in {0, 1}), a tap ky of the
 * stride-2 conv reads row 2*oy - PT + ky = 2*(oy + d) + a with a = (ky - PT) mod 2 and
 * d = floor((ky - PT) / 2): phase a, offset d. Where every kernel row's d lies in three consecutive
 * values dMin..dMin+2 (kernels up to 6 taps), the conv is
 *
 *   y = conv3x3(xp, w')   xp [N, 4C, ceil(H/2), ceil(W/2)] (channel (2a + b)*C + c), padding -dMin,
 *   w'[o][(2a + b)*C + c][ty][tx] = w[o][c][ky][kx], ky = 2*(ty + dMin) + a + PT (zero outside the kernel)
 *
 * The decoder's 5x5 stride-2 convs (and the transposed convs that are their input gradients) take
 * 4 x 9 = 36 taps per channel there instead of 25, but F(4x4,3x3) spends 2.25 multiplies per
 * output and channel pair on them: 9 per original channel instead of 25.
 */
import type { KernelDef } from '../kernel.ts';
import { flatIndex } from '../kernel.ts';
import type { ConvGeometry } from '../conv2d.ts';
import { memoized } from './direct.ts';

/** One axis of the phase form: its offsets dMin.. and the phase plane's size. */
interface PhaseAxis { dMin: number; size: number }

function phaseAxis(K: number, P: number, size: number): PhaseAxis | null {
  const dMin = Math.floor(-P / 2), dMax = Math.floor((K - 1 - P) / 2);
  return dMax - dMin + 1 <= 3 ? { dMin, size: Math.ceil(size / 2) } : null;
}

/** The stride-1 3x3 conv equivalent to a stride-2 conv (null where the form does not apply). */
export function phaseGeometryOf(g: ConvGeometry): ConvGeometry | null {
  if (g.SH !== 2 || g.SW !== 2 || g.DH !== 1 || g.DW !== 1) return null;
  const y = phaseAxis(g.KH, g.PT, g.H), x = phaseAxis(g.KW, g.PL, g.W);
  if (!y || !x) return null;
  return { N: g.N, C: 4 * g.C, H: y.size, W: x.size, O: g.O, OH: g.OH, OW: g.OW, KH: 3, KW: 3, SH: 1, SW: 1, PT: -y.dMin, PL: -x.dMin, DH: 1, DW: 1 };
}

const key = (g: ConvGeometry): string => JSON.stringify([g.C, g.H, g.W, g.O, g.KH, g.KW, g.PT, g.PL]);

/** The WGSL of the map between a phase-form channel (2a + b)*C + c, row i, column j and x's pixel. */
function phaseIndex(g: ConvGeometry, Hp: number, Wp: number): string {
  return `  let j = r % ${Wp}u;
  let i = (r / ${Wp}u) % ${Hp}u;
  let cp = (r / ${Hp * Wp}u) % ${4 * g.C}u;
  let n = r / ${4 * g.C * Hp * Wp}u;
  let ab = cp / ${g.C}u;
  let c = cp % ${g.C}u;
  let iy = 2u * i + ab / 2u;
  let ix = 2u * j + ab % 2u;
  let inside = iy < ${g.H}u && ix < ${g.W}u;
  let at = ((n * ${g.C}u + c) * ${g.H}u + min(iy, ${g.H - 1}u)) * ${g.W}u + min(ix, ${g.W - 1}u);`;
}

/**
 * The copy between x [N, C, H, W] and its phase form [N, 4C, Hp, Wp], one invocation per element of
 * the phase form: 'split' writes the phases of x (zero past an odd edge), 'merge' writes x (the
 * input gradient) from the phase form's. The launch's samples: r counts from its first; xOff and
 * pOff place the windows of x and of the phase form.
 */
export function phaseCopyKernel(g: ConvGeometry, direction: 'split' | 'merge'): KernelDef {
  return memoized(`phaseCopy:${direction}:${key(g)}`, () => {
    const Hp = Math.ceil(g.H / 2), Wp = Math.ceil(g.W / 2);
    const split = direction === 'split';
    return {
      name: split ? 'convPhaseSplit' : 'convPhaseMerge',
      uniforms: [['count', 'u32'], ['xOff', 'u32'], ['pOff', 'u32']],
      storage: split
        ? [['x', 'read', 'array<f32>'], ['xp', 'write', 'array<f32>']]
        : [['xp', 'read', 'array<f32>'], ['x', 'write', 'array<f32>']],
      body: `
// x [N,${g.C},${g.H},${g.W}] ${split ? '->' : '<-'} phases [N,${4 * g.C},${Hp},${Wp}]
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = ${flatIndex(64)};
  if (r >= u.count) { return; }
${phaseIndex(g, Hp, Wp)}
  ${split ? 'xp[r + u.pOff] = select(0.0, x[at - u.xOff], inside);' : 'if (inside) { x[at - u.xOff] = xp[r + u.pOff]; }'}
}`,
    };
  });
}

/** The tap (ky, kx) of w behind tap (ty, tx) of phase (a, b) in w', as WGSL: `k` (ky*KW + kx) and `live`. */
function phaseTap(g: ConvGeometry): string {
  const dy = Math.floor(-g.PT / 2), dx = Math.floor(-g.PL / 2);
  return `  let ky = 2 * (i32(ty) + ${dy}) + i32(ab / 2u) + ${g.PT};
  let kx = 2 * (i32(tx) + ${dx}) + i32(ab % 2u) + ${g.PL};
  let live = ky >= 0 && ky < ${g.KH} && kx >= 0 && kx < ${g.KW};
  let k = u32(clamp(ky, 0, ${g.KH - 1})) * ${g.KW}u + u32(clamp(kx, 0, ${g.KW - 1}));`;
}

/** w' [O, 4C, 3, 3] from w [O, C, KH, KW] (zero where a phase has no tap). One invocation per element of w'. */
export function phaseWeightsKernel(g: ConvGeometry): KernelDef {
  return memoized(`phaseWeights:${key(g)}`, () => ({
    name: 'convPhaseWeights',
    uniforms: [['wOff', 'u32']],
    storage: [
      ['w', 'read', 'array<f32>'],
      ['wp', 'write', 'array<f32>'],
    ],
    body: `
// w [${g.O},${g.C},${g.KH},${g.KW}] -> phase taps [${g.O},${4 * g.C},3,3]
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = ${flatIndex(64)};
  if (r >= ${g.O * 4 * g.C * 9}u) { return; }
  let tx = r % 3u;
  let ty = (r / 3u) % 3u;
  let cp = (r / 9u) % ${4 * g.C}u;
  let o = r / ${4 * g.C * 9}u;
  let ab = cp / ${g.C}u;
  let c = cp % ${g.C}u;
${phaseTap(g)}
  wp[r] = select(0.0, w[(o * ${g.C}u + c) * ${g.KH * g.KW}u + k - u.wOff], live);
}`,
  }));
}

/**
 * dw [O, C, KH, KW] from the phase form's weight gradient dwp [O, 4C, 3, 3]: every tap of w is
 * exactly one tap of w'. One invocation per element of dw.
 */
export function phaseWeightGradKernel(g: ConvGeometry): KernelDef {
  return memoized(`phaseWeightGrad:${key(g)}`, () => {
    const dy = Math.floor(-g.PT / 2), dx = Math.floor(-g.PL / 2);
    return {
      name: 'convPhaseWeightGrad',
      uniforms: [],
      storage: [
        ['dwp', 'read', 'array<f32>'],
        ['dw', 'write', 'array<f32>'],
      ],
      body: `
// phase taps [${g.O},${4 * g.C},3,3] -> dw [${g.O},${g.C},${g.KH},${g.KW}]
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = ${flatIndex(64)};
  if (r >= ${g.O * g.C * g.KH * g.KW}u) { return; }
  let kx = i32(r % ${g.KW}u);
  let ky = i32((r / ${g.KW}u) % ${g.KH}u);
  let c = (r / ${g.KH * g.KW}u) % ${g.C}u;
  let o = r / ${g.C * g.KH * g.KW}u;
  // phase a = (ky - PT) mod 2, offset d = floor((ky - PT) / 2), tap t = d - dMin
  let sy = ky - ${g.PT} + 64;
  let sx = kx - ${g.PL} + 64;
  let ab = u32(sy % 2) * 2u + u32(sx % 2);
  let ty = u32(sy / 2 - 32 - (${dy}));
  let tx = u32(sx / 2 - 32 - (${dx}));
  dw[r] = dwp[((o * ${4 * g.C}u + ab * ${g.C}u + c) * 3u + ty) * 3u + tx];
}`,
    };
  });
}
