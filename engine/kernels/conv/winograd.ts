/**
 * "winograd": 3x3 stride-1 convolutions as Winograd F(2x2, 3x3) (Lavin & Gray, 2015), in four passes:
 *
 *   U[pos][c][o] = (G g G^T)[pos]   per (output channel o, input channel c); g = w(o, c) as a 3x3
 *   V[pos][c][t] = (B^T d B)[pos]   per (input channel, tile t); d = the 4x4 input patch of tile t
 *   M[pos][o][t] = sum_c U[pos][c][o] V[pos][c][t]    16 independent GEMMs (pos = 4*row + column)
 *   y(o, tile t) = A^T M[.][o][t] A  (+ bias, ReLU)    the tile's 2x2 output pixels
 *
 * with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
 * A^T = [1 1 1 0; 0 1 -1 -1]. A tile's 2x2 outputs take 16 multiply-adds per channel pair instead
 * of 36: the GEMM does 2.25x less arithmetic than the direct kernels, and its inner loop (P tiles
 * x TN channels per invocation, V read as vec4s, U shared through the subgroup as in
 * directConvSubgroupKernel) is as load-lean as theirs. The transforms are adds only; V and M cost
 * 4x the input's and output's memory (the launcher runs ranges of tiles so each fits one binding).
 *
 * The same kernels are generated for F(4x4,3x3) (tile.m = 4: 6x6 patches, 36 GEMMs, 2.25
 * multiplies per output and channel pair; the points 0, +-1, +-2 and infinity) and for F(2x2,5x5)
 * (5x5 kernels: the same 6x6 data transform, its own G and A^T).
 *
 * The same kernels compute a stride-1 conv's input gradient (a conv of dy with the transposed,
 * flipped weights, padding mirrored: the WeightLayout of direct.ts). Sums run in a fixed order:
 * results are bit-identical run to run.
 */
import type { KernelDef } from '../kernel.ts';
import { flatIndex } from '../kernel.ts';
import { maxBindingElements } from '../binding.ts';
import type { ConvGeometry } from '../conv2d.ts';
import { memoized, type WeightLayout } from './direct.ts';

/** A 3x3 (or 5x5) stride-1 conv in the kernels' terms: x [N, C, H, W] -> y [N, O, OH, OW] (the launch's samples). */
export interface WinogradGeometry {
  C: number; H: number; W: number; O: number; OH: number; OW: number; PT: number; PL: number;
  /** Kernel side r of F(m x m, r x r): 3, or 5 (F(2x2,5x5) only). */
  K: 3 | 5;
}

/** A GEMM register tile: P tiles (a multiple of 4: vec4 loads of V) x TN output channels (a multiple of 8 with subgroups). */
export interface WinogradTile {
  P: number;
  TN: number;
  subgroup: boolean;
  /** U loaded as vec4s by the subgroup's lanes (see winogradU4); needs subgroup and TN a multiple of 32. */
  u4?: boolean;
  /** F(m x m, 3x3): output tiles of m x m pixels, 2 (the default) or 4 (forward and input gradient). */
  m?: 2 | 4;
}

/** A tile's output side m, and the (m + r - 1)^2 GEMM positions of F(m x m, r x r). */
export const outputSide = (tile: Pick<WinogradTile, 'm'>): 2 | 4 => tile.m ?? 2;
export const winogradPositions = (m: number, r = 3): number => (m + r - 1) * (m + r - 1);

/**
 * The Winograd form of a conv pass, or null where it does not apply (3x3, stride 1, dilation 1
 * only). The input gradient is a conv of dy (O channels, OH x OW) into dx (C channels, H x W)
 * with the padding mirrored; the weight gradient has the forward's geometry.
 */
export function winogradGeometryOf(pass: 'forward' | 'backward-data' | 'backward-weights', g: ConvGeometry): WinogradGeometry | null {
  if (g.KH !== g.KW || (g.KH !== 3 && g.KH !== 5) || g.SH !== 1 || g.SW !== 1 || g.DH !== 1 || g.DW !== 1) return null;
  const K = g.KH as 3 | 5;
  if (pass !== 'backward-data') return { C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, PT: g.PT, PL: g.PL, K };
  return { C: g.O, H: g.OH, W: g.OW, O: g.C, OH: g.H, OW: g.W, PT: K - 1 - g.PT, PL: K - 1 - g.PL, K };
}

/** Output channels padded to the GEMM's channel block. */
export const winogradChannels = (O: number, tile: WinogradTile): number => Math.ceil(O / tile.TN) * tile.TN;

/**
 * Tiles per launch range (a multiple of the GEMM's tile block P) such that its V and M fit one
 * binding: a large plane (64 channels at 320x320 under F(2x2,5x5): 236 MB of V) runs in ranges of
 * tiles, a small one in ranges of whole samples and more.
 */
export function winogradRangeTiles(g: WinogradGeometry, tile: WinogradTile): number {
  const perTile = winogradPositions(outputSide(tile), g.K) * Math.max(g.C, winogradChannels(g.O, tile));
  return Math.floor(maxBindingElements() / perTile / tile.P) * tile.P;
}

/**
 * Whether a tile runs a Winograd geometry: P a multiple of 4, TN of 8 with subgroups (lanes load
 * U 8 at a time) and of 4 without, at most 256 accumulators, P tiles' V and M and the weights
 * within one binding.
 */
export function winogradApplies(g: WinogradGeometry, tile: WinogradTile, subgroupsOf8: boolean): boolean {
  const { P, TN, subgroup } = tile;
  if (P < 4 || P % 4 !== 0 || TN < 4 || TN % (tile.u4 ? 32 : subgroup ? 8 : 4) !== 0 || P * TN > 256) return false;
  if (subgroup && !subgroupsOf8) return false;
  const max = maxBindingElements();
  if (g.K === 5 && outputSide(tile) !== 2) return false; // F(2x2,5x5) only
  return winogradRangeTiles(g, tile) > 0 && winogradPositions(outputSide(tile), g.K) * g.C * winogradChannels(g.O, tile) <= max && g.K * g.K * g.C * g.O <= max;
}

/** Tiles of one sample: ceil(OH/m) x ceil(OW/m). */
export function winogradTiles(g: Pick<WinogradGeometry, 'OH' | 'OW'>, m = 2): { TH: number; TW: number } {
  return { TH: Math.ceil(g.OH / m), TW: Math.ceil(g.OW / m) };
}


const range = (n: number): number[] => [...Array(n).keys()];

/** The 1-D transforms as WGSL expressions of four (or three) named values. */
const BT = (d: string[]): string[] => [`${d[0]} - ${d[2]}`, `${d[1]} + ${d[2]}`, `${d[2]} - ${d[1]}`, `${d[1]} - ${d[3]}`];
const Gt = (g: string[]): string[] => [g[0]!, `0.5 * (${g[0]} + ${g[1]} + ${g[2]})`, `0.5 * (${g[0]} - ${g[1]} + ${g[2]})`, g[2]!];
const AT = (m: string[]): string[] => [`${m[0]} + ${m[1]} + ${m[2]}`, `${m[1]} - ${m[2]} - ${m[3]}`];
// F(4,3) on the points 0, 1, -1, 2, -2 (and infinity): 6 inputs, 4 outputs (Lavin & Gray's matrices)
const BT4 = (d: string[]): string[] => [
  `4.0 * ${d[0]} - 5.0 * ${d[2]} + ${d[4]}`,
  `${d[3]} + ${d[4]} - 4.0 * (${d[1]} + ${d[2]})`,
  `4.0 * (${d[1]} - ${d[2]}) + ${d[4]} - ${d[3]}`,
  `2.0 * (${d[3]} - ${d[1]}) + ${d[4]} - ${d[2]}`,
  `2.0 * (${d[1]} - ${d[3]}) + ${d[4]} - ${d[2]}`,
  `4.0 * ${d[1]} - 5.0 * ${d[3]} + ${d[5]}`,
];
const Gt4 = (g: string[]): string[] => [
  `0.25 * ${g[0]}`,
  `(${g[0]} + ${g[1]} + ${g[2]}) * (-1.0 / 6.0)`,
  `(${g[0]} - ${g[1]} + ${g[2]}) * (-1.0 / 6.0)`,
  `${g[0]} * (1.0 / 24.0) + ${g[1]} * (1.0 / 12.0) + ${g[2]} * (1.0 / 6.0)`,
  `${g[0]} * (1.0 / 24.0) - ${g[1]} * (1.0 / 12.0) + ${g[2]} * (1.0 / 6.0)`,
  g[2]!,
];
// F(2,5) on the same points: the same 6x6 data transform (BT4), its own G and A^T
const G25 = (g: string[]): string[] => [
  `0.25 * ${g[0]}`,
  `(${g[0]} + ${g[1]} + ${g[2]} + ${g[3]} + ${g[4]}) * (-1.0 / 6.0)`,
  `(${g[0]} - ${g[1]} + ${g[2]} - ${g[3]} + ${g[4]}) * (-1.0 / 6.0)`,
  `(${g[0]} + 2.0 * ${g[1]} + 4.0 * ${g[2]} + 8.0 * ${g[3]} + 16.0 * ${g[4]}) * (1.0 / 24.0)`,
  `(${g[0]} - 2.0 * ${g[1]} + 4.0 * ${g[2]} - 8.0 * ${g[3]} + 16.0 * ${g[4]}) * (1.0 / 24.0)`,
  g[4]!,
];
const AT25 = (m: string[]): string[] => [`${m[0]} + ${m[1]} + ${m[2]} + ${m[3]} + ${m[4]}`, `${m[1]} - ${m[2]} + 2.0 * (${m[3]} - ${m[4]}) + ${m[5]}`];
const AT4 = (m: string[]): string[] => [
  `${m[0]} + ${m[1]} + ${m[2]} + ${m[3]} + ${m[4]}`,
  `${m[1]} - ${m[2]} + 2.0 * (${m[3]} - ${m[4]})`,
  `${m[1]} + ${m[2]} + 4.0 * (${m[3]} + ${m[4]})`,
  `${m[1]} - ${m[2]} + 8.0 * (${m[3]} - ${m[4]}) + ${m[5]}`,
];

/** The transforms of F(m x m, r x r): data (B^T), weights (G), output (A^T). */
function forwardTransforms(m: 2 | 4, r: 3 | 5) {
  if (r === 5) return { data: BT4, weights: G25, output: AT25 };
  return m === 4 ? { data: BT4, weights: Gt4, output: AT4 } : { data: BT, weights: Gt, output: AT };
}

/** A 2-D transform of `rows x cols` named values a{i}_{j}: the 1-D one down the columns, then along the rows. */
function transform2d(src: string, dst: string, rows: number, cols: number, f: (v: string[]) => string[]): string {
  const out: string[] = [];
  const mid = range(cols).map((j) => f(range(rows).map((i) => `${src}${i}_${j}`)));
  const R = mid[0]!.length;
  for (let r = 0; r < R; r++) for (let j = 0; j < cols; j++) out.push(`  let ${dst}t${r}_${j} = ${mid[j]![r]};`);
  for (let r = 0; r < R; r++) {
    const row = f(range(cols).map((j) => `${dst}t${r}_${j}`));
    row.forEach((e, s) => out.push(`  let ${dst}${r}_${s} = ${e};`));
  }
  return out.join('\n');
}

/**
 * U[pos][c][o] for o < Op (Op: O rounded up to the GEMM's channel block, zero past O), from weights
 * w(o, c, tap) = w[o*qStride + c*cStride + tap] (tap flipped for the input gradient). One
 * invocation per (c, o).
 */
export function winogradWeightKernel(C: number, O: number, Op: number, wl: WeightLayout, m: 2 | 4 = 2, r: 3 | 5 = 3): KernelDef {
  return memoized(`winogradWeight:${JSON.stringify([C, O, Op, wl, m, r])}`, () => {
    const tap = (k: number) => (wl.flip ? r * r - 1 - k : k);
    const A = m + r - 1;
    return {
      name: 'winogradWeights',
      uniforms: [['wOff', 'u32']],
      storage: [
        ['w', 'read', 'array<f32>'],
        ['U', 'write', 'array<f32>'],
      ],
      body: `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(64)};
  if (i >= ${C * Op}u) { return; }
  let o = i % ${Op}u;
  let c = i / ${Op}u;
  let ok = o < ${O}u;
  let base = min(o, ${O - 1}u) * ${wl.qStride}u + c * ${wl.cStride}u - u.wOff;
${range(r * r).map((k) => `  let g${Math.floor(k / r)}_${k % r} = select(0.0, w[base + ${tap(k)}u], ok);`).join('\n')}
${transform2d('g', 'u', r, r, forwardTransforms(m, r).weights)}
${range(A * A).map((p) => `  U[${p * C * Op}u + i] = u${Math.floor(p / A)}_${p % A};`).join('\n')}
}`,
    };
  });
}

/**
 * V[pos][c][t] for t < Tp (u.tp; zero for t >= u.tiles, the padding up to the GEMM's tile block):
 * the transformed 4x4 input patch of tile t = (n, ty, tx), rows 2ty - PT .., columns 2tx - PL ..,
 * zero outside the input. One invocation per (c, t). With `Cp` (the weight gradient's layout) the
 * same patches as X[pos][t][c] for c < Cp (zero for c >= C), c fastest: one invocation per (t, c).
 */
export function winogradInputKernel(g: WinogradGeometry, xStride: number, Cp?: number, m: 2 | 4 = 2): KernelDef {
  return memoized(`winogradInput:${JSON.stringify([g, xStride, Cp, m])}`, () => {
    const { C, H, W, PT, PL } = g;
    const { TH, TW } = winogradTiles(g, m);
    const A = m + g.K - 1;
    const R = range(A);
    const index =
      Cp === undefined
        ? `  if (i >= ${C}u * u.tp) { return; }
  let t = i % u.tp;
  let c = i / u.tp;
  let live = t < u.tiles;
  let tc = u.t0 + min(t, u.tiles - 1u);`
        : `  if (i >= u.tiles * ${Cp}u) { return; }
  let tc = u.t0 + i / ${Cp}u;
  let live = i % ${Cp}u < ${C}u;
  let c = min(i % ${Cp}u, ${C - 1}u);`;
    const store = Cp === undefined ? (p: number) => `V[${p * C}u * u.tp + at]` : (p: number) => `V[${p * Cp}u * u.tiles + i]`;
    return {
      name: Cp === undefined ? 'winogradInput' : 'winogradInputByTile',
      // the launch's tiles t0 .. t0 + tiles of the whole batch (n absolute: xOff is x's window start)
      uniforms: [['tiles', 'u32'], ['tp', 'u32'], ['t0', 'u32'], ['xOff', 'u32']],
      storage: [
        ['x', 'read', 'array<f32>'],
        ['V', 'write', 'array<f32>'],
      ],
      body: `
// x [N,${C},${H},${W}], tiles of ${m}x${m} outputs ${TH}x${TW} per sample, padding ${PT},${PL}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(64)};
${index}
  let tx = tc % ${TW}u;
  let r = tc / ${TW}u;
  let ty = r % ${TH}u;
  let n = r / ${TH}u;
  let plane = n * ${xStride}u + c * ${H * W}u - u.xOff;
${R.map((k) => `  let iy${k} = i32(ty * ${m}u) + (${k - PT});
  let rv${k} = live & (iy${k} >= 0) & (iy${k} < ${H});
  let row${k} = plane + u32(clamp(iy${k}, 0, ${H - 1})) * ${W}u;
  let ix${k} = i32(tx * ${m}u) + (${k - PL});
  let cv${k} = (ix${k} >= 0) & (ix${k} < ${W});
  let col${k} = u32(clamp(ix${k}, 0, ${W - 1}));`).join('\n')}
${R.flatMap((a) => R.map((b) => `  let d${a}_${b} = select(0.0, x[row${a} + col${b}], rv${a} & cv${b});`)).join('\n')}
${transform2d('d', 'v', A, A, forwardTransforms(m, g.K).data)}
${Cp === undefined ? '  let at = c * u.tp + t;\n' : ''}${range(A * A).map((p) => `  ${store(p)} = v${Math.floor(p / A)}_${p % A};`).join('\n')}
}`,
    };
  });
}

/**
 * The 16 GEMMs M[pos][o][t] = sum_c U[pos][c][o] V[pos][c][t] (pos = workgroup_id.z, channel block
 * workgroup_id.x, so that neighbouring workgroups share V's tiles). One invocation: P tiles x TN
 * channels. With subgroups lane l loads U[pos][c][o0 + l + 8j] and subgroupBroadcast hands the TN
 * values round (one load per lane per 8 channels instead of TN per-lane loads of one address).
 */
/**
 * Whether the GEMM reads U as vec4s: lane l loads U[pos][c][o0 + 4l + 32j ..+3] and the subgroup
 * broadcasts hand each lane's 4 values round. A per-lane vec4 load costs ~1.6x a scalar one on
 * llvmpipe (measured: 1.9 vs 0.74 ns per lane), so 32 channels take one load per lane, not four.
 */
export const winogradU4 = (tile: WinogradTile): boolean => tile.u4 === true;

export function winogradGemmKernel(C: number, Op: number, tile: WinogradTile, wgSize: number): KernelDef {
  return memoized(`winogradGemm:${JSON.stringify([C, Op, tile, wgSize])}`, () => {
    const { P, TN, subgroup } = tile;
    const V4 = P / 4;
    const Ps = range(P), Q = range(TN), K4 = range(V4);
    const u4 = winogradU4(tile);
    const uLoads = (c: string): string[] =>
      u4
        ? [
            ...range(TN / 32).map((j) => `ul${j} = U[ub + ${c} * ${Op / 4}u + ${8 * j}u];`),
            ...range(TN / 4).map((b) => `ub${b} = subgroupBroadcast(ul${b >> 3}, ${b & 7}u);`),
            ...Q.map((q) => `u${q} = ub${q >> 2}[${q & 3}];`),
          ]
        : subgroup
          ? [...range(TN / 8).map((j) => `ul${j} = U[ub + ${c} * ${Op}u + ${8 * j}u];`), ...Q.map((q) => `u${q} = subgroupBroadcast(ul${q >> 3}, ${q & 7}u);`)]
          : Q.map((q) => `u${q} = U[ub + ${c} * ${Op}u + ${q}u];`);
    return {
      name: `winogradGemm_${P}x${TN}${u4 ? 'v' : subgroup ? 's' : ''}`,
      ...(subgroup ? { enables: ['subgroups'] } : {}),
      // uOff, vOff: where U and V start within their bindings (U's elements, V's vec4s)
      uniforms: [['groups', 'u32'], ['tp4', 'u32'], ['uOff', 'u32'], ['vOff', 'u32']],
      storage: [
        ['U', 'read', u4 ? 'array<vec4<f32>>' : 'array<f32>'],
        ['V', 'read', 'array<vec4<f32>>'],
        ['M', 'write', 'array<vec4<f32>>'],
      ],
      body: `
// ${C} channels summed, ${Op} outputs, ${P} tiles x ${TN} channels per invocation
@compute @workgroup_size(${wgSize})
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>${subgroup ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}) {
  let gi = wg.y * ${wgSize}u + li;
  let tg = min(gi, u.groups - 1u);
  let o0 = wg.x * ${TN}u;
  let pos = wg.z;
  let vb = u.vOff + pos * ${C}u * u.tp4 + tg * ${V4}u;
  let ub = u.uOff + ${u4 ? `(pos * ${C * Op}u + o0) / 4u + min(lane, 7u)` : `pos * ${C * Op}u + o0${subgroup ? ' + min(lane, 7u)' : ''}`};
${Ps.flatMap((p) => Q.map((q) => `  var a${p}_${q} = 0.0;`)).join('\n')}
  // One summed channel per iteration: unrolling 4 of them (no per-iteration blends of the
  // accumulators) measured 1.5x slower on llvmpipe (likely its ~6500-instruction body, past the
  // 32 KB instruction cache).
  for (var c = 0u; c < ${C}u; c++) {
${K4.map((k) => `    let v${k} = V[vb + c * u.tp4 + ${k}u];`).join('\n')}
${uLoads('c').map((l) => `    let ${l}`).join('\n')}
${Q.flatMap((q) => Ps.map((p) => `    a${p}_${q} += v${p >> 2}[${p & 3}] * u${q};`)).join('\n')}
  }
  if (gi >= u.groups) { return; }
  let mb = (pos * ${Op}u + o0) * u.tp4 + tg * ${V4}u;
${Q.flatMap((q) => K4.map((k) => `  M[mb + ${q}u * u.tp4 + ${k}u] = vec4<f32>(${range(4).map((e) => `a${4 * k + e}_${q}`).join(', ')});`)).join('\n')}
}`,
    };
  });
}

/**
 * y from M: the m x m outputs of tile t for channel o, plus bias and the fused ReLU, those inside the
 * OH x OW output written. One invocation per (o, t), t fastest (neighbouring lanes read neighbouring M).
 */
export function winogradOutputKernel(g: WinogradGeometry, Op: number, m: 2 | 4 = 2): KernelDef {
  return memoized(`winogradOutput:${JSON.stringify([g, Op, m])}`, () => {
    const { O, OH, OW } = g;
    const { TH, TW } = winogradTiles(g, m);
    const A = m + g.K - 1;
    const R = range(A);
    return {
      name: 'winogradOutput',
      uniforms: [['tiles', 'u32'], ['tp', 'u32'], ['t0', 'u32'], ['yOff', 'u32'], ['bOff', 'u32'], ['hasBias', 'u32'], ['relu', 'u32']],
      storage: [
        ['M', 'read', 'array<f32>'],
        ['bias', 'read', 'array<f32>'],
        ['y', 'write', 'array<f32>'],
      ],
      body: `
fn act(v: f32) -> f32 {
  if (u.relu != 0u) { return max(v, 0.0); }
  return v;
}
// y [N,${O},${OH},${OW}] from tiles ${TH}x${TW} per sample
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(64)};
  if (i >= ${O}u * u.tiles) { return; }
  let t = i % u.tiles;
  let o = i / u.tiles;
  let tg = u.t0 + t;
  let tx = tg % ${TW}u;
  let r = tg / ${TW}u;
  let ty = r % ${TH}u;
  let n = r / ${TH}u;
  let mb = o * u.tp + t;
${R.flatMap((a) => R.map((b) => `  let m${a}_${b} = M[${(A * a + b) * Op}u * u.tp + mb];`)).join('\n')}
${transform2d('m', 'z', A, A, forwardTransforms(m, g.K).output)}
  var b = 0.0;
  if (u.hasBias != 0u) { b = bias[o - u.bOff]; }
  let oy = ty * ${m}u;
  let ox = tx * ${m}u;
  let at = (n * ${O}u + o) * ${OH * OW}u + oy * ${OW}u + ox - u.yOff;
${range(m).flatMap((r) => range(m).map((c) => `  if (${r === 0 ? 'true' : `oy + ${r}u < ${OH}u`} && ${c === 0 ? 'true' : `ox + ${c}u < ${OW}u`}) { y[at + ${r * OW + c}u] = act(z${r}_${c} + b); }`)).join('\n')}
}`,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The weight gradient, F(3x3, 2x2): the trilinear form of F(2x2,3x3) read the other way round.
// A tile t's 2x2 block of dy and its 4x4 input patch d contribute to dw(o, c) the 3x3 correlation
// G^T [(A e A^T) (.) (B^T d B)] G, e = dy's block, A = (A^T)^T (4x2); summed over tiles before the
// (linear) G^T . G, so the sum over all tiles and samples is 16 GEMMs over t:
//   X[pos][t][c] = (B^T d B)[pos]      winogradInputKernel with Cp (same patches as the forward's)
//   E[pos][t][o] = (A e A^T)[pos]      winogradOutputGradKernel
//   M[pos][o][c] = sum_t E[pos][t][o] X[pos][t][c]   winogradGemmKernel with t as its summed index
//   dw(o, c)    = G^T M[.][o][c] G      winogradWeightGradKernel
// 16 multiply-adds per tile and channel pair instead of 36, as in the forward. F(3x3,4x4) (tile.m
// = 4) reads F(4x4,3x3) the same way: 4x4 blocks of dy, 6x6 input patches, 36 GEMMs, 36
// multiply-adds per tile and channel pair instead of 144.

/** The 1-D transforms of the weight gradient: A (m -> m + 2 values) and G^T (m + 2 -> 3), m = 2 or 4. */
const A1 = (e: string[]): string[] => [e[0]!, `${e[0]} + ${e[1]}`, `${e[0]} - ${e[1]}`, `-${e[1]}`];
const GT1 = (m: string[]): string[] => [`${m[0]} + 0.5 * (${m[1]} + ${m[2]})`, `0.5 * (${m[1]} - ${m[2]})`, `0.5 * (${m[1]} + ${m[2]}) + ${m[3]}`];
const A4 = (e: string[]): string[] => [
  e[0]!,
  `${e[0]} + ${e[1]} + ${e[2]} + ${e[3]}`,
  `${e[0]} - ${e[1]} + ${e[2]} - ${e[3]}`,
  `${e[0]} + 2.0 * ${e[1]} + 4.0 * ${e[2]} + 8.0 * ${e[3]}`,
  `${e[0]} - 2.0 * ${e[1]} + 4.0 * ${e[2]} - 8.0 * ${e[3]}`,
  e[3]!,
];
// F(5x5,2x2): dy's 2x2 blocks through A of F(2,5) (6 x 2), the products through G^T of F(2,5) (5 x 6)
const A25 = (e: string[]): string[] => [e[0]!, `${e[0]} + ${e[1]}`, `${e[0]} - ${e[1]}`, `${e[0]} + 2.0 * ${e[1]}`, `${e[0]} - 2.0 * ${e[1]}`, e[1]!];
const GT25 = (m: string[]): string[] =>
  range(5).map((k) => {
    const terms = [`(${m[1]} ${k % 2 ? '-' : '+'} ${m[2]}) * (-1.0 / 6.0)`, `(${m[3]} ${k % 2 ? '-' : '+'} ${m[4]}) * (${2 ** k}.0 / 24.0)`];
    if (k === 0) terms.unshift(`0.25 * ${m[0]}`);
    if (k === 4) terms.push(m[5]!);
    return terms.join(' + ');
  });
const GT4 = (m: string[]): string[] => [
  `0.25 * ${m[0]} - (${m[1]} + ${m[2]}) * (1.0 / 6.0) + (${m[3]} + ${m[4]}) * (1.0 / 24.0)`,
  `(${m[2]} - ${m[1]}) * (1.0 / 6.0) + (${m[3]} - ${m[4]}) * (1.0 / 12.0)`,
  `(${m[3]} + ${m[4]} - ${m[1]} - ${m[2]}) * (1.0 / 6.0) + ${m[5]}`,
];

/**
 * E[pos][t][o] for o < Op (zero for o >= O): the transformed m x m block of dy at tile t = (n, ty, tx),
 * rows m*ty.., columns m*tx.. (zero past the OH x OW output). One invocation per (t, o), o fastest.
 */
export function winogradOutputGradKernel(g: WinogradGeometry, Op: number, m: 2 | 4 = 2): KernelDef {
  return memoized(`winogradOutputGrad:${JSON.stringify([g, Op, m])}`, () => {
    const { O, OH, OW } = g;
    const { TH, TW } = winogradTiles(g, m);
    const A = m + g.K - 1;
    // block element (r, s): inside the output when its row and column are (clamped addresses, no branches)
    const block = range(m).flatMap((r) =>
      range(m).map((c) => {
        const rowOk = r === 0 ? 'live' : `live & (oy + ${r}u < ${OH}u)`;
        const ok = c === 0 ? rowOk : `${rowOk} & (ox + ${c}u < ${OW}u)`;
        return `  let e${r}_${c} = select(0.0, dy[at + min(oy + ${r}u, ${OH - 1}u) * ${OW}u + min(ox + ${c}u, ${OW - 1}u)], ${ok});`;
      }),
    );
    return {
      name: 'winogradOutputGrad',
      uniforms: [['tiles', 'u32'], ['t0', 'u32'], ['yOff', 'u32']],
      storage: [
        ['dy', 'read', 'array<f32>'],
        ['E', 'write', 'array<f32>'],
      ],
      body: `
// dy [N,${O},${OH},${OW}] in ${m}x${m} blocks ${TH}x${TW} per sample
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(64)};
  if (i >= u.tiles * ${Op}u) { return; }
  let t = u.t0 + i / ${Op}u;
  let live = i % ${Op}u < ${O}u;
  let o = min(i % ${Op}u, ${O - 1}u);
  let tx = t % ${TW}u;
  let r = t / ${TW}u;
  let ty = r % ${TH}u;
  let n = r / ${TH}u;
  let oy = ty * ${m}u;
  let ox = tx * ${m}u;
  let at = (n * ${O}u + o) * ${OH * OW}u - u.yOff;
${block.join('\n')}
${transform2d('e', 'v', m, m, g.K === 5 ? A25 : m === 4 ? A4 : A1)}
${range(A * A).map((p) => `  E[${p * Op}u * u.tiles + i] = v${Math.floor(p / A)}_${p % A};`).join('\n')}
}`,
    };
  });
}

/** dw [O, C, 3, 3] (one partial slab) from M[pos][o][c] (Op x Cp per position): G^T M G. One invocation per (o, c). */
export function winogradWeightGradKernel(C: number, O: number, Op: number, Cp: number, m: 2 | 4 = 2, r: 3 | 5 = 3): KernelDef {
  return memoized(`winogradWeightGrad:${JSON.stringify([C, O, Op, Cp, m, r])}`, () => {
    const A = m + r - 1;
    const R = range(A);
    return {
      name: 'winogradWeightGrad',
      uniforms: [],
      storage: [
        ['M', 'read', 'array<f32>'],
        ['dw', 'write', 'array<f32>'],
      ],
      body: `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(64)};
  if (i >= ${O * C}u) { return; }
  let mb = (i / ${C}u) * ${Cp}u + i % ${C}u;
${R.flatMap((a) => R.map((b) => `  let m${a}_${b} = M[${(A * a + b) * Op * Cp}u + mb];`)).join('\n')}
${transform2d('m', 'z', A, A, r === 5 ? GT25 : m === 4 ? GT4 : GT1)}
${range(r * r).map((k) => `  dw[i * ${r * r}u + ${k}u] = z${Math.floor(k / r)}_${k % r};`).join('\n')}
}`,
    };
  });
}

/**
 * Whether the weight gradient runs F(3x3,2x2) with a GEMM tile: the tile rules of winogradApplies
 * (P pads the input channels, TN the output channels), one tile's X and E and the products
 * within one binding.
 */
export function winogradWeightGradApplies(g: WinogradGeometry, tile: WinogradTile, subgroupsOf8: boolean): boolean {
  const { P, TN, subgroup } = tile;
  if (P < 4 || P % 4 !== 0 || TN < 4 || TN % (tile.u4 ? 32 : subgroup ? 8 : 4) !== 0 || P * TN > 256) return false;
  if (subgroup && !subgroupsOf8) return false;
  const max = maxBindingElements();
  const m = outputSide(tile);
  if (g.K === 5 && m !== 2) return false; // F(5x5,2x2) only
  const A2 = winogradPositions(m, g.K);
  const Cp = Math.ceil(g.C / P) * P, Op = winogradChannels(g.O, tile);
  return A2 * Math.max(Cp, Op) <= max && A2 * Op * Cp <= max && g.K * g.K * g.C * g.O <= max;
}
