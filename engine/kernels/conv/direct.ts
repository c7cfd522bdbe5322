/**
 * "direct": conv kernels generated per shape, for SIMD CPU adapters (llvmpipe) first.
 *
 * The geometry (channels, sizes, kernel, stride, padding, dilation) and the register tile are baked
 * into the WGSL text, so every loop over kernel columns and tile pixels is straight-line code with
 * folded index arithmetic (one cached pipeline per shape and tile). On llvmpipe an invocation is a
 * SIMD lane and every storage load whose address is not a compile-time constant is a per-lane loop
 * of bounds-checked scalar loads (~0.6 ns each, ~35 multiply-adds), even where all lanes read one
 * address (the channel block of the weights comes from `workgroup_id`, the same for all lanes, yet
 * gallivm does not treat it as uniform). So loads are what the kernels save:
 * - the per-lane loads are shared: P neighbouring output pixels of one row need (P-1)*SW+(KW-1)*DW+1
 *   input values per kernel row, loaded once (6 instead of 12 for P=4 with a 3x3 stride-1 kernel);
 * - a register tile of TN channels reuses each input value TN times;
 * - directConvSubgroupKernel loads each weight once per subgroup instead of once per lane (and the
 *   weight gradient's subgroup tiles each output-gradient value).
 * Padding is a select on clamped (always in-bounds) addresses: no branches in the inner loop.
 *
 * `directConvKernel` computes y[n, q, oy, ox] = sum_{c, ky, kx} x[n, c, iy, ix] * w(q, c, ky, kx)
 * with iy = oy*SH - PT + ky*DH, ix = ox*SW - PL + kx*DW. It is a conv's forward, and (with the
 * weight read transposed and flipped, and the padding mirrored) a stride-1 conv's input gradient.
 * `directWeightKernel` computes a conv's weight gradient.
 */
import type { KernelDef } from '../kernel.ts';
import { flatIndex } from '../kernel.ts';

/** Invocations per workgroup: up to 64, fewer when a launch has few pixel tiles (idle lanes still cost). */
export function directWorkgroupSize(g: DirectGeometry, tile: DirectTile, N: number): number {
  const tiles = N * g.OH * Math.ceil(g.OW / tile.P);
  return Math.min(64, Math.ceil(tiles / 8) * 8);
}

/** A conv in the kernel's own terms: x [N, C, H, W] -> y [N, O, OH, OW] (only the launch's slice). */
export interface DirectGeometry {
  C: number; H: number; W: number; OH: number; OW: number;
  KH: number; KW: number; SH: number; SW: number; PT: number; PL: number; DH: number; DW: number;
  /** Elements between samples of x when the launch reads a channel range of a larger tensor (default C*H*W). */
  xStride?: number;
  /**
   * One phase of a strided conv's input gradient: this launch's output pixel (oy, ox) is pixel
   * (oy*SY + RY, ox*SX + RX) of an H x W output (default: the launch's own OH x OW, dense).
   */
  out?: OutputPhase;
}

export interface OutputPhase {
  H: number; W: number; SY: number; SX: number; RY: number; RX: number;
}

/** How w(q, c, ky, kx) is addressed: q*qStride + c*cStride + tap, tap flipped (the input gradient). */
export interface WeightLayout {
  qStride: number;
  cStride: number;
  flip: boolean;
  /**
   * A phase of a strided conv's input gradient (instead of flip): tap (ky, kx) of the launch's
   * sub-kernel is tap (rowBase - SH*ky, colBase - SW*kx) of the full kernel, whose rows are KW long.
   */
  sub?: { rowBase: number; colBase: number; SH: number; SW: number; KW: number };
}

/** The tap offset of (kyExpr, kx) in a weight layout: kyExpr a WGSL u32 expression, kx a constant or expression. */
function tapOffset(wl: WeightLayout, KH: number, KW: number, kyExpr: string, kx: number | string): string {
  const kxTerm = (base: number, step: number): string => (typeof kx === 'number' ? `${base + step * kx}u` : `(${base}u ${step < 0 ? '-' : '+'} ${Math.abs(step)}u * ${kx})`);
  if (wl.sub) return `(${wl.sub.rowBase}u - ${wl.sub.SH}u * ${kyExpr}) * ${wl.sub.KW}u + ${kxTerm(wl.sub.colBase, -wl.sub.SW)}`;
  if (wl.flip) return `(${KH - 1}u - ${kyExpr}) * ${KW}u + ${kxTerm(KW - 1, -1)}`;
  return `${kyExpr} * ${KW}u + ${kxTerm(0, 1)}`;
}

/** A register tile: P output pixels of one row x TN output channels per invocation. */
export interface DirectTile {
  P: number;
  TN: number;
  /** Weights repacked first for vec4 loads (directConvPackedKernel); forward kernels only. */
  packed?: boolean;
  /** Input rows read as vec4s (see rows4Apply); forward kernels only. */
  rows4?: boolean;
  /** Weights (forward kernels) or output gradients (weight gradient) shared through the subgroup. */
  subgroup?: boolean;
  /**
   * Weight gradient only: kernel rows per workgroup (a divisor of KH; all of them when absent). Fewer
   * rows leave registers for more channels: a 7x7 kernel's 49 taps x TN accumulators allowed TN = 2,
   * one row of 7 taps allows TN = 16, and each x value loaded then feeds 8x the multiply-adds.
   */
  kRows?: number;
}

/**
 * The generated kernels, one per distinct argument list: a launch asks for its kernel on every
 * dispatch, and generating (and then hashing) several KB of WGSL each time was a large share of a
 * training step's recording time on the CPU.
 */
const generated = new Map<string, KernelDef>();
export function memoized(key: string, make: () => KernelDef): KernelDef {
  let def = generated.get(key);
  if (!def) generated.set(key, (def = make()));
  return def;
}

const DIRECT_UNIFORMS = [
  ['N', 'u32'], ['O', 'u32'], ['oBase', 'u32'], ['oCount', 'u32'],
  ['xOff', 'u32'], ['wOff', 'u32'], ['yOff', 'u32'], ['bOff', 'u32'], ['hasBias', 'u32'],
] as const;

/** The forward kernels' extra uniform: relu != 0 applies a fused ReLU after the bias. */
const FORWARD_UNIFORMS = [...DIRECT_UNIFORMS, ['relu', 'u32']] as const;

/** Distinct column offsets p*SW + kx*DW of a tile, in increasing order. */
function columnOffsets(P: number, KW: number, SW: number, DW: number): number[] {
  const set = new Set<number>();
  for (let p = 0; p < P; p++) for (let kx = 0; kx < KW; kx++) set.add(p * SW + kx * DW);
  return [...set].sort((a, b) => a - b);
}

/** `- v` for a constant v of either sign (WGSL has no `- -3`). */
const minus = (v: number): string => (v >= 0 ? `- ${v}` : `+ ${-v}`);

const range = (n: number): number[] => [...Array(n).keys()];

/**
 * Whether a tile reads its input rows as vec4s (tile.rows4): one per-lane load per 4 columns instead
 * of one per column. Needs stride and dilation 1 along the row, rows and tile starts on multiples of
 * 4 (W and P multiples of 4), so that every vec4 is wholly inside or wholly outside a row.
 */
export function rows4Apply(g: Pick<DirectGeometry, 'SW' | 'DW' | 'W'>, tile: DirectTile): boolean {
  return g.SW === 1 && g.DW === 1 && g.W % 4 === 0 && tile.P % 4 === 0;
}

/** The vec4 blocks (relative to ox0 / 4) that the tile's input columns fall in. */
function columnBlocks(cols: number[], PL: number): number[] {
  return [...new Set(cols.map((j) => Math.floor((j - PL) / 4)))].sort((a, b) => a - b);
}
const blockName = (b: number): string => (b < 0 ? `m${-b}` : `p${b}`);

/** Shared by both forward kernels: the invocation's tile (pixels ox0.. of row oy of sample n) and its input columns. */
function tilePrologue(g: DirectGeometry, P: number, TN: number, cols: number[], rows4: boolean): string {
  const { C, H, W, OH, OW, SW, PL } = g;
  const OWT = Math.ceil(OW / P);
  const columns = rows4
    ? columnBlocks(cols, PL)
        .map((b) => `  let bc${blockName(b)} = i32(ox0) + (${4 * b});\n  let bv${blockName(b)} = bc${blockName(b)} >= 0 && bc${blockName(b)} < ${W};\n  let bx${blockName(b)} = u32(clamp(bc${blockName(b)}, 0, ${W - 4})) / 4u;`)
        .join('\n')
    : cols.map((j) => `  let ix${j} = i32(ox0 * ${SW}u) + (${j - PL});\n  let cv${j} = ix${j} >= 0 && ix${j} < ${W};\n  let xc${j} = u32(clamp(ix${j}, 0, ${W - 1}));`).join('\n');
  return `  let tiles = u.N * ${OH * OWT}u;
  let t = min(gid.x, tiles - 1u);
  let xt = t % ${OWT}u;
  let r = t / ${OWT}u;
  let oy = r % ${OH}u;
  let n = r / ${OH}u;
  let ox0 = xt * ${P}u;
  let o0 = wg.y * ${TN}u;
  let xn = n * ${g.xStride ?? C * H * W}u - u.xOff;
${columns}`;
}

/**
 * The row loads of one (c, ky): the distinct input columns of the tile, zero in the padding. With
 * rows4 the row is read as whole vec4s (exact: every term of the element index is a multiple of 4)
 * and each column is a component of one.
 */
function rowLoads(g: DirectGeometry, cols: number[], rows4: boolean): string {
  const { H, W, SH, DH, PT, PL } = g;
  const head = `      let iy = i32(oy * ${SH}u) + i32(ky * ${DH}u) ${minus(PT)};
      let rv = iy >= 0 && iy < ${H};
      let row = xn + c * ${H * W}u + u32(clamp(iy, 0, ${H - 1})) * ${W}u;
`;
  if (!rows4) return head + cols.map((j) => `      let x${j} = select(0.0, x[row + xc${j}], rv && cv${j});`).join('\n');
  const blocks = columnBlocks(cols, PL);
  return (
    head +
    `      let row4 = row / 4u;\n` +
    blocks.map((b) => `      let v${blockName(b)} = select(vec4<f32>(0.0), x[row4 + bx${blockName(b)}], rv && bv${blockName(b)});`).join('\n') +
    '\n' +
    cols.map((j) => `      let x${j} = v${blockName(Math.floor((j - PL) / 4))}[${(((j - PL) % 4) + 4) % 4}];`).join('\n')
  );
}

/**
 * Whether the forward kernels write y as vec4s: a per-lane store is a loop of bounds-checked scalar
 * stores on llvmpipe, so a vec4 store writes 4 values for the price of one. Measured gain is small
 * (64x64x64 outputs from 1 channel: 1.51 -> 1.16 ms; from 4: 2.8 -> 2.2 ms, within the noise; the
 * tiny step unchanged): the fixed cost of small convs lies elsewhere (per workgroup, not the writes).
 * Needs dense output rows (no output phase) of a multiple of 4 columns and tiles on multiples of 4,
 * so that every vec4 is wholly inside or outside a row; the launchers' y windows start on whole
 * samples, so u.yOff is a multiple of 4 too.
 */
export function vec4Out(g: DirectGeometry, P: number): boolean {
  return !g.out && g.OW % 4 === 0 && P % 4 === 0;
}

/** The bindings of the forward kernels: x (vec4 rows with rows4), the weights as `wType`, bias, y (vec4 with vec4Out). */
function forwardStorage(g: DirectGeometry, P: number, rows4: boolean, wType: string): KernelDef['storage'] {
  return [
    ['x', 'read', rows4 ? 'array<vec4<f32>>' : 'array<f32>'],
    ['w', 'read', wType],
    ['bias', 'read', 'array<f32>'],
    ['y', 'write', vec4Out(g, P) ? 'array<vec4<f32>>' : 'array<f32>'],
  ];
}

/** The fused activation of the forward kernels (uniform branch: one pipeline with and without). */
const ACT = `
fn act(v: f32) -> f32 {
  if (u.relu != 0u) { return max(v, 0.0); }
  return v;
}`;

/** Shared epilogue: bias, fused ReLU and the guarded writes; acc(p, q) names the accumulator of pixel p, channel q. */
function tileEpilogue(g: DirectGeometry, P: number, TN: number, acc: (p: number, q: number) => string): string {
  const { OH, OW } = g;
  const o = g.out ?? { H: OH, W: OW, SY: 1, SX: 1, RY: 0, RX: 0 };
  const plane = o.H * o.W;
  const bias = (q: number) => `    var b${q} = 0.0;
    if (u.hasBias != 0u) { b${q} = bias[o0 + ${q}u - u.bOff]; }`;
  if (vec4Out(g, P)) {
    const quads = range(P / 4);
    return `  if (gid.x >= tiles) { return; }
  let yRow = ((n * u.O + u.oBase + o0) * ${plane}u + oy * ${OW}u + ox0 - u.yOff) / 4u;
${range(TN)
  .map(
    (q) => `  if (o0 + ${q}u < u.oCount) {
${bias(q)}
${quads.map((b) => `    if (ox0 + ${4 * b}u < ${OW}u) { y[yRow + ${(q * plane + 4 * b) / 4}u] = vec4<f32>(${range(4).map((i) => `act(${acc(4 * b + i, q)} + b${q})`).join(', ')}); }`).join('\n')}
  }`,
  )
  .join('\n')}`;
  }
  const row = o.SY === 1 && o.RY === 0 ? `oy * ${o.W}u` : `(oy * ${o.SY}u + ${o.RY}u) * ${o.W}u`;
  const col = o.SX === 1 && o.RX === 0 ? 'ox0' : `ox0 * ${o.SX}u + ${o.RX}u`;
  return `  if (gid.x >= tiles) { return; }
  let yRow = (n * u.O + u.oBase + o0) * ${plane}u + ${row} + ${col} - u.yOff;
${range(TN)
  .map(
    (q) => `  if (o0 + ${q}u < u.oCount) {
${bias(q)}
${range(P).map((p) => `    if (ox0 + ${p}u < ${OW}u) { y[yRow + ${q * plane + p * o.SX}u] = act(${acc(p, q)} + b${q}); }`).join('\n')}
  }`,
  )
  .join('\n')}`;
}

export function directConvKernel(g: DirectGeometry, wl: WeightLayout, tile: DirectTile, wgSize: number): KernelDef {
  return memoized(`directConvKernel:${JSON.stringify([g, wl, tile, wgSize])}`, () => makeDirectConvKernel(g, wl, tile, wgSize));
}

function makeDirectConvKernel(g: DirectGeometry, wl: WeightLayout, tile: DirectTile, wgSize: number): KernelDef {
  const { C, H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW } = g;
  const { P, TN } = tile;
  const rows4 = !!tile.rows4 && rows4Apply(g, tile);
  const cols = columnOffsets(P, KW, SW, DW);
  const P_ = range(P), Q = range(TN);
  const tap = (kyExpr: string, kx: number): string => tapOffset(wl, KH, KW, kyExpr, kx);
  const inner: string[] = [];
  for (let kx = 0; kx < KW; kx++) {
    for (const q of Q) inner.push(`      let w${q}_${kx} = w[wq${q} + wc + ${tap('ky', kx)}];`);
    for (const p of P_) {
      const j = p * SW + kx * DW;
      for (const q of Q) inner.push(`      a${p}_${q} += x${j} * w${q}_${kx};`);
    }
  }
  return {
    name: `convDirect_${P}x${TN}${rows4 ? 'r' : ''}`,
    uniforms: FORWARD_UNIFORMS,
    storage: forwardStorage(g, P, rows4, 'array<f32>'),
    body: `${ACT}
// x [N,${C},${H},${W}] -> y [N,O,${OH},${OW}], ${KH}x${KW} stride ${SH},${SW} pad ${PT},${PL} dilation ${DH},${DW};
// one invocation: ${P} pixels of a row x ${TN} channels (the channel block is workgroup_id.y).
@compute @workgroup_size(${wgSize})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
${tilePrologue(g, P, TN, cols, rows4)}
${Q.map((q) => `  let wq${q} = min(o0 + ${q}u, u.oCount - 1u) * ${wl.qStride}u - u.wOff;`).join('\n')}
${P_.flatMap((p) => Q.map((q) => `  var a${p}_${q} = 0.0;`)).join('\n')}
  for (var c = 0u; c < ${C}u; c++) {
    let wc = c * ${wl.cStride}u;
    for (var ky = 0u; ky < ${KH}u; ky++) {
${rowLoads(g, cols, rows4)}
${inner.join('\n')}
    }
  }
${tileEpilogue(g, P, TN, (p, q) => `a${p}_${q}`)}
}`,
  };
}

/**
 * Whether the direct kernels compute a conv's input gradient with this tile: a stride-1 conv's is a
 * conv of dy with the flipped, transposed weight; a strided one's (a transposed conv's forward) is
 * one such conv per output phase (ops/conv.ts), without dilation and not packed (packWeightsKernel
 * knows only the flipped layout, not a phase's sub-kernel).
 */
export function directInputGradientApplies(g: Pick<DirectGeometry, 'SH' | 'SW' | 'DH' | 'DW'>, tile: DirectTile): boolean {
  return (g.SH === 1 && g.SW === 1) || (!tile.packed && g.DH === 1 && g.DW === 1);
}

/** Workgroups of a directConvKernel launch over N samples and oCount channels. */
export function directConvGrid(g: DirectGeometry, tile: DirectTile, N: number, oCount: number, wgSize: number): [number, number, number] {
  return [Math.ceil((N * g.OH * Math.ceil(g.OW / tile.P)) / wgSize), Math.ceil(oCount / tile.TN), 1];
}

/**
 * The weight gradient dw[o, c, ky, kx] = sum_{n, oy, ox} dy[n, o, oy, ox] * x[n, c, iy, ix] of a conv
 * (x [N, C, H, W] -> dy [N, O, OH, OW]). One invocation: one input channel c (its lane) x all KH*KW
 * taps x TN output channels (workgroup_id.y), summed over the rows (n, oy) of split workgroup_id.z,
 * P output columns at a time. The output-gradient values are the same for every lane (channel block
 * and position), and so are the row and column validity tests; the x values differ per lane, each
 * shared by KW taps. Partials land in dw[split][o][c][ky][kx]. On llvmpipe the output-gradient
 * loads are per-lane loops all the same (their addresses come from workgroup_id and loop counters,
 * see directConvSubgroupKernel); with tile.subgroup lane l loads every 8th of the TN*P values and
 * subgroupBroadcast hands them round (TN*P a multiple of 8, subgroups of at least 8 lanes).
 */
export function directWeightKernel(g: DirectGeometry, tile: DirectTile, wgSize: number): KernelDef {
  return memoized(`directWeightKernel:${JSON.stringify([g, tile, wgSize])}`, () => makeDirectWeightKernel(g, tile, wgSize));
}

function makeDirectWeightKernel(g: DirectGeometry, tile: DirectTile, wgSize: number): KernelDef {
  const { C, H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW } = g;
  const { P, TN } = tile;
  const OWT = Math.ceil(OW / P);
  const KK = KH * KW;
  const cols = columnOffsets(P, KW, SW, DW);
  // kernel rows kyb.. kyb+KR-1 of the KH (kyb from workgroup_id.z when KR < KH)
  const KR = tile.kRows ?? KH;
  const rowSplit = KR < KH;
  const P_ = range(P), Q = range(TN), KY = range(KR), KX = range(KW);
  const tail = OW % P !== 0;
  const shared = !!tile.subgroup;
  const chunks = (TN * P) / 8;
  const body: string[] = [];
  if (shared) {
    // lane l loads value i = 8k + l of the tile's TN x P output-gradient values (q = i / P, p = i % P)
    for (let k = 0; k < chunks; k++) {
      const at = `dyn + dq${k} + ox0`;
      body.push(tail ? `      let dl${k} = select(0.0, dy[min(${at}, dyn + de${k})], ox0 + dp${k} < ${OW}u);` : `      let dl${k} = dy[${at}];`);
    }
    for (const q of Q) for (const p of P_) body.push(`      let d${q}_${p} = subgroupBroadcast(dl${(q * P + p) >> 3}, ${(q * P + p) & 7}u);`);
  } else {
    for (const p of P_) {
      for (const q of Q) {
        const at = `dyq${q} + ox0 + ${p}u`;
        body.push(tail ? `      let d${q}_${p} = select(0.0, dy[min(${at}, dyq${q} + ${OW - 1}u)], ox0 + ${p}u < ${OW}u);` : `      let d${q}_${p} = dy[${at}];`);
      }
    }
  }
  // The lane's share of the tile's output-gradient values (shared): channel, column, row offset, row end.
  const laneShare = range(shared ? chunks : 0)
    .map(
      (k) => `  let dp${k} = (${8 * k}u + sl) % ${P}u;
  let dq${k} = (u.oBase + min(o0 + (${8 * k}u + sl) / ${P}u, u.oCount - 1u)) * ${OH * OW}u + dp${k};
  let de${k} = dq${k} - dp${k} + ${OW - 1}u;`,
    )
    .join('\n');
  // Column validity once per column, shared by the KH rows, and combined with '&' rather than '&&':
  // a short-circuit '&&' is a branch in the SPIR-V Tint emits, and SwiftShader (Chromium's software
  // Vulkan) never finished compiling this loop with three of them per load (>4 minutes, then the
  // device is lost); with '&' it compiles in ~0.2 s. Same values either way.
  for (const j of cols) {
    body.push(`      let ix${j} = i32(ox0 * ${SW}u) + (${j - PL});`);
    body.push(`      let cv${j} = (ix${j} >= 0) & (ix${j} < ${W});`);
    body.push(`      let xc${j} = u32(clamp(ix${j}, 0, ${W - 1}));`);
  }
  for (const ky of KY) {
    for (const j of cols) body.push(`      let x${ky}_${j} = select(0.0, x[row${ky} + xc${j}], rv${ky} & cv${j});`);
    for (const kx of KX) for (const p of P_) for (const q of Q) body.push(`      a${q}_${ky}_${kx} += d${q}_${p} * x${ky}_${p * SW + kx * DW};`);
  }
  return {
    name: `convDirectWeight_${P}x${TN}${shared ? 's' : ''}${rowSplit ? `k${KR}` : ''}`,
    ...(shared ? { enables: ['subgroups'] } : {}),
    uniforms: [...DIRECT_UNIFORMS, ['rowsPerSplit', 'u32']],
    storage: [
      ['x', 'read', 'array<f32>'],
      ['dy', 'read', 'array<f32>'],
      ['dw', 'write', 'array<f32>'],
    ],
    body: `
// x [N,${C},${H},${W}], dy [N,O,${OH},${OW}], ${KH}x${KW} stride ${SH},${SW} pad ${PT},${PL} dilation ${DH},${DW}.
@compute @workgroup_size(${wgSize})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>${shared ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}) {
  let c = min(gid.x, ${C - 1}u);
  let o0 = wg.y * ${TN}u;
${rowSplit ? `  let s = wg.z / ${KH / KR}u;
  let kyb = (wg.z % ${KH / KR}u) * ${KR}u;` : '  let s = wg.z;'}
  let r0 = s * u.rowsPerSplit;
  let r1 = min(r0 + u.rowsPerSplit, u.N * ${OH}u);
${shared ? `  let sl = min(lane, 7u);\n${laneShare}` : Q.map((q) => `  let oq${q} = u.oBase + min(o0 + ${q}u, u.oCount - 1u);`).join('\n')}
${Q.flatMap((q) => KY.flatMap((ky) => KX.map((kx) => `  var a${q}_${ky}_${kx} = 0.0;`))).join('\n')}
  for (var r = r0; r < r1; r++) {
    let n = r / ${OH}u;
    let oy = r % ${OH}u;
    let xrow = n * ${C * H * W}u + c * ${H * W}u - u.xOff;
    let dyn = n * u.O * ${OH * OW}u + oy * ${OW}u - u.yOff;
${shared ? '' : Q.map((q) => `    let dyq${q} = dyn + oq${q} * ${OH * OW}u;`).join('\n')}
${KY.map((ky) => `    let iy${ky} = i32(oy * ${SH}u) + ${rowSplit ? `i32(kyb * ${DH}u) + ` : ''}(${ky * DH - PT});\n    let rv${ky} = (iy${ky} >= 0) & (iy${ky} < ${H});\n    let row${ky} = xrow + u32(clamp(iy${ky}, 0, ${H - 1})) * ${W}u;`).join('\n')}
    for (var xb = 0u; xb < ${OWT}u; xb++) {
      let ox0 = xb * ${P}u;
${body.join('\n')}
    }
  }
  if (gid.x >= ${C}u) { return; }
  let base = (s * u.oCount + o0) * ${C * KK}u + c * ${KK}u${rowSplit ? ` + kyb * ${KW}u` : ''};
${Q.map((q) => `  if (o0 + ${q}u < u.oCount) {\n${KY.flatMap((ky) => KX.map((kx) => `    dw[base + ${q * C * KK + ky * KW + kx}u] = a${q}_${ky}_${kx};`)).join('\n')}\n  }`).join('\n')}
}`,
  };
}

/** Lanes of a weight-gradient workgroup: one per input channel, 8 to 64. */
export function directWeightWorkgroupSize(C: number): number {
  let wg = 8;
  while (wg < 64 && wg < C) wg *= 2;
  return wg;
}

/**
 * The weights of a directConvKernel launch repacked for vec4 loads: wp[b][c][tap][TN] (b the block of
 * TN output channels, zero past the last channel), so that the TN weights one tap needs are TN/4
 * uniform vec4 loads instead of TN scalar ones. One invocation per packed element.
 */
export function packWeightsKernel(C: number, KH: number, KW: number, wl: WeightLayout, TN: number): KernelDef {
  return memoized(`packWeightsKernel:${JSON.stringify([C, KH, KW, wl, TN])}`, () => makePackWeightsKernel(C, KH, KW, wl, TN));
}

function makePackWeightsKernel(C: number, KH: number, KW: number, wl: WeightLayout, TN: number): KernelDef {
  const KK = KH * KW;
  return {
    name: `convPackWeights_${TN}`,
    uniforms: [['oCount', 'u32'], ['wOff', 'u32'], ['total', 'u32']],
    storage: [
      ['w', 'read', 'array<f32>'],
      ['wp', 'write', 'array<f32>'],
    ],
    body: `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(64)};
  if (i >= u.total) { return; }
  let q = i % ${TN}u;
  let r = i / ${TN}u;
  let t = r % ${KK}u;
  let r2 = r / ${KK}u;
  let c = r2 % ${C}u;
  let o = (r2 / ${C}u) * ${TN}u + q;
  let tap = ${wl.flip ? `${KK - 1}u - t` : 't'};
  wp[i] = select(0.0, w[min(o, u.oCount - 1u) * ${wl.qStride}u + c * ${wl.cStride}u + tap - u.wOff], o < u.oCount);
}`,
  };
}

/** directConvKernel reading packWeightsKernel's layout (vec4 weight loads); TN a multiple of 4. */
export function directConvPackedKernel(g: DirectGeometry, tile: DirectTile, wgSize: number): KernelDef {
  return memoized(`directConvPackedKernel:${JSON.stringify([g, tile, wgSize])}`, () => makeDirectConvPackedKernel(g, tile, wgSize));
}

function makeDirectConvPackedKernel(g: DirectGeometry, tile: DirectTile, wgSize: number): KernelDef {
  const { C, H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW } = g;
  const { P, TN } = tile;
  const V = TN / 4;
  const rows4 = !!tile.rows4 && rows4Apply(g, tile);
  const cols = columnOffsets(P, KW, SW, DW);
  const P_ = range(P), Vs = range(V);
  const inner: string[] = [];
  for (let kx = 0; kx < KW; kx++) {
    for (const v of Vs) inner.push(`      let w${v}_${kx} = w[wt + ${kx * V + v}u];`);
    for (const p of P_) for (const v of Vs) inner.push(`      a${p}_${v} += x${p * SW + kx * DW} * w${v}_${kx};`);
  }
  return {
    name: `convDirectPacked_${P}x${TN}${rows4 ? 'r' : ''}`,
    uniforms: FORWARD_UNIFORMS,
    storage: forwardStorage(g, P, rows4, 'array<vec4<f32>>'),
    body: `${ACT}
// x [N,${C},${H},${W}] -> y [N,O,${OH},${OW}], ${KH}x${KW} stride ${SH},${SW} pad ${PT},${PL} dilation ${DH},${DW};
// one invocation: ${P} pixels of a row x ${TN} channels (block workgroup_id.y), weights as vec4.
@compute @workgroup_size(${wgSize})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
${tilePrologue(g, P, TN, cols, rows4)}
  let wb = wg.y * ${C * KH * KW * V}u;
${P_.flatMap((p) => Vs.map((v) => `  var a${p}_${v} = vec4<f32>(0.0);`)).join('\n')}
  for (var c = 0u; c < ${C}u; c++) {
    for (var ky = 0u; ky < ${KH}u; ky++) {
      let wt = wb + (c * ${KH}u + ky) * ${KW * V}u;
${rowLoads(g, cols, rows4)}
${inner.join('\n')}
    }
  }
${tileEpilogue(g, P, TN, (p, q) => `a${p}_${Math.floor(q / 4)}[${q % 4}]`)}
}`,
  };
}

/**
 * directConvKernel with its weights shared through the subgroup (tile.subgroup). On llvmpipe a
 * storage load is a uniform scalar load only when its address is a compile-time constant (or a push
 * constant): gallivm tests nir_src_is_always_uniform, which an address derived from workgroup_id or
 * a loop counter fails, so every weight load of directConvKernel is a per-lane loop of
 * bounds-checked scalar loads (~0.6 ns each, the cost of ~35 multiply-adds), though all lanes read
 * the same address. Here the KW*TN weights of one (c, ky) are loaded once per subgroup, lane l
 * taking values i = 8j + l (channel i % TN, column i / TN: a per-lane address either way, so the
 * weights are read where they are, with no repacking pass), and handed to every lane with
 * subgroupBroadcast from a constant lane (an extract and a splat). Needs subgroups of at least 8
 * lanes and TN a multiple of 4.
 */
export function directConvSubgroupKernel(g: DirectGeometry, wl: WeightLayout, tile: DirectTile, wgSize: number): KernelDef {
  return memoized(`directConvSubgroupKernel:${JSON.stringify([g, wl, tile, wgSize])}`, () => makeDirectConvSubgroupKernel(g, wl, tile, wgSize));
}

function makeDirectConvSubgroupKernel(g: DirectGeometry, wl: WeightLayout, tile: DirectTile, wgSize: number): KernelDef {
  const { C, H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW } = g;
  const { P, TN } = tile;
  const rows4 = !!tile.rows4 && rows4Apply(g, tile);
  const cols = columnOffsets(P, KW, SW, DW);
  const P_ = range(P), Q = range(TN);
  // KW*TN values in chunks of 8 (the last one partly filled when KW*TN is not a multiple of 8: its
  // spare lanes load the last value again, which no lane reads)
  const chunks = Math.ceil((KW * TN) / 8);
  const laneValue = (j: number): string => (8 * (j + 1) > KW * TN ? `min(${8 * j}u + sl, ${KW * TN - 1}u)` : `(${8 * j}u + sl)`);
  // the lane's weight of chunk j: channel i % TN, column i / TN (i = 8j + l), flipped for the input gradient
  // (the tap offset of row 0 and the lane's column; the row's part is added in the loop)
  const laneRows = range(chunks)
    .map((j) => `  let wr${j} = min(o0 + ${laneValue(j)} % ${TN}u, u.oCount - 1u) * ${wl.qStride}u + ${tapOffset(wl, KH, KW, '0u', `(${laneValue(j)} / ${TN}u)`)} - u.wOff;`)
    .join('\n');
  const kyTap = `${tapOffset(wl, KH, KW, 'ky', 0)} - (${tapOffset(wl, KH, KW, '0u', 0)})`;
  const inner: string[] = [];
  for (let j = 0; j < chunks; j++) inner.push(`      let wl${j} = w[wr${j} + wt];`);
  for (let kx = 0; kx < KW; kx++) {
    for (const q of Q) {
      const i = kx * TN + q;
      inner.push(`      let w${q}_${kx} = subgroupBroadcast(wl${i >> 3}, ${i & 7}u);`);
    }
    for (const p of P_) for (const q of Q) inner.push(`      a${p}_${q} += x${p * SW + kx * DW} * w${q}_${kx};`);
  }
  return {
    name: `convDirectSubgroup_${P}x${TN}${rows4 ? 'r' : ''}`,
    enables: ['subgroups'],
    uniforms: FORWARD_UNIFORMS,
    storage: forwardStorage(g, P, rows4, 'array<f32>'),
    body: `${ACT}
// x [N,${C},${H},${W}] -> y [N,O,${OH},${OW}], ${KH}x${KW} stride ${SH},${SW} pad ${PT},${PL} dilation ${DH},${DW};
// one invocation: ${P} pixels of a row x ${TN} channels (block workgroup_id.y), weights shared by the subgroup.
@compute @workgroup_size(${wgSize})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
${tilePrologue(g, P, TN, cols, rows4)}
  let sl = min(lane, 7u);
${laneRows}
${P_.flatMap((p) => Q.map((q) => `  var a${p}_${q} = 0.0;`)).join('\n')}
  for (var c = 0u; c < ${C}u; c++) {
    for (var ky = 0u; ky < ${KH}u; ky++) {
      let wt = c * ${wl.cStride}u + ${kyTap};
${rowLoads(g, cols, rows4)}
${inner.join('\n')}
    }
  }
${tileEpilogue(g, P, TN, (p, q) => `a${p}_${q}`)}
}`,
  };
}
