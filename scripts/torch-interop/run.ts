/**
 * PyTorch interop check, both directions, for three tiny models (width 1/16, 64x64 inputs):
 *   vgg16-dual + deconv + sigmoid, vgg16-4ch + unpool + residual (imageMean imagenet),
 *   resnet50-dual + deconv + none.
 *
 * engine -> PyTorch: the engine's model (its own init, plus random biases and batch-norm statistics
 *   so that every tensor matters) is saved with saveCheckpoint; random inputs and the engine's
 *   eval-mode outputs are written; check.py loads the checkpoint into the PyTorch mirror
 *   (dim_torch.py) with load_state_dict(strict=True) and compares.
 * PyTorch -> engine: check.py also writes a PyTorch-initialised state_dict and PyTorch's outputs on
 *   the same inputs; they are loaded here with model.loadStateDict (strict, shapes checked) and the
 *   engine's outputs compared, and the engine's state dict is read back and compared bit for bit.
 *
 *   npx tsx scripts/torch-interop/run.ts [--out DIR] [--python PY] [--tol 1e-3] [--width 0.0625] [--size 64 | HxW] [--batch 2]
 *
 * PY defaults to $TORCH_PYTHON, else /tmp/torchvenv/bin/python, else python3 (one that imports torch).
 * Exit code: 0 all within tolerance, 1 some comparison failed, 2 no usable PyTorch.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../node/register-dawn.ts';
import { initEngine, shutdownEngine } from '../../engine/engine.ts';
import { tensor } from '../../engine/creation.ts';
import { keep, tidy } from '../../engine/scope.ts';
import { noGrad } from '../../engine/autograd/graph.ts';
import { BatchNorm2d } from '../../engine/nn/layers.ts';
import { writeSafetensors } from '../../engine/io/safetensors-write.ts';
import { readSafetensors } from '../../engine/io/safetensors-read.ts';
import { f32Entry, toFloat32, type TensorEntry } from '../../engine/io/safetensors-common.ts';
import { MattingModel } from '../../matting/graph/model.ts';
import type { ModelConfig } from '../../matting/graph/config.ts';
import { saveCheckpoint } from '../../matting/checkpoint.ts';
import { modelFromCheckpoint } from '../../cli/model-io.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

export interface InteropCase {
  name: string;
  config: Partial<ModelConfig>;
}

export const CASES: InteropCase[] = [
  { name: 'vgg16-dual-deconv-sigmoid', config: { encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid' } },
  { name: 'vgg16-4ch-unpool-residual', config: { encoder: 'vgg16-4ch', decoder: 'unpool', refine: 'residual', imageMean: 'imagenet' } },
  { name: 'vgg16-dual-deconv-sigmoid-torchvision', config: { encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', imageMean: 'torchvision' } },
  { name: 'resnet50-dual-deconv-none', config: { encoder: 'resnet50-dual', decoder: 'deconv', refine: 'none' } },
];

export interface CaseResult {
  name: string;
  /** check.py's exit code (0: engine -> PyTorch within tolerance). */
  forwardExit: number | null;
  /** check.py's JSON line (errors per output). */
  forward: Record<string, unknown> | null;
  /** engine vs PyTorch on PyTorch's weights, per output: max |a - b| / max |b|. */
  reverse: Record<string, number>;
  /** The PyTorch state dict read back out of the engine equals what was loaded (bitwise). */
  reverseStateExact: boolean;
  ok: boolean;
}

/** mulberry32: a small seeded PRNG for the inputs and the extra random tensors. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let d = 0;
  let scale = 1e-6;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    if (!(e <= d)) d = Number.isNaN(e) ? Infinity : e;
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return d / scale;
}

/** A Python that imports torch: the given one, $TORCH_PYTHON, /tmp/torchvenv/bin/python, python3 (TORCH_PYTHON=none: none). */
export function findTorchPython(given?: string): { python: string; version: string } | null {
  if (!given && process.env.TORCH_PYTHON === 'none') return null; // TORCH_PYTHON=none: behave as without PyTorch
  const candidates = [given, process.env.TORCH_PYTHON, '/tmp/torchvenv/bin/python', 'python3'].filter((p): p is string => !!p);
  for (const py of candidates) {
    if (py.includes('/') && !existsSync(py)) continue;
    const r = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python: py, version: r.stdout.trim() };
  }
  return null;
}

function makeInputs(n: number, h: number, w: number, seed: number): { image: Float32Array; trimap: Float32Array } {
  const rnd = prng(seed);
  const image = Float32Array.from({ length: n * 3 * h * w }, () => Math.floor(rnd() * 256));
  const levels = [0, 128, 255];
  const trimap = Float32Array.from({ length: n * h * w }, () => levels[Math.floor(rnd() * 3)]!);
  return { image, trimap };
}

/**
 * Makes the engine's freshly initialised model a meaningful test subject (every tensor matters and
 * the outputs are neither constant nor saturated), as a trained checkpoint would be:
 * - random biases (the engine starts them at 0) and random batch-norm affine parameters;
 * - batch-norm running statistics from `bnSteps` train-mode forwards on the inputs (momentum 0.1, so
 *   num_batches_tracked = bnSteps, saved as I64);
 * - the 1-channel heads `decoder.alpha` / `refine.alpha` rescaled (a grid of powers of 1/2): with
 *   0..255 inputs their logits are in the hundreds and every alpha would be exactly 0 or 1. The scale
 *   kept maximises the output's spread (for the residual refinement: of refined - raw) among those
 *   leaving at least half of the outputs inside (0.01, 0.99).
 */
async function prepareModel(model: MattingModel, seed: number, image: Float32Array, trimap: Float32Array, n: number, h: number, w: number, bnSteps = 30): Promise<string> {
  const rnd = prng(seed);
  const u = (lo: number, hi: number) => lo + (hi - lo) * rnd();
  const bnPrefixes = new Set(model.namedModules().filter(([, m]) => m instanceof BatchNorm2d).map(([p]) => p));
  const values = new Map<string, Float32Array>();
  for (const [name, t] of model.stateDict()) {
    const dot = name.lastIndexOf('.');
    const owner = name.slice(0, dot);
    const leaf = name.slice(dot + 1);
    if (bnPrefixes.has(owner)) {
      if (leaf === 'weight') values.set(name, Float32Array.from({ length: t.size }, () => u(0.5, 1.5)));
      if (leaf === 'bias') values.set(name, Float32Array.from({ length: t.size }, () => u(-0.2, 0.2)));
    } else if (leaf === 'bias') {
      // the 1-channel heads get small biases: a residual refinement's bias shifts every alpha at once
      const r = owner === 'decoder.alpha' || owner === 'refine.alpha' ? 0.05 : 1;
      values.set(name, Float32Array.from({ length: t.size }, () => u(-r, r)));
    }
  }
  model.loadStateDict(values, { strict: false });
  if (bnPrefixes.size) {
    model.train();
    for (let i = 0; i < bnSteps; i++) {
      noGrad(() => tidy(() => void model.forward(tensor(image, [n, 3, h, w]), tensor(trimap, [n, 1, h, w]))));
    }
    model.eval();
  }
  const notes: string[] = [];
  const unsat = (a: Float32Array) => a.reduce((k, v) => k + (v > 0.01 && v < 0.99 ? 1 : 0), 0) / a.length;
  const std = (a: ArrayLike<number>) => {
    let m = 0;
    for (let i = 0; i < a.length; i++) m += a[i]!;
    m /= a.length;
    let v = 0;
    for (let i = 0; i < a.length; i++) v += (a[i]! - m) ** 2;
    return Math.sqrt(v / a.length);
  };
  const heads: ['decoder.alpha' | 'refine.alpha', (o: { raw: Float32Array; refined: Float32Array | null }) => Float32Array][] = [
    ['decoder.alpha', (o) => o.raw],
  ];
  if (model.refine) heads.push(['refine.alpha', (o) => o.refined!]);
  for (const [head, pick] of heads) {
    const key = `${head}.weight`;
    const w0 = await model.stateDict().get(key)!.data();
    let best = { scale: 1, score: -1, unsat: 0 };
    for (let e = 0; e <= 14; e++) {
      const scale = 2 ** -e;
      model.loadStateDict(new Map([[key, w0.map((v) => v * scale)]]), { strict: false });
      const o = await forwardEval(model, image, trimap, n, h, w);
      const out = pick(o);
      const spread = head === 'refine.alpha' && model.config.refine === 'residual' ? std(out.map((v, i) => v - o.raw[i]!)) : std(out);
      const fr = unsat(out);
      const score = fr >= 0.5 ? spread : -1 + fr;
      if (score > best.score) best = { scale, score, unsat: fr };
    }
    model.loadStateDict(new Map([[key, w0.map((v) => v * best.scale)]]), { strict: false });
    notes.push(`${head} x${best.scale} (${Math.round(100 * best.unsat)}% in (0.01, 0.99))`);
  }
  return notes.join(', ');
}

async function forwardEval(model: MattingModel, image: Float32Array, trimap: Float32Array, n: number, h: number, w: number, train = false) {
  const out = noGrad(() =>
    tidy(() => {
      const o = model.train(train).forward(tensor(image, [n, 3, h, w]), tensor(trimap, [n, 1, h, w]));
      return { raw: keep(o.rawAlpha), refined: o.refinedAlpha ? keep(o.refinedAlpha) : null };
    }),
  );
  const raw = await out.raw.data();
  const refined = out.refined ? await out.refined.data() : null;
  out.raw.dispose();
  out.refined?.dispose();
  return { raw, refined };
}

export interface RunOptions {
  outDir: string;
  python: string;
  tol?: number;
  width?: number;
  /** [H, W], multiples of 32; default [64, 64]. */
  size?: [number, number];
  batch?: number;
  cases?: InteropCase[];
  log?: (line: string) => void;
}

/** Runs every case (engine must be started). */
export async function runInterop(o: RunOptions): Promise<CaseResult[]> {
  const tol = o.tol ?? 1e-3;
  const width = o.width ?? 1 / 16;
  const [H, W] = o.size ?? [64, 64];
  const N = o.batch ?? 2;
  const log = o.log ?? ((l: string) => console.log(l));
  mkdirSync(o.outDir, { recursive: true });
  const results: CaseResult[] = [];
  for (const [ci, c] of (o.cases ?? CASES).entries()) {
    const f = (suffix: string) => join(o.outDir, `${c.name}.${suffix}.safetensors`);
    const jsonPath = join(o.outDir, `${c.name}.check.jsonl`);
    for (const stale of [jsonPath, f('torch-state'), f('torch-outputs')]) rmSync(stale, { force: true });
    const cfg: Partial<ModelConfig> = { ...c.config, width, inputSize: Math.max(H, W), seed: 100 + ci };
    log(`\n=== ${c.name} (width ${width}, N=${N}, ${H}x${W}) ===`);

    // engine -> PyTorch
    const model = new MattingModel(cfg);
    const { image, trimap } = makeInputs(N, H, W, 42 + ci);
    log(`[engine] prepared: ${await prepareModel(model, 7 + ci, image, trimap, N, H, W)}`);
    await saveCheckpoint(f('ckpt'), model, null, null);
    await writeSafetensors(f('inputs'), new Map([['image', f32Entry([N, 3, H, W], image)], ['trimap', f32Entry([N, 1, H, W], trimap)]]));
    const ours = await forwardEval(model, image, trimap, N, H, W);
    const outEntries = new Map<string, TensorEntry>([['rawAlpha', f32Entry([N, 1, H, W], ours.raw)]]);
    if (ours.refined) outEntries.set('refinedAlpha', f32Entry([N, 1, H, W], ours.refined));
    await writeSafetensors(f('outputs'), outEntries);
    // One train-mode forward from the saved state: outputs and batch-norm buffers afterwards.
    model.train();
    const tr = await forwardEval(model, image, trimap, N, H, W, true);
    const trEntries = new Map<string, TensorEntry>([['rawAlpha', f32Entry([N, 1, H, W], tr.raw)]]);
    if (tr.refined) trEntries.set('refinedAlpha', f32Entry([N, 1, H, W], tr.refined));
    for (const [name, t] of model.namedBuffers()) trEntries.set(`state.${name}`, f32Entry([...t.shape], await t.data()));
    await writeSafetensors(f('train'), trEntries);
    model.dispose();

    const args = [join(HERE, 'check.py'), f('ckpt'), f('inputs'), f('outputs'), '--tol', String(tol), '--train', f('train'), '--torch-state', f('torch-state'), '--torch-outputs', f('torch-outputs'), '--json', jsonPath];
    log(`$ ${o.python} ${args.join(' ')}`);
    const r = spawnSync(o.python, args, { encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    for (const line of `${r.stdout}${r.stderr}`.trimEnd().split('\n')) log(line);
    let forward: Record<string, unknown> | null = null;
    if (existsSync(jsonPath)) {
      forward = JSON.parse(readFileSync(jsonPath, 'utf8').trim().split('\n').pop()!) as Record<string, unknown>;
    }

    // PyTorch -> engine
    const reverse: Record<string, number> = {};
    let reverseStateExact = false;
    let cliSame = false;
    if (existsSync(f('torch-state')) && existsSync(f('torch-outputs'))) {
      const sd = await readSafetensors(f('torch-state'));
      const values = new Map<string, Float32Array>();
      const shapes = new Map<string, readonly number[]>();
      for (const [name, e] of sd.tensors) {
        values.set(name, toFloat32(e));
        shapes.set(name, e.shape);
      }
      const m2 = new MattingModel({ ...cfg, seed: 999 });
      m2.loadStateDict(values, { strict: true, shapes });
      reverseStateExact = true;
      for (const [name, t] of m2.stateDict()) {
        const got = await t.data();
        const want = values.get(name)!;
        if (got.length !== want.length || got.some((v, i) => !Object.is(v, want[i]))) {
          reverseStateExact = false;
          log(`[engine] ${name}: differs after loadStateDict`);
        }
      }
      const theirs = (await readSafetensors(f('torch-outputs'))).tensors;
      const mine = await forwardEval(m2, image, trimap, N, H, W);
      m2.dispose();
      // The same file through the CLI's loader (loadCheckpoint: format + config from the metadata).
      const m3 = await modelFromCheckpoint(f('torch-state'));
      const viaCli = await forwardEval(m3, image, trimap, N, H, W);
      m3.dispose();
      cliSame = viaCli.raw.every((v, i) => Object.is(v, mine.raw[i])) && (!mine.refined || viaCli.refined!.every((v, i) => Object.is(v, mine.refined![i])));
      log(`[engine] the PyTorch file as a checkpoint (cli/model-io.ts modelFromCheckpoint): ${cliSame ? 'identical outputs' : 'DIFFERENT outputs'}`);
      reverse.rawAlpha = relError(mine.raw, toFloat32(theirs.get('rawAlpha')!));
      if (theirs.has('refinedAlpha')) reverse.refinedAlpha = mine.refined ? relError(mine.refined, toFloat32(theirs.get('refinedAlpha')!)) : Infinity;
      else if (mine.refined) reverse.refinedAlpha = Infinity;
      for (const [k, v] of Object.entries(reverse)) {
        log(`[engine] reverse ${k.padEnd(12)} max rel err engine vs torch(f64) on PyTorch's weights = ${v.toExponential(3)}  ${v <= tol ? 'OK' : 'FAIL'}`);
      }
      log(`[engine] loadStateDict(strict) of PyTorch's ${values.size} tensors: ${reverseStateExact ? 'read back bit-exact' : 'MISMATCH'}`);
    } else log('[engine] reverse: check.py wrote no PyTorch state dict');
    const ok = r.status === 0 && reverseStateExact && cliSame && Object.keys(reverse).length > 0 && Object.values(reverse).every((v) => v <= tol);
    results.push({ name: c.name, forwardExit: r.status, forward, reverse, reverseStateExact, ok });
  }
  return results;
}

function summary(results: CaseResult[]): string {
  const lines = [
    '',
    'max relative error (max |a - b| / max |b|) against PyTorch in float64; in brackets PyTorch float32 against float64',
    'config                       | engine ckpt -> PyTorch: raw, refined       | PyTorch weights -> engine: raw, refined    | ok',
  ];
  type Errs = Record<string, { engine_vs_torch64: number; torch32_vs_torch64: number }>;
  const fmt = (v: unknown) => (typeof v === 'number' ? v.toExponential(2) : '-');
  for (const r of results) {
    const fw = (r.forward?.forward ?? {}) as Errs;
    const rt = (r.forward?.reverse_torch32_vs_torch64 ?? {}) as Record<string, number>;
    const pair = (a: unknown, b: unknown) => `${fmt(a)} [${fmt(b)}]`.padEnd(20);
    lines.push(
      `${r.name.padEnd(28)} | ${pair(fw.rawAlpha?.engine_vs_torch64, fw.rawAlpha?.torch32_vs_torch64)} ${pair(fw.refinedAlpha?.engine_vs_torch64, fw.refinedAlpha?.torch32_vs_torch64)} | ` +
        `${pair(r.reverse.rawAlpha, rt.rawAlpha)} ${pair(r.reverse.refinedAlpha, rt.refinedAlpha)} | ${r.ok ? 'yes' : 'NO'}`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const opt = (k: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const torch = findTorchPython(opt('--python'));
  if (!torch) {
    console.error('torch-interop: no Python that imports torch (set --python or TORCH_PYTHON; see scripts/torch-interop/README.md)');
    return 2;
  }
  const outDir = resolve(opt('--out') ?? '/tmp/torch-interop');
  console.log(`torch-interop: PyTorch ${torch.version} via ${torch.python}; files in ${outDir}`);
  const e = await initEngine();
  console.log(`engine: backend ${e.acquired.backend}, adapter ${e.acquired.info.description || e.acquired.info.device}`);
  try {
    const size = opt('--size')?.split('x').map(Number);
    const results = await runInterop({
      outDir,
      python: torch.python,
      tol: opt('--tol') ? Number(opt('--tol')) : undefined,
      width: opt('--width') ? Number(opt('--width')) : undefined,
      batch: opt('--batch') ? Number(opt('--batch')) : undefined,
      size: size ? [size[0]!, size[1] ?? size[0]!] : undefined,
    });
    console.log(summary(results));
    return results.every((r) => r.ok) ? 0 : 1;
  } finally {
    shutdownEngine();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
