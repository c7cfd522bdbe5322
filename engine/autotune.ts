/**
 * Which conv kernel variant runs, per adapter and shape.
 *
 * Variants: 'gemm' (kernels/conv2d.ts: tiled implicit GEMM, any shape) and 'direct-PxTN'
 * (kernels/conv/direct.ts, generated per shape, register tile P pixels x TN channels). Which is
 * fastest depends on the adapter (llvmpipe's SIMD lanes vs a GPU's warps) and on the shape, so it is
 * measured: a conv op looks its (adapter, pass, shape) key up in the cache; an unknown key runs a
 * heuristic default and is queued, and `tunePendingConvs()` (outside any training step: it waits on
 * the GPU) times every candidate on the adapter at hand and stores the fastest. The cache is a JSON
 * file outside the package folder ($MATTING_AUTOTUNE_CACHE, else $XDG_CACHE_HOME or ~/.cache, then
 * matting-engine/conv-variants.json), so a later process starts with the choices made;
 * MATTING_AUTOTUNE=0 turns measuring off (defaults only); MATTING_CONV_VARIANT=gemm (or another
 * variant) forces one variant wherever it applies. For a fixed
 * cache the choice is fixed, so results stay bit-identical run to run.
 */
import { engine } from './engine.ts';
import type { ConvGeometry } from './kernels/conv2d.ts';
import { directInputGradientApplies, rows4Apply, type DirectTile } from './kernels/conv/direct.ts';
import { winogradApplies, winogradGeometryOf, winogradWeightGradApplies, type WinogradTile } from './kernels/conv/winograd.ts';
import { colsApplies } from './kernels/conv/cols.ts';
import { phaseGeometryOf } from './kernels/conv/phase.ts';
import { maxBindingElements } from './kernels/binding.ts';
import { gpuWait } from './gpu-wait.ts';

export type ConvPass = 'forward' | 'backward-data' | 'backward-weights';
/**
 * 'gemm', 'direct-PxTN', 'direct-PxTNv' (weights repacked for vec4 loads) or 'direct-PxTNs' (weights,
 * or for the weight gradient output gradients, shared through the subgroup), each optionally with
 * 'r' (input rows read as vec4s); 'winograd-PxTN[s|v]' (3x3 stride 1: Winograd F(2x2,3x3), kernels/conv/winograd.ts);
 * 'cols-PxTNv' (input and weight gradients as one GEMM over the column matrix, kernels/conv/cols.ts);
 * 'phase-<winograd variant>' (a stride-2 conv as a 3x3 conv over its input's phases, kernels/conv/phase.ts).
 */
export type ConvVariant = string;

const forced: Partial<Record<ConvPass, ConvVariant>> = {};

/** Forces a variant for a pass (tests, benchmarks); undefined restores the tuned choice. */
export function forceConvVariant(pass: ConvPass, v: ConvVariant | undefined): void {
  if (v !== undefined) checkVariantName(v);
  if (v === undefined) delete forced[pass];
  else forced[pass] = v;
}

/** Throws on a name that is no variant (gemm, direct-..., winograd-...). */
function checkVariantName(v: ConvVariant): void {
  if (v === 'gemm') return;
  const inner = phaseInner(v);
  if (inner !== null) {
    if (!inner.startsWith('winograd')) throw new Error(`unknown conv variant '${v}' (expected phase-winograd...)`);
    parseWinogradTile(inner);
  } else if (v.startsWith('winograd')) parseWinogradTile(v);
  else if (v.startsWith('cols')) parseColsTile(v);
  else parseTile(v);
}

/** 'winograd[4]-PxTN[s|v]': Winograd F(2x2,3x3) (winograd4: F(4x4,3x3)) with a GEMM tile of P tiles x TN channels (s: U shared by the subgroup; v: the same, loaded as vec4s). */
export function parseWinogradTile(v: ConvVariant): WinogradTile | null {
  if (!v.startsWith('winograd')) return null;
  const m = /^winograd(4?)-(\d+)x(\d+)([sv]?)$/.exec(v);
  if (!m) throw new Error(`unknown conv variant '${v}' (expected winograd-PxTN or winograd4-PxTN, then s for weights shared by the subgroup, v for the same read as vec4s)`);
  return { P: Number(m[2]), TN: Number(m[3]), subgroup: m[4] !== '', ...(m[4] === 'v' ? { u4: true } : {}), ...(m[1] ? { m: 4 as const } : {}) };
}

/** 'phase-<variant>': a stride-2 conv as a 3x3 conv over its input's phases (ops/conv-phase.ts), run by a Winograd variant. */
export function phaseInner(v: ConvVariant): ConvVariant | null {
  return v.startsWith('phase-') ? v.slice('phase-'.length) : null;
}

/** 'cols-PxTNv': a conv's input or weight gradient as one GEMM over its column matrix (ops/conv-cols.ts), the GEMM's tile. */
export function parseColsTile(v: ConvVariant): WinogradTile | null {
  if (!v.startsWith('cols')) return null;
  const m = /^cols-(\d+)x(\d+)v$/.exec(v);
  if (!m) throw new Error(`unknown conv variant '${v}' (expected cols-PxTNv)`);
  return { P: Number(m[1]), TN: Number(m[2]), subgroup: true, u4: true };
}

export function parseTile(v: ConvVariant): DirectTile {
  const m = /^direct-(\d+)x(\d+)([vs]?)(r?)(?:k(\d+))?$/.exec(v);
  if (!m) throw new Error(`unknown conv variant '${v}' (expected gemm or direct-PxTN, then v for packed weights or s for loads shared by the subgroup, r for vec4 rows, kN for N kernel rows per weight-gradient workgroup)`);
  const tile: DirectTile = { P: Number(m[1]), TN: Number(m[2]), packed: m[3] === 'v', subgroup: m[3] === 's', rows4: m[4] === 'r' };
  if (m[5] !== undefined) tile.kRows = Number(m[5]);
  return tile;
}

/** Whether a pass of a shape can run a variant at all (the direct input gradient needs stride 1 and one weight binding). */
export function variantApplies(pass: ConvPass, g: ConvGeometry, v: ConvVariant): boolean {
  if (v === 'gemm') return true;
  const inner = phaseInner(v);
  if (inner !== null) {
    const pg = phaseGeometryOf(g);
    const max = maxBindingElements();
    return !!pg && inner.startsWith('winograd') && g.O * pg.C * 9 <= max && pg.C * pg.H * pg.W <= max && variantApplies(pass, pg, inner);
  }
  const cols = parseColsTile(v);
  if (cols) return colsApplies(pass, g, cols, subgroupsOf8());
  const wino = parseWinogradTile(v);
  if (wino) {
    const wg = winogradGeometryOf(pass, g);
    if (!wg) return false;
    return pass === 'backward-weights' ? winogradWeightGradApplies(wg, wino, subgroupsOf8()) : winogradApplies(wg, wino, subgroupsOf8());
  }
  const { P, TN, packed, rows4, subgroup, kRows } = parseTile(v);
  if (pass === 'backward-weights') {
    // TN x (kernel rows) x KW accumulators per lane; shared: the subgroup loads TN*P output-gradient values, 8 at a time
    const rows = kRows ?? g.KH;
    if (kRows !== undefined && (kRows < 1 || g.KH % kRows !== 0)) return false;
    if (subgroup) return (TN * P) % 8 === 0 && subgroupsOf8() && TN * rows * g.KW <= 160 && P <= 8 && !rows4;
    return TN * rows * g.KW <= 96 && P <= 8 && !packed && !rows4;
  }
  if (kRows !== undefined) return false;
  if (packed && TN % 4 !== 0) return false;
  if (subgroup && (TN % 4 !== 0 || !subgroupsOf8())) return false;
  // vec4 rows: the kernel's input rows are x's (forward) or dy's (the input gradient, stride 1)
  if (rows4 && !rows4Apply({ SW: pass === 'forward' ? g.SW : 1, DW: g.DW, W: pass === 'forward' ? g.W : g.OW }, { P, TN })) return false;
  if (pass === 'backward-data' && !directInputGradientApplies(g, { P, TN, packed })) return false;
  return P * TN <= (subgroup ? 512 : 128);
}

/** Whether subgroup kernels can run: the feature, and subgroups of at least 8 lanes. */
function subgroupsOf8(): boolean {
  const f = engine().acquired.features;
  return f.subgroups && f.subgroupMinSize >= 8;
}

/** Multiply-adds of one conv pass (all three passes have the same count). */
const convFlops = (g: ConvGeometry): number => g.N * g.OH * g.OW * g.O * g.C * g.KH * g.KW;

/** Candidates the tuner times, per pass (filtered by variantApplies). */
const CANDIDATES: Record<ConvPass, ConvVariant[]> = {
  forward: ['gemm', 'winograd4-8x32v', 'winograd4-4x32v', 'winograd-8x32v', 'winograd-4x32v', 'winograd-4x32s', 'winograd-8x16s', 'winograd-8x8', 'direct-16x8', 'direct-16x8v', 'direct-16x16v', 'direct-8x8v', 'direct-16x16s', 'direct-16x16sr', 'direct-8x8s', 'direct-8x8sr', 'direct-8x16sr', 'direct-8x4s', 'direct-16x4sr'],
  'backward-data': ['gemm', 'cols-4x32v', 'winograd4-8x32v', 'winograd4-4x32v', 'winograd-8x32v', 'winograd-4x32v', 'winograd-4x32s', 'winograd-8x16s', 'winograd-8x8', 'direct-16x8', 'direct-16x8v', 'direct-16x16v', 'direct-8x8v', 'direct-16x16s', 'direct-16x16sr', 'direct-8x8s', 'direct-8x8sr', 'direct-8x16sr', 'direct-8x4s', 'direct-16x4sr'],
  'backward-weights': [
    'gemm', 'cols-8x32v', 'cols-4x32v', 'winograd4-8x32v', 'winograd-8x32v', 'winograd-4x32v', 'winograd-4x32s', 'winograd-8x16s', 'winograd-8x8', 'direct-4x8', 'direct-8x4', 'direct-4x2', 'direct-4x1', 'direct-4x8k1',
    'direct-4x8s', 'direct-4x16s', 'direct-8x8s', 'direct-8x16s', 'direct-8x4s', 'direct-8x2s', 'direct-4x16sk1', 'direct-8x16sk1',
  ],
};

export function convCandidates(pass: ConvPass, g: ConvGeometry): ConvVariant[] {
  const P = tileWidthFor(pass === 'backward-data' ? g.W : g.OW);
  const fitted = pass !== 'backward-weights' && P !== 8 ? [`direct-${P}x8s`, `direct-${P}x16s`] : [];
  const phase = phaseGeometryOf(g) ? ['phase-winograd4-8x32v', 'phase-winograd4-4x32v', 'phase-winograd-8x32v'] : [];
  return [...CANDIDATES[pass], ...fitted, ...phase].filter((v) => variantApplies(pass, g, v));
}

/**
 * Pixels per lane for rows of `width` outputs: the width from 5 to 12 that wastes the fewest columns
 * (a row's last tile computes up to P-1 columns past its end), 8 on a tie (vec4 rows need a multiple
 * of 4), else the wider.
 */
export function tileWidthFor(width: number): number {
  const waste = (P: number) => Math.ceil(width / P) * P - width;
  let best = 8;
  for (let P = 12; P >= 5; P--) if (waste(P) < waste(best)) best = P;
  return best;
}

/**
 * Before tuning: what measured best on llvmpipe (GL route, Mesa 22.3) for most shapes. A conv of
 * under ~2 MFLOP is dominated by the launch itself: it keeps the one-dispatch gemm kernel.
 */
export function defaultConvVariant(pass: ConvPass, g: ConvGeometry): ConvVariant {
  if (convFlops(g) < 1e6) return 'gemm';
  // stride 2 (kernels up to 6 taps): the 3x3 conv over the input's four phases where that one runs
  // on Winograd (llvmpipe, the decoder's 5x5/2 shapes: forward 2.1-3.3x direct-8x8s, dx 1.9-2.8x
  // direct-8x8sr, dw 2.1-2.4x direct-4x16sk1)
  const pg = phaseGeometryOf(g);
  if (pg) {
    const inner = defaultConvVariant(pass, pg);
    if (inner.startsWith('winograd') && variantApplies(pass, g, `phase-${inner}`)) return `phase-${inner}`;
  }
  // a small output plane under a large kernel (fc6: 10x10 pixels, 25,088 taps each): the gradients as
  // one GEMM over the column matrix (llvmpipe, 512x10x10 -> 4096 7x7: dw 1.36-1.41x direct-4x16sk1,
  // dx 1.06-1.31x direct-10x8s; 64x10x10 -> 512: dw 1.07-1.17x, dx even; from 40x40 planes the
  // direct kernels win)
  if (pass !== 'forward' && g.OH * g.OW <= 256 && g.C * g.KH * g.KW >= (pass === 'backward-data' ? 8192 : 2048)) {
    const v = pass === 'backward-weights' ? 'cols-8x32v' : 'cols-4x32v';
    if (variantApplies(pass, g, v)) return v;
  }
  if (pass === 'backward-weights') {
    // 3x3 stride 1 from 64 channels: F(3x3,2x2) (4x32s: 1.6x direct-4x8s on llvmpipe at 64x320x320,
    // 2x at 128x160x160, 2.6x at 512x40x40; 8x32v another 1.1-1.2x; below ~32 channels its padded
    // GEMM blocks lose), and from 32x32 outputs F(3x3,4x4) (another 1.1-1.75x; 0.77x at 20x20); 5x5
    // stride 1 as F(5x5,2x2) (2x direct-4x16sk1 at 64x320x320; 1e-4 from it relative to the largest)
    if (g.C >= 64 && g.O >= 64) {
      const f4 = g.OH * g.OW >= 1024 ? ['winograd4-8x32v'] : [];
      const v = [...f4, 'winograd-8x32v', 'winograd-4x32s'].find((t) => variantApplies(pass, g, t));
      if (v) return v;
    }
    // subgroup-shared output gradients first (2.5-4x direct-4x8 on llvmpipe); kernels of 5x5 and
    // more one kernel row per workgroup, for 16 channels (2x direct-8x4s at 5x5, 4x direct-8x2s at 7x7)
    const order = g.KH * g.KW >= 25 ? ['direct-4x16sk1', 'direct-8x4s', 'direct-8x2s', 'direct-4x8k1'] : ['direct-4x8s', 'direct-4x8', 'direct-4x2'];
    for (const v of order) if (variantApplies(pass, g, v) && g.C >= 8) return v;
    return 'gemm';
  }
  const [wide, channels] = pass === 'backward-data' ? [g.W, g.C] : [g.OW, g.O];
  if (wide < 8) return 'gemm';
  if (channels < 8) {
    // few output channels (a prediction head's 64 -> 1): 4 channels a lane, the rest padding, still
    // 4.9x gemm on llvmpipe (64 -> 1 at 320x320, 3x3 44 ms vs 213, 5x5 97 vs 481)
    return ['direct-16x4sr', 'direct-8x4s'].find((v) => variantApplies(pass, g, v)) ?? 'gemm';
  }
  // 3x3 stride 1 with 64 or more channels summed: Winograd. On llvmpipe F(2x2,3x3) with 8 tiles x 32
  // channels and U read as vec4s (8x32v) runs 1.1-1.25x the 4x32s tile and 1.4x direct-8x8sr at
  // 64x320x320 and 64x160x160 (4x32s, U read as scalars: 0.93x there, 1.3-1.6x from 128 channels);
  // F(4x4,3x3) another 1.3-1.6x from 32x32 outputs up (8x32v), 1.1x at 20x20 (4x32v: fewer padded
  // tiles), 0.75x at 16x16. 5x5 stride 1 runs F(2x2,5x5) (8x32v: 1.1-1.17x direct-8x8sr forward,
  // 1.29x dx at 64x320x320)
  const summed = pass === 'backward-data' ? g.O : g.C;
  if (summed >= 64 && channels >= 32) {
    const plane = pass === 'backward-data' ? g.H * g.W : g.OH * g.OW;
    const f4 = plane >= 1024 ? ['winograd4-8x32v'] : plane >= 400 ? ['winograd4-4x32v'] : [];
    const v = [...f4, 'winograd-8x32v', 'winograd-4x32s'].find((t) => variantApplies(pass, g, t));
    if (v) return v;
  }
  // subgroup-shared weights where the adapter has subgroups of 8 or more (2-3x the 'v' kernels on
  // llvmpipe), 8 pixels per lane unless another width fills the rows better (fc6's 10x10: 10 pixels,
  // 1.5x over 8 whose second tile of a row computes 6 columns for nothing)
  const P = tileWidthFor(wide);
  const shared = (P === 8 ? ['direct-8x8sr', 'direct-8x8s'] : [`direct-${P}x8s`]).find((s) => variantApplies(pass, g, s));
  if (shared) return shared;
  const v = wide < 16 ? 'direct-8x8v' : channels >= 16 ? 'direct-16x16v' : 'direct-16x8v';
  return variantApplies(pass, g, v) ? v : 'gemm';
}

export function shapeKey(pass: ConvPass, g: ConvGeometry): string {
  return `${pass} N${g.N} C${g.C} ${g.H}x${g.W} -> O${g.O} ${g.OH}x${g.OW} k${g.KH}x${g.KW} s${g.SH},${g.SW} p${g.PT},${g.PL} d${g.DH},${g.DW}`;
}

function adapterKey(): string {
  const a = engine().acquired;
  return `${a.info.vendor} | ${a.info.architecture} | ${a.info.description} | ${a.backend}`;
}

/**
 * Where the measured choices persist between runs. The core knows no file system (it bundles for
 * the browser), so the store is registered by the platform: node/register-dawn.ts installs a JSON
 * file under ~/.cache/matting-engine; without one the choices last for the process.
 */
export interface AutotuneStore {
  /** The stored text, or null when there is none (absent, unreadable). */
  load(): string | null;
  /** Stores the text; failures are the store's to swallow (the file is only a cache). */
  save(text: string): void;
}
let store: AutotuneStore = { load: () => null, save: () => {} };

export function setAutotuneStore(s: AutotuneStore): void {
  store = s;
  cache = null;
}

/** An environment variable where there is a process (Node), else undefined (a browser). */
export function envVar(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}

type CacheFile = Record<string, Record<string, { variant: ConvVariant; ms: Record<string, number> }>>;
let cache: CacheFile | null = null;

/** MATTING_AUTOTUNE=0: never measure, run the defaults (the test suite sets it). */
const tuningOff = (): boolean => envVar('MATTING_AUTOTUNE') === '0';
const pending = new Map<string, { pass: ConvPass; g: ConvGeometry }>();

function loadCache(): CacheFile {
  if (cache) return cache;
  try {
    const text = store.load();
    const parsed = text === null ? {} : (JSON.parse(text) as unknown);
    cache = parsed && typeof parsed === 'object' ? (parsed as CacheFile) : {};
  } catch {
    cache = {}; // absent or unreadable: tune again (the file is only a cache)
  }
  return cache;
}

function saveCache(): void {
  store.save(JSON.stringify(cache, null, 1));
}

/** MATTING_CONV_VARIANT=NAME forces one variant on every pass where it applies (e.g. gemm: the old kernels). */
function envVariant(): ConvVariant | undefined {
  const v = envVar('MATTING_CONV_VARIANT');
  if (!v) return undefined;
  checkVariantName(v);
  return v;
}

/** The variant a conv pass of this shape runs now. */
export function convVariant(pass: ConvPass, g: ConvGeometry): ConvVariant {
  const f = forced[pass] ?? envVariant();
  if (f !== undefined && variantApplies(pass, g, f)) return f;
  const key = shapeKey(pass, g);
  if (tuningOff()) return defaultConvVariant(pass, g);
  const hit = loadCache()[adapterKey()]?.[key];
  // a choice made among fewer candidates (an older engine's cache) counts as none: the default runs
  // (it may be one of the newer kernels) until the shape is measured again
  if (hit && variantApplies(pass, g, hit.variant) && measuredAll(hit, pass, g)) return hit.variant;
  pending.set(key, { pass, g });
  return defaultConvVariant(pass, g);
}

/** Whether a cache entry timed every candidate the shape has now (a newer engine may add some). */
function measuredAll(entry: { ms: Record<string, number> }, pass: ConvPass, g: ConvGeometry): boolean {
  return convCandidates(pass, g).every((v) => v in entry.ms);
}

/** The measured choice for a shape, if tuned on this adapter. */
export function tunedConvVariant(pass: ConvPass, g: ConvGeometry): ConvVariant | undefined {
  return loadCache()[adapterKey()]?.[shapeKey(pass, g)]?.variant;
}

/** Operands for one pass of a shape, and a run of it with a variant (ops/conv.ts owns the launchers). */
export type ConvTrial = (pass: ConvPass, g: ConvGeometry) => { run: (v: ConvVariant) => void; dispose: () => void };
let trialOf: ConvTrial | null = null;
export function registerConvTrial(t: ConvTrial): void {
  trialOf = t;
}

/** Times every candidate of one shape (after a compile-and-warm run each) and stores the fastest. */
export async function tuneConv(pass: ConvPass, g: ConvGeometry, reps = 2): Promise<ConvVariant> {
  if (tuningOff() || envVariant()) return convVariant(pass, g);
  const key = shapeKey(pass, g);
  const ad = adapterKey();
  const known = loadCache()[ad]?.[key];
  pending.delete(key);
  if (known && measuredAll(known, pass, g)) return known.variant;
  if (!trialOf) throw new Error('autotune: no conv trial registered (import engine/ops/conv.ts)');
  const e = engine();
  const ms: Record<string, number> = {};
  const cands = convCandidates(pass, g);
  const trial = trialOf(pass, g);
  const runs = cands.map((v) => () => trial.run(v));
  const timeOnce = async (run: () => void): Promise<number> => {
    const t0 = performance.now();
    run();
    e.flush();
    await gpuWait(e.device.queue.onSubmittedWorkDone());
    return performance.now() - t0;
  };
  const samples: number[][] = cands.map(() => []);
  for (const run of runs) await timeOnce(run); // compiles
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < runs.length; i++) samples[i]!.push(await timeOnce(runs[i]!)); // interleaved
  }
  trial.dispose();
  cands.forEach((v, i) => (ms[v] = Math.min(...samples[i]!))); // the minimum: least disturbed by other load
  const best = cands.reduce((b, v) => (ms[v]! < ms[b]! ? v : b), cands[0]!);
  (loadCache()[ad] ??= {})[key] = { variant: best, ms };
  saveCache();
  await e.sync();
  return best;
}

/**
 * Tunes the shapes that ran on a default since the last call (call it between training steps),
 * the costliest first, until `budgetMs` is spent (most of it is compiling the candidates); the rest
 * keep their defaults and stay queued, so a later call (or run: the cache persists) goes on.
 */
export async function tunePendingConvs(budgetMs = Infinity): Promise<number> {
  if (tuningOff() || envVariant()) return 0;
  const todo = [...pending.values()].sort((a, b) => convFlops(b.g) - convFlops(a.g));
  const t0 = performance.now();
  let done = 0;
  for (const { pass, g } of todo) {
    if (performance.now() - t0 >= budgetMs) break;
    await tuneConv(pass, g);
    done++;
  }
  return done;
}
