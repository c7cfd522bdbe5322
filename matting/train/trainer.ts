/**
 * The training loop. Per step: upload a batch, forward, losses, backward, optimiser step, all inside
 * one `tidy` so memory stays flat. Nothing is read back inside a step: the loss terms are summed on
 * the GPU and read every `logEvery` steps (the only sync point, where a NaN/Inf loss is detected;
 * a checkpoint with NaN/Inf weights is never written), except in `onNonFinite: 'skip'` mode, which
 * reads one count of non-finite values (loss and updated weights) every step to undo a bad one.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, appendFileSync, renameSync, unlinkSync } from 'node:fs';
import { tunePendingConvs } from '../../engine/autotune.ts';
import { join } from 'node:path';
import { backward } from '../../engine/autograd/backward.ts';
import { engine } from '../../engine/engine.ts';
import { noGrad } from '../../engine/autograd/graph.ts';
import { tensor } from '../../engine/creation.ts';
import { tidy, keep } from '../../engine/scope.ts';
import { addInto, fillInto } from '../../engine/kernels/elementwise.ts';
import { Tensor } from '../../engine/tensor.ts';
import { Adam } from '../../engine/optim/adam.ts';
import { clipGradNorm } from '../../engine/optim/clip.ts';
import { applyLr, constantLr, cosineAnnealing, linearWarmup, stepDecay, type LrSchedule } from '../../engine/optim/schedule.ts';
import { MattingModel } from '../graph/model.ts';
import type { ModelConfig } from '../graph/config.ts';
import { mattingLosses } from '../losses.ts';
import { DataLoader } from '../data/loader.ts';
import type { LoadedBatch } from '../data/loader.ts';
import { openEvalSet, type EvalSet } from '../data/eval-set.ts';
import { DataError } from '../data/errors.ts';
import { evaluateModel, type EvalSummary } from '../evaluate.ts';
import { saveCheckpoint, loadCheckpoint, disposeCheckpoint, remapOptimizerState, NonFiniteTensorError, type TrainingState } from '../checkpoint.ts';
import { NonFiniteCounter } from '../../engine/kernels/finite.ts';
import { applyStage, type Stage } from './stages.ts';
import { resolveResume } from './resume.ts';
import { lossPlotSvg } from './plot.ts';
import { loadPretrained } from '../pretrained.ts';

/** Conv-variant tuning per run, at most (the costliest shapes first; the cache keeps the rest for later runs). */
const TUNE_BUDGET_MS = 15_000;

export interface TrainOptions {
  config: ModelConfig;
  stage: Stage;
  batchSize: number;
  lr: number;
  schedule: 'constant' | 'cosine' | 'step';
  warmupSteps: number;
  steps: number;
  seed: number;
  outDir: string;
  /** Training data: a Composition-1k style folder, or the embedded synthetic set. */
  data: { kind: 'synthetic'; count: number } | { kind: 'folder'; dir: string; skipBad: boolean };
  workers: number;
  /** Crop scales and trimap kernel range of the augmentation (defaults: matting/data/augment.ts). */
  augment?: { cropScales?: number[]; trimapKernel?: [number, number] };
  logEvery: number;
  checkpointEvery: number;
  valDir: string | null;
  valEvery: number;
  valLimit: number;
  resume: string | null;
  pretrained: string | null;
  clipNorm: number | null;
  weightDecay: number;
  onNonFinite: 'stop' | 'skip';
  /**
   * With --resume: the options the user set explicitly (camelCase flag names). The checkpoint's
   * config, seed, batch size and stage replace the others; a given one that contradicts it is
   * refused (resume.ts). Absent: every option counts as given.
   */
  given?: ReadonlySet<string>;
}

export type TrainEvent =
  | { type: 'start'; step: number; steps: number; params: number; trainable: number; outDir: string }
  /** After every step (no readback: only the counter), for progress displays. */
  | { type: 'step'; step: number; steps: number }
  | { type: 'log'; step: number; steps: number; losses: Record<string, number>; lr: number; imagesPerSec: number; etaSec: number }
  | { type: 'checkpoint'; step: number; path: string }
  | { type: 'validation'; step: number; summary: EvalSummary; best: boolean }
  | { type: 'warning'; message: string }
  | { type: 'done'; step: number; reason: 'finished' | 'interrupted' | 'non-finite' };

const TERMS = ['total', 'alpha', 'composition', 'refined'] as const;

export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
}

export class Trainer {
  private stopRequested = false;
  private history: { step: number; losses: Record<string, number> }[] = [];
  private bestSad = Infinity;
  /** --on-nan skip: the learning rate's factor after the halvings so far (kept in checkpoints). */
  private lrScale = 1;
  /** Parameter name of each optimiser index (model order). */
  private paramNames: string[] = [];

  constructor(
    /** The run's options; with --resume, run() replaces them with the checkpoint's where it holds them. */
    public o: TrainOptions,
    private readonly emit: (e: TrainEvent) => void,
  ) {}

  /** Ends the loop after the current step, with a checkpoint (Ctrl-C). */
  requestStop(): void {
    this.stopRequested = true;
  }

  private schedule(): LrSchedule {
    const o = this.o;
    let s: LrSchedule =
      o.schedule === 'cosine' ? cosineAnnealing({ baseLr: o.lr, totalSteps: o.steps, minLr: o.lr * 0.01 })
      : o.schedule === 'step' ? stepDecay({ baseLr: o.lr, stepSize: Math.max(1, Math.floor(o.steps / 3)), gamma: 0.1 })
      : constantLr(o.lr);
    if (o.warmupSteps > 0) s = linearWarmup(s, { warmupSteps: o.warmupSteps });
    return s;
  }

  async run(): Promise<{ step: number; lastCheckpoint: string | null }> {
    const resumed = this.o.resume ? await loadCheckpoint(this.o.resume) : null;
    if (resumed) {
      let r: ReturnType<typeof resolveResume>;
      try {
        r = resolveResume(this.o, resumed);
      } catch (e) {
        disposeCheckpoint(resumed);
        throw e;
      }
      this.o = r.options;
      for (const w of r.warnings) this.emit({ type: 'warning', message: w });
    }
    const o = this.o;
    prepareOutputFolder(o.outDir);
    // Rows logged after the checkpoint we resume from (the run was killed later) would repeat.
    if (resumed?.training) for (const f of ['metrics.jsonl', 'validation.jsonl']) dropRowsAfter(join(o.outDir, f), resumed.training.step);
    const config = resumed?.config ?? o.config;
    const model = new MattingModel(config);
    let lastCheckpoint: string | null = null;
    let loader: DataLoader | null = null;
    const accum = TERMS.map(() => keep(Tensor.empty([1])));
    const guard = o.onNonFinite === 'skip' ? { counter: new NonFiniteCounter(), accumBefore: TERMS.map(() => keep(Tensor.empty([1]))) } : null;
    let optimizer: Adam | null = null;
    try {
      if (resumed) model.loadStateDict(resumed.model);
      else if (o.pretrained) {
        const report = await loadPretrained(model, o.pretrained);
        for (const w of report.warnings) this.emit({ type: 'warning', message: w });
      }
      // Checkpoints written before optimizerParams existed number the state over the trainable
      // parameters of the stage they were written in: recover those names before this stage applies.
      const savedStage = (resumed?.training?.extra.stage as Stage | undefined) ?? 'joint';
      const savedNames = resumed?.training ? (resumed.training.optimizerParams ?? trainableNames(model, savedStage)) : [];
      // The parameters the saved stage trained must all have optimiser state; say so when some lack it.
      if (resumed?.training) {
        const trained = new Set([...resumed.optimizer.keys()].map((k) => savedNames[Number(/^state\.(\d+)\./.exec(k)?.[1])]));
        const missing = trainableNames(model, savedStage).filter((n) => !trained.has(n));
        if (missing.length) {
          this.emit({ type: 'warning', message: `${o.resume}: no optimizer state for ${missing.length} parameter(s) its stage trained (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}); they start with fresh Adam moments` });
        }
      }
      const weights = applyStage(model, o.stage);
      const trainable = model.trainableParameters();
      // Adam over every parameter, frozen ones included: a parameter without a gradient is skipped
      // and keeps its state (as in PyTorch), so the encoder's moments from stage 1 survive the
      // refine stage and are there for the joint stage; checkpoints name each index's parameter.
      const named = model.namedParameters();
      this.paramNames = named.map(([n]) => n);
      optimizer = new Adam(named.map(([, p]) => p), { lr: o.lr, weightDecay: o.weightDecay });
      let step = 0;
      let epoch = 0, batchIndex = 0;
      if (resumed?.training) {
        const t = resumed.training;
        const state = remapOptimizerState(resumed.optimizer, t.optimizerSteps, savedNames, this.paramNames);
        optimizer.loadStateTensors(state.tensors, state.steps);
        step = t.step;
        epoch = t.epoch;
        batchIndex = t.batchIndex;
        this.history = (t.extra.history as { step: number; losses: Record<string, number> }[]) ?? [];
        this.bestSad = (t.extra.bestSad as number) ?? Infinity;
        this.lrScale = typeof t.extra.lrScale === 'number' && t.extra.lrScale > 0 && t.extra.lrScale <= 1 ? t.extra.lrScale : 1;
      }
      if (resumed) disposeCheckpoint(resumed);

      const common = { batchSize: o.batchSize, size: config.inputSize, seed: o.seed, workers: o.workers, augment: o.augment };
      loader = o.data.kind === 'synthetic'
        ? new DataLoader({ kind: 'synthetic', count: o.data.count, seed: o.seed }, common)
        : DataLoader.fromFolder(o.data.dir, { ...common, skipBad: o.data.skipBad, warn: (m) => this.emit({ type: 'warning', message: m }) });
      loader.seek(epoch, batchIndex);
      const evalSet: EvalSet | null = o.valDir ? openEvalSet(o.valDir, { warn: (m) => this.emit({ type: 'warning', message: m }) }) : null;
      const schedule = this.schedule();

      this.emit({ type: 'start', step, steps: o.steps, params: model.parameterCount(), trainable: trainable.reduce((n, p) => n + p.size, 0), outDir: o.outDir });
      for (const a of accum) fillInto(a, 0);
      let stepsInWindow = 0;
      let goodInWindow = 0;
      let windowStart = performance.now();
      let lastLr = o.lr;
      // --on-nan skip halves the learning rate on each skipped step, on top of the schedule.
      let lrScale = this.lrScale;
      let reason: 'finished' | 'interrupted' | 'non-finite' = 'finished';
      let windowFirstStep = step + 1;
      let validating = true;
      let tuned = false;
      while (step < o.steps && !this.stopRequested) {
        const batch = await loader.next();
        // Back-pressure: step k is recorded only once the GPU has finished step k-2, whatever the log
        // interval (unbounded recording ahead crashed lavapipe and made Ctrl-C wait for the backlog).
        await engine().throttle(2);
        // Let the event loop turn: Dawn reclaims finished work from it (a loop that never yields grows until it crashes).
        await new Promise((r) => setImmediate(r));
        lastLr = applyLr(optimizer, schedule, step)[0]! * lrScale;
        if (lrScale !== 1) for (let g = 0; g < optimizer.paramGroups.length; g++) optimizer.setLr(g, optimizer.getLr(g) * lrScale);
        const applied = await this.trainStep(model, optimizer, batch, weights, accum, guard);
        if (applied) goodInWindow++;
        else {
          this.emit({ type: 'warning', message: `step ${step + 1}: non-finite loss or weights, update undone and skipped; learning rate halved` });
          lrScale /= 2;
          this.lrScale = lrScale;
        }
        step++;
        // After the first step every conv shape of the model has been seen: time its kernel variants
        // on this adapter (cached across runs, engine/autotune.ts), outside any step, within a budget.
        // (the first step of this run, resumed or not)
        if (!tuned) {
          tuned = true;
          await tunePendingConvs(TUNE_BUDGET_MS);
        }
        stepsInWindow++;
        this.emit({ type: 'step', step, steps: o.steps });
        ({ epoch, batchIndex } = nextPosition(batch, loader.batchesPerEpoch));
        const atLog = step % o.logEvery === 0 || step === o.steps || this.stopRequested;
        const atCheckpoint = step % o.checkpointEvery === 0 || step === o.steps;
        if (atLog || atCheckpoint) {
          const losses = await this.readLosses(accum, goodInWindow);
          const elapsed = (performance.now() - windowStart) / 1000;
          const ips = (stepsInWindow * o.batchSize) / Math.max(elapsed, 1e-9);
          const first = windowFirstStep;
          const logged = goodInWindow > 0;
          stepsInWindow = 0;
          goodInWindow = 0;
          windowFirstStep = step + 1;
          windowStart = performance.now();
          if (logged && !Number.isFinite(losses.total!)) {
            reason = 'non-finite';
            throw new NonFiniteLossError(
              `the loss became ${losses.total} between steps ${first} and ${step}; training stopped.` +
                (lastCheckpoint ? ` The last good checkpoint is ${lastCheckpoint}.` : ' No checkpoint was written yet.') +
                ' Try a lower --lr, --clip-norm, or --on-nan skip.',
            );
          }
          if (logged) {
            this.history.push({ step, losses });
            appendRow(join(o.outDir, 'metrics.jsonl'), JSON.stringify({ step, lr: lastLr, imagesPerSec: ips, ...losses }) + '\n');
            this.writePlot();
            this.emit({ type: 'log', step, steps: o.steps, losses, lr: lastLr, imagesPerSec: ips, etaSec: ((o.steps - step) * o.batchSize) / Math.max(ips, 1e-9) });
          }
        }
        let summary: EvalSummary | null = null;
        if (evalSet && validating && o.valEvery > 0 && (step % o.valEvery === 0 || step === o.steps)) {
          try {
            summary = await evaluateModel(model, evalSet, { limit: o.valLimit });
          } catch (e) {
            // A bad validation file must not cost the training run (or this step's checkpoint).
            if (!(e instanceof DataError)) throw e;
            validating = false;
            this.emit({ type: 'warning', message: `validation at step ${step} failed: ${e.message}; validation is off for the rest of this run` });
          } finally {
            model.train(true);
            applyStage(model, o.stage);
          }
        }
        if (summary) {
          const best = summary.mean.sad < this.bestSad;
          if (best) this.bestSad = summary.mean.sad;
          appendRow(join(o.outDir, 'validation.jsonl'), JSON.stringify({ step, ...summary.mean }) + '\n');
          if (best) {
            const p = join(o.outDir, 'best.safetensors');
            await this.save(p, model, optimizer, this.state(step, epoch, batchIndex, optimizer), step, lastCheckpoint);
          }
          this.emit({ type: 'validation', step, summary, best });
        }
        // A stop request may arrive during any await above (the loss readback, validation): the
        // checkpoint is decided last, so Ctrl-C, SIGTERM and SIGHUP always save the step reached.
        if (atCheckpoint || this.stopRequested) {
          const p = join(o.outDir, 'last.safetensors');
          await this.save(p, model, optimizer, this.state(step, epoch, batchIndex, optimizer), step, lastCheckpoint);
          lastCheckpoint = p;
          this.emit({ type: 'checkpoint', step, path: p });
        }
      }
      if (this.stopRequested) reason = 'interrupted';
      this.emit({ type: 'done', step, reason });
      return { step, lastCheckpoint };
    } finally {
      await loader?.close();
      optimizer?.dispose();
      for (const a of accum) a.dispose();
      guard?.counter.dispose();
      for (const a of guard?.accumBefore ?? []) a.dispose();
      model.dispose();
    }
  }

  /**
   * One step. Without a guard nothing is read back and the step is always applied (the loss is
   * checked at log points, the weights when a checkpoint is written). With the guard (--on-nan
   * skip) the update is recorded together with a count of non-finite values in the loss and in
   * every updated weight; one 4-byte readback decides, and a bad step is undone on the GPU
   * (weights, Adam state and step counts, loss sums): returns false.
   */
  private async trainStep(
    model: MattingModel,
    optimizer: Adam,
    batch: LoadedBatch,
    weights: ModelConfig['lossWeights'],
    accum: Tensor[],
    guard: { counter: NonFiniteCounter; accumBefore: Tensor[] } | null,
  ): Promise<boolean> {
    const o = this.o;
    const n = batch.n, s = batch.size;
    tidy(() => {
      const inputs = {
        image: tensor(batch.image, [n, 3, s, s]),
        trimap: tensor(batch.trimap, [n, 1, s, s]),
        alpha: tensor(batch.alpha, [n, 1, s, s]),
        fg: tensor(batch.fg, [n, 3, s, s]),
        bg: tensor(batch.bg, [n, 3, s, s]),
      };
      const out = model.forward(inputs.image, inputs.trimap, { refine: weights.refined > 0 });
      const terms = mattingLosses(out, inputs, weights);
      backward(terms.total);
      noGrad(() => {
        if (guard) {
          accum.forEach((a, i) => engine().copy(a.buffer, 0, guard.accumBefore[i]!.buffer, 0, a.byteLength));
          guard.counter.reset().add(terms.total);
          optimizer.saveUndo();
        }
        TERMS.forEach((k, i) => {
          const t = terms[k];
          if (t) addInto(accum[i]!, t.view([1]));
        });
        if (o.clipNorm) clipGradNorm(optimizer.params, o.clipNorm);
        optimizer.step();
        if (guard) guard.counter.addAll(optimizer.params.filter((p) => p.grad));
        optimizer.zeroGrad();
      });
    });
    if (!guard) return true;
    if ((await guard.counter.read()) === 0) return true;
    optimizer.undoStep();
    accum.forEach((a, i) => engine().copy(guard.accumBefore[i]!.buffer, 0, a.buffer, 0, a.byteLength));
    return false;
  }

  /**
   * Writes a checkpoint; a model or optimiser state holding NaN/Inf is never written (saveCheckpoint
   * refuses it before touching the file): training stops naming the last good checkpoint.
   */
  private async save(path: string, model: MattingModel, optimizer: Adam, state: TrainingState, step: number, lastGood: string | null): Promise<void> {
    try {
      await saveCheckpoint(path, model, optimizer, state);
    } catch (e) {
      if (!(e instanceof NonFiniteTensorError)) throw e;
      throw new NonFiniteLossError(
        `the weights became non-finite by step ${step} (${e.tensor}: ${e.count} NaN/Inf values); training stopped and ${path} was not written.` +
          (lastGood ? ` The last good checkpoint is ${lastGood}.` : ' No checkpoint was written yet.') +
          ' Try a lower --lr, --clip-norm, or --on-nan skip.',
      );
    }
  }

  private async readLosses(accum: Tensor[], steps: number): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (let i = 0; i < TERMS.length; i++) {
      const v = await accum[i]!.item();
      fillInto(accum[i]!, 0);
      out[TERMS[i]!] = v / Math.max(1, steps);
    }
    for (const k of ['alpha', 'composition', 'refined']) if (out[k] === 0) delete out[k];
    return out;
  }

  private state(step: number, epoch: number, batchIndex: number, optimizer: Adam): TrainingState {
    return {
      step,
      epoch,
      batchIndex,
      optimizerSteps: Object.fromEntries(optimizer.stepCounts()),
      optimizerParams: this.paramNames,
      learningRates: optimizer.paramGroups.map((_, i) => optimizer.getLr(i)),
      extra: { history: this.history.slice(-2000), bestSad: this.bestSad, stage: this.o.stage, seed: this.o.seed, batchSize: this.o.batchSize, lrScale: this.lrScale },
    };
  }

  private writePlot(): void {
    const colors: Record<string, string> = { total: '#222', alpha: '#1f77b4', composition: '#ff7f0e', refined: '#2ca02c' };
    const names = [...new Set(this.history.flatMap((h) => Object.keys(h.losses)))];
    const svg = lossPlotSvg(
      `matting-engine training loss (${this.o.config.encoder}, ${this.o.config.inputSize}px, stage ${this.o.stage})`,
      names.map((n) => ({ name: n, color: colors[n] ?? '#888', points: this.history.filter((h) => h.losses[n] !== undefined).map((h) => [h.step, h.losses[n]!] as [number, number]) })),
    );
    const p = join(this.o.outDir, 'loss.svg');
    writeFileSync(p + '.tmp', svg);
    renameSync(p + '.tmp', p);
  }
}

/** Appends a line; a failure (ENOSPC, a folder gone read-only) names the file. */
function appendRow(file: string, line: string): void {
  try {
    appendFileSync(file, line);
  } catch (e) {
    throw new Error(`cannot write ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Creates the output folder and proves it writable now, not at the first log or checkpoint. */
function prepareOutputFolder(dir: string): void {
  const probe = join(dir, `.write-test-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(probe, 'x');
    unlinkSync(probe);
  } catch (e) {
    throw new Error(`cannot write to the output folder ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Rewrites a JSON-lines log keeping only rows up to `step` (atomically; absent files are left alone). */
function dropRowsAfter(file: string, step: number): void {
  if (!existsSync(file)) return;
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const keep = lines.filter((l) => {
    try {
      return (JSON.parse(l) as { step?: number }).step! <= step;
    } catch {
      return false;
    }
  });
  if (keep.length === lines.length) return;
  writeFileSync(file + '.tmp', keep.map((l) => l + '\n').join(''));
  renameSync(file + '.tmp', file);
}

/** Names of the parameters `stage` trains, in model order (the optimiser order of older checkpoints). */
function trainableNames(model: MattingModel, stage: Stage): string[] {
  applyStage(model, stage);
  return model.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n);
}

function nextPosition(batch: LoadedBatch, perEpoch: number): { epoch: number; batchIndex: number } {
  return batch.index + 1 >= perEpoch ? { epoch: batch.epoch + 1, batchIndex: 0 } : { epoch: batch.epoch, batchIndex: batch.index + 1 };
}
