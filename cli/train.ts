/** `matting-engine train`: trains a preset (default `tiny` on the embedded synthetic data). */
import { resolve, join } from 'node:path';
import { existsSync } from 'node:fs';
import { parseArgs, helpText, UsageError } from './args.ts';
import { DEVICE_OPTIONS, IMAGE_OPTIONS, applyImageOptions } from './common-options.ts';
import { PRESETS } from './presets.ts';
import { Reporter, bar, formatDuration, outputMode } from './progress.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { makeConfig, ENCODERS, DECODERS, REFINES, type ModelConfig } from '../matting/graph/config.ts';
import { STAGES, type Stage } from '../matting/train/stages.ts';
import { Trainer, type TrainEvent, type TrainOptions } from '../matting/train/trainer.ts';
import { MAX_WORKERS } from '../matting/data/loader.ts';
import { ResumeConflictError } from '../matting/train/resume.ts';

const SPEC = {
  preset: { type: 'string', default: 'tiny', help: `model and schedule preset: ${Object.keys(PRESETS).join(', ')}` },
  data: { type: 'string', help: 'training folder with fg/, alpha/, bg/ (Composition-1k layout); default: embedded synthetic data' },
  syntheticCount: { type: 'number', help: 'synthetic training scenes per epoch (without --data)' },
  skipBad: { type: 'boolean', help: 'skip unreadable training files with a warning instead of stopping' },
  encoder: { type: 'string', help: `encoder: ${ENCODERS.join(', ')}` },
  decoder: { type: 'string', help: `decoder: ${DECODERS.join(', ')}` },
  refine: { type: 'string', help: `refinement: ${REFINES.join(', ')}` },
  inputSize: { type: 'number', help: 'training crop size (multiple of 32)' },
  width: { type: 'number', help: 'channel width multiplier (1 = the paper)' },
  imageMean: { type: 'string', help: "image normalisation: none, imagenet (subtract the VGG mean) or torchvision (mean/std; use with --pretrained torchvision weights)" },
  inputs: { type: 'string', help: "input scaling: raw (the seed: 0..255 image, 0/128/255 trimap) or normalised (both to about [-1, 1], refinement too)" },
  lossWeights: { type: 'string', help: 'weights of the alpha, composition and refined losses, e.g. 0.5,0.5,1' },
  stage: { type: 'string', default: 'joint', help: `training stage: ${STAGES.join(', ')}` },
  batchSize: { type: 'number', help: 'images per step' },
  cropScales: { type: 'string', help: 'crop sides as multiples of the input size, one drawn per sample, e.g. 1,1.5,2 (the paper: 320/480/640 at 320)' },
  trimapKernel: { type: 'string', help: "range of the trimap's dilation/erosion kernel in input pixels, e.g. 5,25 (band width = edge ramp + kernel - 1; default 5,25 scaled by size/320)" },
  lr: { type: 'number', help: 'Adam learning rate' },
  schedule: { type: 'string', default: 'constant', help: 'learning-rate schedule: constant, cosine, step' },
  warmup: { type: 'number', default: 0, help: 'linear warm-up steps' },
  weightDecay: { type: 'number', default: 0, help: 'Adam L2 weight decay' },
  clipNorm: { type: 'number', help: 'clip the global gradient norm to this value' },
  steps: { type: 'number', help: 'training steps' },
  seed: { type: 'number', default: 0, help: 'seed of initialisation and data order' },
  pretrained: { type: 'string', help: 'ImageNet VGG-16 / ResNet-50 weights (torchvision names, safetensors)' },
  resume: { type: 'string', help: 'continue from a checkpoint written by train (model, optimiser, data position)' },
  out: { type: 'string', help: 'output folder (default runs/<date>-<preset>)' },
  valData: { type: 'string', help: 'validation folder with image/, trimap/, alpha/ (alphamatting.com layout)' },
  valEvery: { type: 'number', default: 0, help: 'validate every N steps (0: never); the best checkpoint is kept as best.safetensors' },
  valLimit: { type: 'number', default: 8, help: 'validation images per run' },
  logEvery: { type: 'number', help: 'read and log the losses every N steps' },
  checkpointEvery: { type: 'number', help: 'write last.safetensors every N steps' },
  workers: { type: 'number', default: 1, help: 'data worker threads (0: in the main thread)' },
  onNan: { type: 'string', default: 'stop', help: 'on a NaN/Inf loss: stop (keep the last good checkpoint) or skip (skip the step, halve the lr; reads the loss back every step)' },
  json: { type: 'boolean', help: 'print JSON lines instead of a progress bar' },
  quiet: { type: 'boolean', help: 'print only the start and the result' },
  ...IMAGE_OPTIONS,
  ...DEVICE_OPTIONS,
} as const;

function positive(name: string, v: number | undefined, integer = true): void {
  if (v === undefined) return;
  if (!(v > 0) || (integer && !Number.isInteger(v))) throw new UsageError(`train: --${name} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
}

export function buildTrainOptions(argv: string[]): { opts: TrainOptions; json: boolean; quiet: boolean; backend?: string; adapter?: string; help: boolean } {
  const o = parseArgs(argv, SPEC, 'train');
  applyImageOptions(o, 'train');
  if (o._.length) throw new UsageError(`train: unexpected argument '${o._[0]}'`);
  const preset = PRESETS[o.preset ?? 'tiny'];
  if (!preset) throw new UsageError(`train: unknown preset '${o.preset}'; presets: ${Object.keys(PRESETS).join(', ')}`);
  for (const k of ['batchSize', 'steps', 'syntheticCount', 'logEvery', 'checkpointEvery', 'inputSize'] as const) positive(k, o[k] as number | undefined);
  positive('lr', o.lr as number | undefined, false);
  positive('val-limit', o.valLimit as number | undefined);
  // Checked here, before the GPU starts (these used to fail after start-up, or not at all).
  const wholeAtLeast0 = (flag: string, v: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!(Number.isInteger(v) && v >= 0 && v <= max)) throw new UsageError(`train: --${flag} must be an integer in [0, ${max === Number.MAX_SAFE_INTEGER ? 'inf' : max}], got ${v}`);
  };
  wholeAtLeast0('warmup', o.warmup as number);
  wholeAtLeast0('seed', o.seed as number, 0xffffffff);
  wholeAtLeast0('val-every', o.valEvery as number);
  wholeAtLeast0('workers', o.workers as number, MAX_WORKERS);
  if (!(Number.isFinite(o.weightDecay) && (o.weightDecay as number) >= 0)) throw new UsageError(`train: --weight-decay must be a non-negative number, got ${o.weightDecay}`);
  positive('width', o.width as number | undefined, false);
  if (o.clipNorm !== undefined) positive('clip-norm', o.clipNorm as number, false);
  if (!STAGES.includes(o.stage as Stage)) throw new UsageError(`train: --stage must be one of ${STAGES.join(', ')}`);
  if (!['constant', 'cosine', 'step'].includes(o.schedule as string)) throw new UsageError('train: --schedule must be constant, cosine or step');
  if (!['stop', 'skip'].includes(o.onNan as string)) throw new UsageError('train: --on-nan must be stop or skip');
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
  const cropScales = numbers('crop-scales', o.cropScales as string | undefined) ?? preset.augment?.cropScales;
  const kernel = numbers('trimap-kernel', o.trimapKernel as string | undefined, 2);
  if (kernel && (!kernel.every(Number.isInteger) || kernel[0]! > kernel[1]!)) throw new UsageError(`train: --trimap-kernel takes two integers lo,hi with lo <= hi, got '${o.trimapKernel}'`);
  const trimapKernel = (kernel as [number, number] | undefined) ?? preset.augment?.trimapKernel;
  const partial: Partial<ModelConfig> = { ...preset.config, seed: o.seed as number };
  if (o.encoder) partial.encoder = o.encoder as ModelConfig['encoder'];
  if (o.decoder) partial.decoder = o.decoder as ModelConfig['decoder'];
  if (o.refine) partial.refine = o.refine as ModelConfig['refine'];
  if (o.inputSize !== undefined) partial.inputSize = o.inputSize as number;
  if (o.width !== undefined) partial.width = o.width as number;
  if (o.imageMean) partial.imageMean = o.imageMean as ModelConfig['imageMean'];
  if (o.inputs) partial.inputs = o.inputs as ModelConfig['inputs'];
  if (lossWeights) partial.lossWeights = lossWeights;
  let config: ModelConfig;
  try {
    config = makeConfig(partial);
  } catch (e) {
    throw new UsageError(`train: ${(e as Error).message}`);
  }
  for (const [flag, path] of [['data', o.data], ['pretrained', o.pretrained], ['resume', o.resume], ['val-data', o.valData]] as const) {
    if (path && !existsSync(path as string)) throw new UsageError(`train: --${flag} ${path}: no such file or folder`);
  }
  const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\..*/, '');
  const logEvery = (o.logEvery as number | undefined) ?? preset.logEvery;
  const opts: TrainOptions = {
    config,
    stage: o.stage as Stage,
    batchSize: (o.batchSize as number | undefined) ?? preset.batchSize,
    lr: (o.lr as number | undefined) ?? preset.lr,
    schedule: o.schedule as TrainOptions['schedule'],
    warmupSteps: o.warmup as number,
    steps: (o.steps as number | undefined) ?? preset.steps,
    seed: o.seed as number,
    outDir: resolve((o.out as string | undefined) ?? join('runs', `${stamp}-${o.preset}`)),
    data: o.data ? { kind: 'folder', dir: resolve(o.data as string), skipBad: !!o.skipBad } : { kind: 'synthetic', count: (o.syntheticCount as number | undefined) ?? preset.syntheticCount },
    workers: o.workers as number,
    augment: { cropScales, trimapKernel },
    logEvery,
    checkpointEvery: (o.checkpointEvery as number | undefined) ?? preset.checkpointEvery,
    valDir: o.valData ? resolve(o.valData as string) : null,
    valEvery: o.valEvery as number,
    valLimit: o.valLimit as number,
    resume: o.resume ? resolve(o.resume as string) : null,
    pretrained: o.pretrained ? resolve(o.pretrained as string) : null,
    clipNorm: (o.clipNorm as number | undefined) ?? null,
    weightDecay: o.weightDecay as number,
    onNonFinite: o.onNan as 'stop' | 'skip',
    // With --resume the checkpoint's config, seed, batch size and stage win over defaults, and a
    // flag given here that contradicts them is refused: the trainer needs to know which were given.
    given: new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]!.replace(/^no-/, '').replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()))),
  };
  return { opts, json: !!o.json, quiet: !!o.quiet, backend: o.backend, adapter: o.adapter, help: !!o.help };
}

const fmt = (v: number | undefined) => (v === undefined ? '-' : v < 0.01 ? v.toExponential(2) : v.toFixed(4));

export async function trainCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    const presets = Object.entries(PRESETS).map(([k, p]) => `  ${k.padEnd(10)} ${p.summary}`).join('\n');
    process.stdout.write(
      helpText('train', 'Trains the Deep Image Matting network. With no options: the tiny preset on the embedded synthetic data set.\n\nPresets:\n' + presets, SPEC),
    );
    return 0;
  }
  const { opts, json, quiet, backend, adapter } = buildTrainOptions(argv);
  const rep = new Reporter(outputMode({ json, quiet }));
  const e = await initEngine({ backend, adapter });
  const a = e.acquired;
  rep.important(
    `matting-engine train: ${opts.config.encoder}/${opts.config.decoder}/${opts.config.refine} at ${opts.config.inputSize}px, width ${opts.config.width}, ` +
      `stage ${opts.stage}, batch ${opts.batchSize}, lr ${opts.lr}, ${opts.steps} steps on ${a.info.description || a.info.device} (${a.backend})`,
  );
  rep.important(`output folder: ${opts.outDir}`);
  if (opts.data.kind === 'synthetic') rep.line(`data: embedded synthetic set (${opts.data.count} scenes per epoch, generated on the fly)`);
  const started = performance.now();
  let firstCheckpoint: number | null = null;
  const trainer = new Trainer(opts, (ev: TrainEvent) => {
    rep.json(ev);
    switch (ev.type) {
      case 'start':
        rep.line(`model: ${(ev.params / 1e6).toFixed(2)}M parameters (${(ev.trainable / 1e6).toFixed(2)}M trainable); starting at step ${ev.step}`);
        rep.status(`step ${ev.step}/${ev.steps} ${bar(ev.step, ev.steps)} compiling kernels and running the first steps...`);
        break;
      case 'log': {
        const terms = Object.entries(ev.losses).map(([k, v]) => `${k} ${fmt(v)}`).join('  ');
        rep.status(`step ${ev.step}/${ev.steps} ${bar(ev.step, ev.steps)} ${terms} | ${ev.imagesPerSec.toFixed(1)} img/s | ETA ${formatDuration(ev.etaSec)}`);
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
        rep.endBar();
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
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    process.off('SIGHUP', onSighup);
    shutdownEngine();
  }
}
