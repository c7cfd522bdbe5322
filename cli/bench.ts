/**
 * `matting-engine bench` (`npm run bench`): kernel microbenchmarks, training-step benchmarks and the
 * data pipeline, side by side with tfjs-backend-webgpu on the same adapter in the same process.
 * Prints a markdown table on stdout (progress on stderr) and writes
 * bench-<adapter-slug>-<YYYY-MM-DD>.json in --out (default: the current folder; npm run bench: bench/results/). See bench/*.ts for what each row measures.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { parseArgs, helpText, wantsHelp, UsageError } from './args.ts';
import { DEVICE_OPTIONS } from './common-options.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { startTfjsPeer, type TfjsPeer } from '../bench/tfjs-peer.ts';
import { installTorch, TorchPeer, torchStatus } from '../bench/torch-peer.ts';
import type { MeasureContext, BenchRow } from '../bench/rows.ts';
import { runKernelSuite } from '../bench/kernels.ts';
import { runStepSuite } from '../bench/step.ts';
import { runDataSuite } from '../bench/data.ts';
import { adapterSlug, markdown, writeJson, type BenchHeader } from '../bench/report.ts';

const SPEC = {
  ...DEVICE_OPTIONS,
  suite: { type: 'string', default: 'all', help: 'kernels, step, data or all (a comma list works too)' },
  quick: { type: 'boolean', help: 'scaled-down shapes (default on a software adapter: llvmpipe, lavapipe, SwiftShader)' },
  full: { type: 'boolean', help: 'the real 320x320 shapes at batch 1 and 4 (the default on a hardware adapter)' },
  batch: { type: 'string', help: 'batch sizes, comma separated (default: kernels 1 with --quick, 1,4 with --full; step 4 with --quick)' },
  filter: { type: 'string', help: 'only kernel rows whose layer contains one of these words, comma separated (e.g. conv3_3,fc6)' },
  warmup: { type: 'number', default: 0, help: 'extra untimed runs per engine and row (the agreement run, which compiles the pipelines, always comes first)' },
  minReps: { type: 'number', default: 3, help: 'timed repetitions per engine and row, at least' },
  maxReps: { type: 'number', default: 15, help: 'timed repetitions per engine and row, at most' },
  rowSeconds: { type: 'number', help: 'stop repeating a row after this much timed work (default 2.5 quick, 4 full)' },
  tolerance: { type: 'number', default: 1e-3, help: 'agreement needed before a row is timed: max|ours - tfjs| / max|tfjs|' },
  tfjs: { type: 'boolean', default: true, help: 'run the tfjs-backend-webgpu peer (--no-tfjs: ours only)' },
  torch: { type: 'boolean', default: true, help: 'add the PyTorch CPU column to conv rows where MATTING_BENCH_PYTHON (default python3) imports torch' },
  installTorch: { type: 'boolean', default: false, help: "first install Debian's python3-torch with apt-get if torch does not import (root; for the PyTorch column)" },
  out: { type: 'string', arg: '<dir|file.json>', default: '.', help: 'folder for the JSON results (bench-<adapter-slug>-<date>.json), or a .json file; outside the package by default' },
} as const;

const SUITES = ['kernels', 'step', 'data'] as const;
type SuiteName = (typeof SUITES)[number];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function engineVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The results file: `--out` as a .json file, or `bench-<slug>-<day>.json` in the `--out` folder (default: the current folder, never the package's own). */
export function benchOutFile(out: string, slug: string, day: string): string {
  return /\.json$/i.test(out) ? resolve(out) : resolve(out, `bench-${slug}-${day}.json`);
}

export function isSoftwareAdapter(info: { vendor: string; architecture: string; device: string; description: string }): boolean {
  return /software|llvmpipe|lavapipe|swiftshader|warp|cpu/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

export async function benchCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(
      helpText(
        'bench',
        'Kernel, training-step and data-pipeline benchmarks, side by side with tfjs-backend-webgpu on the same adapter.\n' +
          'Each row is checked for numerical agreement with tfjs before it is timed. Markdown on stdout, JSON in the --out folder.',
        SPEC,
        '[--suite kernels|step|data|all] [--quick|--full]',
      ),
    );
    return 0;
  }
  const o = parseArgs(argv, SPEC, 'bench');
  if (o.quick && o.full) throw new UsageError('bench: --quick and --full exclude each other');
  const suites = new Set<SuiteName>();
  for (const s of String(o.suite).split(',').map((v) => v.trim().toLowerCase())) {
    if (s === 'all') SUITES.forEach((v) => suites.add(v));
    else if ((SUITES as readonly string[]).includes(s)) suites.add(s as SuiteName);
    else throw new UsageError(`bench: unknown suite '${s}' (kernels, step, data, all)`);
  }
  const positiveInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 0) throw new UsageError(`bench: --${name} must be a non-negative integer`);
    return v;
  };
  positiveInt(o.warmup, 'warmup');
  positiveInt(o.minReps, 'min-reps');
  positiveInt(o.maxReps, 'max-reps');
  if (o.minReps < 1 || o.maxReps < o.minReps) throw new UsageError('bench: need 1 <= --min-reps <= --max-reps');

  const e = await initEngine({ backend: o.backend, adapter: o.adapter });
  const log = (line: string) => process.stderr.write(line + '\n');
  try {
    const a = e.acquired;
    const software = isSoftwareAdapter(a.info);
    const quick = o.full ? false : o.quick || software;
    const batches = o.batch
      ? o.batch.split(',').map((s) => {
          const n = Number(s);
          if (!Number.isInteger(n) || n < 1) throw new UsageError(`bench: bad batch size '${s}'`);
          return n;
        })
      : quick ? [1] : [1, 4];
    const filter = o.filter ? o.filter.split(',').map((s) => s.trim()).filter(Boolean) : [];
    log(`bench: ${a.info.description || a.info.device} (${a.backend}), ${quick ? 'quick' : 'full'} shapes, batches ${batches.join(',')}, suites ${[...suites].join(',')}`);

    let peer: TfjsPeer | null = null;
    let peerNote = '';
    if (o.tfjs && (suites.has('kernels') || suites.has('step'))) {
      try {
        peer = await startTfjsPeer(e);
        if (peer.gradientsError) {
          peerNote = peer.gradientsError;
          log(`bench: ${peer.gradientsError}; tfjs rows that need gradients will say so`);
        }
      } catch (err) {
        peerNote = `tfjs-backend-webgpu did not start: ${(err as Error).message}`;
        log(`bench: ${peerNote}; timing ours only`);
      }
    }
    if (o.installTorch && o.torch && suites.has('kernels')) installTorch(log);
    let torch = o.torch && suites.has('kernels') ? torchStatus() : { available: false, text: 'n/a (not run)' };
    let torchPeer: TorchPeer | null = null;
    if (torch.available) {
      try {
        torchPeer = await TorchPeer.start(join(root, 'bench', 'torch_peer.py'));
      } catch (err) {
        torch = { available: false, text: `n/a (the torch peer did not start: ${(err as Error).message})` };
      }
    }
    const ctx: MeasureContext = {
      peer,
      torch: torchPeer,
      timing: { warmup: o.warmup, minReps: o.minReps, maxReps: o.maxReps, budgetMs: 1000 * (o.rowSeconds ?? (quick ? 2.5 : 4)) },
      tolerance: o.tolerance,
      log,
    };
    const date = new Date();
    const header: BenchHeader = {
      date: date.toISOString(),
      argv,
      mode: quick ? 'quick' : 'full',
      adapter: a.info,
      backend: a.backend,
      featureLevel: a.featureLevel,
      timestampQuery: a.features.timestampQuery,
      engineVersion: engineVersion(),
      tfjs: peer ? peer.version : null,
      tfjsAdapter: peer ? peer.adapterInfo : null,
      torch: torch.text,
      node: process.version,
      cpus: cpus().length,
      timing:
        `wall time per repetition from the first recorded command to queue.onSubmittedWorkDone() (same method for both engines; ` +
        `includes each engine's CPU-side encoding); first an untimed agreement run per engine (compiles the pipelines)` +
        `${o.warmup ? ` and ${o.warmup} warm-up run(s)` : ''}, then ${o.minReps}-${o.maxReps} timed repetitions (more while under ` +
        `${ctx.timing.budgetMs / 1000} s of timed work per row), the engines interleaved` +
        (peerNote ? `; ${peerNote}` : ''),
      agreementTolerance: o.tolerance,
    };
    const rows: BenchRow[] = [];
    const t0 = performance.now();
    if (suites.has('kernels')) {
      log('bench: kernels');
      try {
        rows.push(...(await runKernelSuite(ctx, { quick, batches, filter })));
      } finally {
        torchPeer?.close();
        ctx.torch = null;
      }
    }
    if (suites.has('step')) {
      log('bench: training step');
      // The tiny preset trains at batch 4; the paper preset at 1 (and 4 is measured too).
      rows.push(...(await runStepSuite(ctx, { quick, batches: o.batch ? batches : quick ? [4] : [1, 4] })));
    }
    if (suites.has('data')) {
      log('bench: data pipeline');
      rows.push(...(await runDataSuite({ quick, root, log })));
    }
    log(`bench: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const day = date.toISOString().slice(0, 10);
    const out = benchOutFile(o.out ?? ".", adapterSlug(a.info.description || a.info.device, a.backend), day);
    writeJson(out, header, rows);
    process.stdout.write(markdown(header, rows));
    log(`bench: results written to ${out}`);
    return 0;
  } finally {
    shutdownEngine();
  }
}
