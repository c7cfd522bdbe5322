/** `matting-engine train`: trains a preset (default `tiny` on the embedded synthetic data). */
import { resolve, join, dirname } from 'node:path';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { parseArgs, helpText, wantsHelp, UsageError, type OptionSpec } from './args.ts';
import { DEVICE_OPTIONS, IMAGE_OPTIONS, applyImageOptions } from './common-options.ts';
import { MAX_WORKERS } from '../matting/data/loader.ts';
import { ResumeConflictError } from '../matting/train/resume.ts';
import { PRESETS, type Preset } from './presets.ts';
import { Reporter, bar, formatDuration, outputMode } from './progress.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { makeConfig, ENCODERS, DECODERS, REFINES, type ModelConfig } from '../matting/graph/config.ts';
import { STAGES, type Stage } from '../matting/train/stages.ts';
import { Trainer, type TrainEvent, type TrainOptions } from '../matting/train/trainer.ts';
import { readCheckpointInfo, trainedStage, NotACheckpointError, type CheckpointInfo } from '../matting/checkpoint-info.ts';
import { openTrainingSet } from '../matting/data/training-set.ts';
import { DataError } from '../matting/data/errors.ts';

/** Help text for a default that the preset sets: `tiny 4, paper 1, resnet50 2`. */
function fromPreset(get: (p: Preset) => unknown): string {
  return 'preset: ' + Object.entries(PRESETS).map(([k, p]) => `${k} ${String(get(p))}`).join(', ');
}

const SPEC = {
  preset: { type: 'string', default: 'tiny', arg: '<name>', choices: Object.keys(PRESETS), help: 'model and schedule preset (above)' },
  data: { type: 'string', arg: '<dir>', help: 'training folder with fg/, alpha/, bg/ (Composition-1k layout)', defaultText: 'the embedded synthetic data' },
  syntheticCount: { type: 'number', arg: '<n>', integer: true, min: 0, minExclusive: true, help: 'synthetic training scenes per epoch (without --data)', defaultText: fromPreset((p) => p.syntheticCount) },
  skipBad: { type: 'boolean', help: 'skip unreadable training files with a warning instead of stopping' },
  encoder: { type: 'string', arg: '<name>', choices: ENCODERS, help: 'encoder', defaultText: fromPreset((p) => p.config.encoder) },
  decoder: { type: 'string', arg: '<name>', choices: DECODERS, help: 'decoder', defaultText: fromPreset((p) => p.config.decoder) },
  refine: { type: 'string', arg: '<name>', choices: REFINES, help: 'refinement', defaultText: fromPreset((p) => p.config.refine) },
  inputSize: { type: 'number', arg: '<px>', integer: true, min: 32, help: 'training crop size (multiple of 32)', defaultText: fromPreset((p) => p.config.inputSize) },
  width: { type: 'number', arg: '<x>', min: 0, minExclusive: true, help: 'channel width multiplier (1 = the paper)', defaultText: fromPreset((p) => p.config.width) },
  imageMean: { type: 'string', arg: '<name>', choices: ['none', 'imagenet', 'torchvision'], help: 'image normalisation (imagenet: subtract the VGG mean; torchvision: mean/std, for --pretrained torchvision weights)', defaultText: 'none' },
  inputs: { type: 'string', arg: '<name>', choices: ['raw', 'normalised'], help: 'input scaling (raw: the seed, 0..255 image and 0/128/255 trimap; normalised: both to about [-1, 1], refinement too)', defaultText: 'raw' },
  lossWeights: { type: 'string', arg: '<a,c,r>', help: 'weights of the alpha, composition and refined losses, e.g. 0.5,0.5,1', defaultText: '1,1,1' },
  stage: { type: 'string', default: 'joint', arg: '<name>', choices: STAGES, help: 'training stage (with --resume: the checkpoint\'s stage unless given)' },
  batchSize: { type: 'number', arg: '<n>', integer: true, min: 0, minExclusive: true, help: 'images per step', defaultText: fromPreset((p) => p.batchSize) },
  cropScales: { type: 'string', arg: '<s,s,...>', help: 'crop sides as multiples of the input size, one drawn per sample, e.g. 1,1.5,2 (the paper: 320/480/640 at 320)' },
  trimapKernel: { type: 'string', arg: '<lo,hi>', help: "range of the trimap's dilation/erosion kernel in input pixels, e.g. 5,25 (band width = edge ramp + kernel - 1; default 5,25 scaled by size/320)" },
  lr: { type: 'number', arg: '<rate>', min: 0, minExclusive: true, help: 'Adam learning rate', defaultText: fromPreset((p) => p.lr) },
  schedule: { type: 'string', default: 'constant', arg: '<name>', choices: ['constant', 'cosine', 'step'], help: 'learning-rate schedule' },
  warmup: { type: 'number', default: 0, arg: '<steps>', integer: true, min: 0, help: 'linear warm-up steps' },
  weightDecay: { type: 'number', default: 0, arg: '<x>', min: 0, help: 'Adam L2 weight decay' },
  clipNorm: { type: 'number', arg: '<norm>', min: 0, minExclusive: true, help: 'clip the global gradient norm to this value' },
  steps: { type: 'number', arg: '<n>', integer: true, min: 0, minExclusive: true, help: 'the total number of training steps (a resumed run stops at this step too)', defaultText: fromPreset((p) => p.steps) },
  moreSteps: { type: 'number', arg: '<n>', integer: true, min: 0, minExclusive: true, help: "with --resume: train this many steps past the checkpoint's step (instead of --steps)" },
  seed: { type: 'number', default: 0, arg: '<n>', integer: true, help: 'seed of initialisation and data order' },
  pretrained: { type: 'string', arg: '<file>', help: 'ImageNet VGG-16 / ResNet-50 weights (torchvision names, safetensors)' },
  resume: { type: 'string', arg: '<file>', help: "continue from a checkpoint written by train (model, optimiser, data position), in the checkpoint's folder unless --out is given" },
  out: { type: 'string', arg: '<dir>', help: 'run folder; one that already holds a run is refused unless --resume or --force', defaultText: 'runs/<date>-<preset>, or the folder of --resume' },
  force: { type: 'boolean', help: "start a new run in an --out folder that holds one (its logs and checkpoints are replaced)" },
  valData: { type: 'string', arg: '<dir>', help: 'validation folder with image/, trimap/, alpha/ (alphamatting.com layout)' },
  valEvery: { type: 'number', default: 0, arg: '<n>', integer: true, min: 0, help: 'validate every N steps (0: never); the best checkpoint is kept as best.safetensors' },
  valLimit: { type: 'number', default: 8, arg: '<n>', integer: true, min: 0, minExclusive: true, help: 'validation images per run' },
  logEvery: { type: 'number', arg: '<n>', integer: true, min: 0, minExclusive: true, help: 'read and log the losses every N steps', defaultText: fromPreset((p) => p.logEvery) },
  checkpointEvery: { type: 'number', arg: '<n>', integer: true, min: 0, minExclusive: true, help: 'write last.safetensors every N steps', defaultText: fromPreset((p) => p.checkpointEvery) },
  workers: { type: 'number', default: 1, arg: '<n>', integer: true, min: 0, help: 'data worker threads (0: in the main thread)' },
  onNan: { type: 'string', default: 'stop', arg: '<stop|skip>', choices: ['stop', 'skip'], help: 'on a NaN/Inf loss: stop (keep the last good checkpoint) or skip (skip the step, halve the lr; reads the loss back every step)' },
  json: { type: 'boolean', help: 'print JSON lines instead of a progress bar' },
  quiet: { type: 'boolean', help: 'print only the start and the result' },
  ...IMAGE_OPTIONS,
  ...DEVICE_OPTIONS,
} as const satisfies OptionSpec;

/** Files that make a folder a run folder. */
const RUN_FILES = ['last.safetensors', 'best.safetensors', 'metrics.jsonl', 'validation.jsonl', 'loss.svg'];

/** Checks the training folder's layout on the CPU (file headers only), before the GPU starts or a run folder is made. */
function checkTrainingFolder(dir: string, skipBad: boolean): void {
  const has = (d: string) => existsSync(join(dir, d));
  if (!has('fg') && has('image') && has('trimap')) {
    throw new UsageError(`train: --data ${dir} has the evaluation layout (image/, trimap/, alpha/); training needs fg/, alpha/ and bg/ (Composition-1k layout). Give this folder as --val-data instead`);
  }
  try {
    openTrainingSet(dir, { skipBad, warn: () => {} });
  } catch (e) {
    if (e instanceof DataError) throw new UsageError(`train: --data: ${e.message}`);
    throw e;
  }
}

/** Lines of metrics.jsonl past `step` (written after the checkpoint a run resumes from) are dropped, so the log has each step once. */
function trimMetrics(outDir: string, step: number): void {
  for (const f of ['metrics.jsonl', 'validation.jsonl']) {
    const p = join(outDir, f);
    if (!existsSync(p)) continue;
    const lines = readFileSync(p, 'utf8').split('\n').filter((l) => l.trim() !== '');
    const kept = lines.filter((l) => {
      try {
        return (JSON.parse(l) as { step: number }).step <= step;
      } catch {
        return false;
      }
    });
    if (kept.length !== lines.length) writeFileSync(p, kept.map((l) => l + '\n').join(''));
  }
}

export interface TrainCli {
  opts: TrainOptions;
  json: boolean;
  quiet: boolean;
  backend?: string;
  adapter?: string;
  /** The step the run starts at (the checkpoint's with --resume). */
  startStep: number;
}

export async function buildTrainOptions(argv: string[]): Promise<TrainCli> {
  const o = parseArgs(argv, SPEC, 'train');
  applyImageOptions(o, 'train');
  if (!(o.seed >= 0 && o.seed <= 0xffffffff)) throw new UsageError(`train: --seed must be an integer in [0, 4294967295], got ${o.seed}`);
  if (o.workers > MAX_WORKERS) throw new UsageError(`train: --workers must be an integer in [0, ${MAX_WORKERS}], got ${o.workers}`);
  const preset = PRESETS[o.preset ?? 'tiny']!;
  if (o.inputSize !== undefined && o.inputSize % 32 !== 0) throw new UsageError(`train: --input-size must be a multiple of 32, got ${o.inputSize}`);
  if (o.width !== undefined && o.width > 4) throw new UsageError(`train: --width must be at most 4, got ${o.width}`);
  if (o.moreSteps !== undefined && !o.resume) throw new UsageError('train: --more-steps continues a run: give --resume CHECKPOINT too (or use --steps)');
  if (o.moreSteps !== undefined && o.$given.has('steps')) throw new UsageError('train: give --steps (the total) or --more-steps (past the checkpoint), not both');
  let lossWeights: ModelConfig['lossWeights'] | undefined;
  if (o.lossWeights) {
    const w = String(o.lossWeights).split(',').map(Number);
    if (w.length !== 3 || w.some((v) => !(v >= 0))) throw new UsageError('train: --loss-weights takes three non-negative numbers: alpha,composition,refined');
    lossWeights = { alpha: w[0]!, composition: w[1]!, refined: w[2]! };
  }
  const numbers = (flag: string, v: string | undefined, n?: number): number[] | undefined => {
    if (v === undefined) return undefined;
    const xs = v.split(',').map(Number);
    if (xs.some((x) => !(x > 0)) || (n !== undefined && xs.length !== n)) throw new UsageError(`train: --${flag} takes ${n ?? 'one or more'} positive comma-separated numbers, got '${v}'`);
    return xs;
  };
  const cropScales = numbers('crop-scales', o.cropScales) ?? preset.augment?.cropScales;
  const kernel = numbers('trimap-kernel', o.trimapKernel, 2);
  if (kernel && (!kernel.every(Number.isInteger) || kernel[0]! > kernel[1]!)) throw new UsageError(`train: --trimap-kernel takes two integers lo,hi with lo <= hi, got '${o.trimapKernel}'`);
  const trimapKernel = (kernel as [number, number] | undefined) ?? preset.augment?.trimapKernel;
  for (const [flag, path] of [['data', o.data], ['pretrained', o.pretrained], ['resume', o.resume], ['val-data', o.valData]] as const) {
    if (path && !existsSync(path)) throw new UsageError(`train: --${flag} ${path}: no such file or folder`);
  }
  let resumed: CheckpointInfo | null = null;
  if (o.resume) {
    try {
      resumed = await readCheckpointInfo(o.resume);
    } catch (e) {
      if (e instanceof NotACheckpointError) throw new UsageError(`train: --resume ${e.message}`);
      throw e;
    }
  }
  // With --resume the checkpoint's config is the base and the model flags given here are laid over
  // it, so that the trainer can refuse the ones that contradict the checkpoint (matting/train/resume.ts).
  const partial: Partial<ModelConfig> = resumed ? { ...resumed.config } : { ...preset.config, seed: o.seed };
  if (o.encoder) partial.encoder = o.encoder as ModelConfig['encoder'];
  if (o.decoder) partial.decoder = o.decoder as ModelConfig['decoder'];
  if (o.refine) partial.refine = o.refine as ModelConfig['refine'];
  if (o.inputSize !== undefined) partial.inputSize = o.inputSize;
  if (o.width !== undefined) partial.width = o.width;
  if (o.imageMean) partial.imageMean = o.imageMean as ModelConfig['imageMean'];
  if (o.inputs) partial.inputs = o.inputs as ModelConfig['inputs'];
  if (lossWeights) partial.lossWeights = lossWeights;
  let config: ModelConfig;
  try {
    config = makeConfig(partial);
  } catch (e) {
    throw new UsageError(`train: ${(e as Error).message}`);
  }
  const startStep = resumed?.training?.step ?? 0;
  const steps = o.moreSteps !== undefined ? startStep + o.moreSteps : (o.steps ?? preset.steps);
  if (resumed && startStep >= steps) {
    const said = o.$given.has('steps') ? `--steps ${steps}` : `the ${o.preset} preset's ${steps} steps`;
    throw new UsageError(`train: ${o.resume} is at step ${startStep} and ${said} is the total, so there is nothing to train; give --steps N with N > ${startStep}, or --more-steps N`);
  }
  const stage = (resumed && !o.$given.has('stage') ? trainedStage(resumed) : o.stage) as Stage;
  const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\..*/, '');
  const outDir = resolve(o.out ?? (o.resume ? dirname(o.resume) : join('runs', `${stamp}-${o.preset}`)));
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new UsageError(`train: --out ${outDir} is a file; give a folder`);
  const found = RUN_FILES.filter((f) => existsSync(join(outDir, f)));
  const ownFolder = !!o.resume && resolve(dirname(o.resume)) === outDir;
  if (found.length && !o.force && !ownFolder) {
    throw new UsageError(
      `train: ${outDir} already holds a run (${found.join(', ')}); ` +
        (o.resume ? 'pass --force to continue the checkpoint there anyway' : `continue it with --resume ${join(outDir, 'last.safetensors')}, or pass --force to start over in it`),
    );
  }
  if (o.data) checkTrainingFolder(resolve(o.data), !!o.skipBad);
  // Side effects only after every check passed.
  // --force replaces another run's files; a run resumed in its own folder keeps its log up to the checkpoint's step.
  if (found.length && o.force && !ownFolder) for (const f of found) rmSync(join(outDir, f));
  if (resumed && ownFolder) trimMetrics(outDir, startStep);
  const logEvery = o.logEvery ?? preset.logEvery;
  const opts: TrainOptions = {
    config,
    stage,
    batchSize: o.batchSize ?? preset.batchSize,
    lr: o.lr ?? preset.lr,
    schedule: o.schedule as TrainOptions['schedule'],
    warmupSteps: o.warmup,
    steps,
    seed: o.seed,
    outDir,
    data: o.data ? { kind: 'folder', dir: resolve(o.data), skipBad: !!o.skipBad } : { kind: 'synthetic', count: o.syntheticCount ?? preset.syntheticCount },
    workers: o.workers,
    augment: { cropScales, trimapKernel },
    logEvery,
    checkpointEvery: o.checkpointEvery ?? preset.checkpointEvery,
    valDir: o.valData ? resolve(o.valData) : null,
    valEvery: o.valEvery,
    valLimit: o.valLimit,
    resume: o.resume ? resolve(o.resume) : null,
    pretrained: o.pretrained ? resolve(o.pretrained) : null,
    clipNorm: o.clipNorm ?? null,
    weightDecay: o.weightDecay,
    onNonFinite: o.onNan as 'stop' | 'skip',
    // With --resume the checkpoint's config, seed, batch size and stage win over defaults, and a
    // flag given here that contradicts them is refused: the trainer needs to know which were given.
    given: o.$given,
  };
  return { opts, json: !!o.json, quiet: !!o.quiet, backend: o.backend, adapter: o.adapter, startStep };
}

const fmt = (v: number | undefined) => (v === undefined ? '-' : v < 0.01 ? v.toExponential(2) : v.toFixed(4));

export async function trainCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    const presets = Object.entries(PRESETS)
      .map(([k, p]) => `  ${k.padEnd(10)} ${p.summary}\n  ${''.padEnd(10)} batch ${p.batchSize}, lr ${p.lr}, ${p.steps} steps, log every ${p.logEvery}, checkpoint every ${p.checkpointEvery}`)
      .join('\n');
    process.stdout.write(
      helpText(
        'train',
        'Trains the Deep Image Matting network. With no options: the tiny preset on the embedded synthetic data set.\n' +
          "--steps is the total: a run resumed from step 50 with --steps 80 trains 30 more (or say --more-steps 30).\n\nPresets:\n" +
          presets,
        SPEC,
      ),
    );
    return 0;
  }
  const { opts, json, quiet, backend, adapter, startStep } = await buildTrainOptions(argv);
  const rep = new Reporter(outputMode({ json, quiet }));
  const e = await initEngine({ backend, adapter });
  const a = e.acquired;
  const c = opts.config;
  rep.important(
    `matting-engine train: ${c.encoder}/${c.decoder}/${c.refine} at ${c.inputSize}px, width ${c.width}, ` +
      `stage ${opts.stage}, batch ${opts.batchSize}, lr ${opts.lr}, ` +
      (opts.resume ? `steps ${startStep}->${opts.steps} from ${opts.resume}` : `${opts.steps} steps`) +
      ` on ${a.info.description || a.info.device} (${a.backend})`,
  );
  rep.important(`output folder: ${opts.outDir}`);
  if (opts.data.kind === 'synthetic') rep.line(`data: embedded synthetic set (${opts.data.count} scenes per epoch, generated on the fly)`);
  const started = performance.now();
  let firstCheckpoint: number | null = null;
  // Progress: the step counter comes every step, the losses at log points; the timer redraws it with a fresh ETA.
  let current = startStep;
  let rateFrom: { step: number; t: number } | null = null;
  let body = 'compiling kernels and running the first step...';
  const progress = (): { head: string; body: string; tail: string } => {
    const now = performance.now();
    const rate = rateFrom && current > rateFrom.step ? (current - rateFrom.step) / ((now - rateFrom.t) / 1000) : 0;
    const tail = rate > 0 ? `ETA ${formatDuration((opts.steps - current) / rate)}` : `${formatDuration((now - started) / 1000)} elapsed`;
    return { head: `step ${current}/${opts.steps} ${bar(current, opts.steps)}`, body, tail };
  };
  const trainer = new Trainer(opts, (ev: TrainEvent) => {
    if (ev.type !== 'step') rep.json(ev);
    switch (ev.type) {
      case 'start':
        rep.line(`model: ${(ev.params / 1e6).toFixed(2)}M parameters (${(ev.trainable / 1e6).toFixed(2)}M trainable); starting at step ${ev.step}`);
        current = ev.step;
        rep.tick(progress, 500);
        if (rep.mode === 'bar') rep.status(progress());
        break;
      case 'step':
        current = ev.step;
        // The first step includes compiling the kernels: the rate is measured from its end.
        rateFrom ??= { step: ev.step, t: performance.now() };
        if (body.startsWith('compiling')) body = '';
        break;
      case 'log': {
        const terms = Object.entries(ev.losses).map(([k, v]) => `${k} ${fmt(v)}`).join('  ');
        body = `${terms} | ${ev.imagesPerSec.toFixed(1)} img/s`;
        rep.status(progress());
        break;
      }
      case 'checkpoint':
        firstCheckpoint ??= (performance.now() - started) / 1000;
        if (rep.mode === 'lines') rep.line(`checkpoint: ${ev.path} (step ${ev.step})`);
        break;
      case 'validation':
        rep.line(`validation at step ${ev.step}: SAD ${ev.summary.mean.sad.toFixed(2)}  MSE ${ev.summary.mean.mse.toFixed(4)}  Grad ${ev.summary.mean.grad.toFixed(2)}  Conn ${ev.summary.mean.conn.toFixed(2)}${ev.best ? '  (best so far)' : ''}`);
        break;
      case 'warning':
        rep.warn(ev.message);
        break;
      case 'done':
        rep.finish();
        break;
    }
  });
  let interrupts = 0;
  let lastInterrupt = 0;
  const onSigint = () => {
    // The terminal and the launcher may both deliver one Ctrl-C: count presses 1 s apart.
    const now = Date.now();
    if (now - lastInterrupt < 1000) return;
    lastInterrupt = now;
    if (++interrupts === 1) {
      rep.warn('interrupted: finishing this step and writing a checkpoint (Ctrl-C again to quit now)');
      trainer.requestStop();
    } else process.exit(130);
  };
  // A hang-up (terminal closed, ssh dropped) stops like Ctrl-C; the terminal is gone, so output
  // errors (EIO, EPIPE) must not end the process before its checkpoint is written.
  const onSighup = () => {
    process.stdout.on('error', () => {});
    process.stderr.on('error', () => {});
    onSigint();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  process.on('SIGHUP', onSighup);
  try {
    const r = await trainer.run().catch((e: unknown) => {
      throw e instanceof ResumeConflictError ? new UsageError(`train: ${e.message}`) : e;
    });
    const secs = (performance.now() - started) / 1000;
    rep.important(
      `${interrupts ? 'stopped' : 'done'} at step ${r.step} in ${formatDuration(secs)}` +
        (firstCheckpoint !== null ? ` (first checkpoint after ${formatDuration(firstCheckpoint)})` : '') +
        `; checkpoint ${r.lastCheckpoint ?? '(none)'}, loss plot ${join(opts.outDir, 'loss.svg')}, log ${join(opts.outDir, 'metrics.jsonl')}`,
    );
    return interrupts ? 130 : 0;
  } finally {
    rep.finish();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    process.off('SIGHUP', onSighup);
    shutdownEngine();
  }
}
