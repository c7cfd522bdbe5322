/**
 * The training loop. Per step: upload a batch, forward, losses, backward, optimiser step, all inside
 * one `tidy` so memory stays flat. Nothing is read back inside a step: the loss terms are summed on
 * the GPU and read every `logEvery` steps (the only sync point, where NaN/Inf is detected), except in
 * `onNonFinite: 'skip'` mode, which must look at every step's loss to skip it.
 */
import { mkdirSync, writeFileSync, appendFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { backward } from '../../engine/autograd/backward.ts';
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
import { evaluateModel, type EvalSummary } from '../evaluate.ts';
import { saveCheckpoint, loadCheckpoint, disposeCheckpoint, type TrainingState } from '../checkpoint.ts';
import { applyStage, type Stage } from './stages.ts';
import { lossPlotSvg } from './plot.ts';
import { loadPretrained } from '../pretrained.ts';

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

  constructor(
    readonly o: TrainOptions,
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
    const o = this.o;
    mkdirSync(o.outDir, { recursive: true });
    const resumed = o.resume ? await loadCheckpoint(o.resume) : null;
    const config = resumed?.config ?? o.config;
    const model = new MattingModel(config);
    let lastCheckpoint: string | null = null;
    let loader: DataLoader | null = null;
    const accum = TERMS.map(() => keep(Tensor.empty([1])));
    let optimizer: Adam | null = null;
    try {
      if (resumed) model.loadStateDict(resumed.model);
      else if (o.pretrained) {
        const report = await loadPretrained(model, o.pretrained);
        for (const w of report.warnings) this.emit({ type: 'warning', message: w });
      }
      const weights = applyStage(model, o.stage);
      const trainable = model.trainableParameters();
      optimizer = new Adam(trainable, { lr: o.lr, weightDecay: o.weightDecay });
      let step = 0;
      let epoch = 0, batchIndex = 0;
      if (resumed?.training) {
        const t = resumed.training;
        optimizer.loadStateTensors(resumed.optimizer, t.optimizerSteps);
        step = t.step;
        epoch = t.epoch;
        batchIndex = t.batchIndex;
        this.history = (t.extra.history as { step: number; losses: Record<string, number> }[]) ?? [];
        this.bestSad = (t.extra.bestSad as number) ?? Infinity;
      }
      if (resumed) disposeCheckpoint(resumed);

      const common = { batchSize: o.batchSize, size: config.inputSize, seed: o.seed, workers: o.workers, augment: o.augment };
      loader = o.data.kind === 'synthetic'
        ? new DataLoader({ kind: 'synthetic', count: o.data.count, seed: o.seed }, common)
        : DataLoader.fromFolder(o.data.dir, { ...common, skipBad: o.data.skipBad, warn: (m) => this.emit({ type: 'warning', message: m }) });
      loader.seek(epoch, batchIndex);
      const evalSet: EvalSet | null = o.valDir ? openEvalSet(o.valDir) : null;
      const schedule = this.schedule();

      this.emit({ type: 'start', step, steps: o.steps, params: model.parameterCount(), trainable: trainable.reduce((n, p) => n + p.size, 0), outDir: o.outDir });
      for (const a of accum) fillInto(a, 0);
      let stepsInWindow = 0;
      let windowStart = performance.now();
      let lastLr = o.lr;
      let reason: 'finished' | 'interrupted' | 'non-finite' = 'finished';
      while (step < o.steps && !this.stopRequested) {
        const batch = await loader.next();
        // Let the event loop turn: Dawn reclaims finished work from it (a loop that never yields grows until it crashes).
        await new Promise((r) => setImmediate(r));
        lastLr = applyLr(optimizer, schedule, step)[0]!;
        const skip = this.trainStep(model, optimizer, batch, weights, accum);
        if (o.onNonFinite === 'skip' && !(await skip())) {
          this.emit({ type: 'warning', message: `step ${step + 1}: non-finite loss, update skipped; learning rate halved` });
          for (let g = 0; g < optimizer.paramGroups.length; g++) optimizer.setLr(g, optimizer.getLr(g) / 2);
        }
        step++;
        stepsInWindow++;
        this.emit({ type: 'step', step, steps: o.steps });
        ({ epoch, batchIndex } = nextPosition(batch, loader.batchesPerEpoch));
        const atLog = step % o.logEvery === 0 || step === o.steps || this.stopRequested;
        const atCheckpoint = step % o.checkpointEvery === 0 || step === o.steps || this.stopRequested;
        if (atLog || atCheckpoint) {
          const losses = await this.readLosses(accum, stepsInWindow);
          const elapsed = (performance.now() - windowStart) / 1000;
          const ips = (stepsInWindow * o.batchSize) / Math.max(elapsed, 1e-9);
          stepsInWindow = 0;
          windowStart = performance.now();
          if (!Number.isFinite(losses.total!)) {
            reason = 'non-finite';
            throw new NonFiniteLossError(
              `the loss became ${losses.total} between steps ${step - o.logEvery + 1} and ${step}; training stopped.` +
                (lastCheckpoint ? ` The last good checkpoint is ${lastCheckpoint}.` : ' No checkpoint was written yet.') +
                ' Try a lower --lr, --clip-norm, or --on-nan skip.',
            );
          }
          this.history.push({ step, losses });
          appendFileSync(join(o.outDir, 'metrics.jsonl'), JSON.stringify({ step, lr: lastLr, imagesPerSec: ips, ...losses }) + '\n');
          this.writePlot();
          this.emit({ type: 'log', step, steps: o.steps, losses, lr: lastLr, imagesPerSec: ips, etaSec: ((o.steps - step) * o.batchSize) / Math.max(ips, 1e-9) });
        }
        if (evalSet && o.valEvery > 0 && (step % o.valEvery === 0 || step === o.steps)) {
          const summary = await evaluateModel(model, evalSet, { limit: o.valLimit });
          model.train(true);
          applyStage(model, o.stage);
          const best = summary.mean.sad < this.bestSad;
          if (best) this.bestSad = summary.mean.sad;
          appendFileSync(join(o.outDir, 'validation.jsonl'), JSON.stringify({ step, ...summary.mean }) + '\n');
          if (best) {
            const p = join(o.outDir, 'best.safetensors');
            await saveCheckpoint(p, model, optimizer, this.state(step, epoch, batchIndex, optimizer));
          }
          this.emit({ type: 'validation', step, summary, best });
        }
        if (atCheckpoint) {
          const p = join(o.outDir, 'last.safetensors');
          await saveCheckpoint(p, model, optimizer, this.state(step, epoch, batchIndex, optimizer));
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
      model.dispose();
    }
  }

  /** One step; returns a function that reads whether its loss was finite (only used in skip mode). */
  private trainStep(
    model: MattingModel,
    optimizer: Adam,
    batch: LoadedBatch,
    weights: ModelConfig['lossWeights'],
    accum: Tensor[],
  ): () => Promise<boolean> {
    const o = this.o;
    const n = batch.n, s = batch.size;
    let totalCopy: Tensor | null = null;
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
        TERMS.forEach((k, i) => {
          const t = terms[k];
          if (t) addInto(accum[i]!, t.view([1]));
        });
        if (o.onNonFinite === 'skip') totalCopy = keep(terms.total.detach());
        if (o.onNonFinite !== 'skip') {
          if (o.clipNorm) clipGradNorm(optimizer.params, o.clipNorm);
          optimizer.step();
          optimizer.zeroGrad();
        }
      });
    });
    if (o.onNonFinite !== 'skip') return async () => true;
    return async () => {
      const v = await totalCopy!.item();
      totalCopy!.dispose();
      const ok = Number.isFinite(v);
      noGrad(() =>
        tidy(() => {
          if (ok) {
            if (o.clipNorm) clipGradNorm(optimizer.params, o.clipNorm);
            optimizer.step();
          }
          optimizer.zeroGrad();
        }),
      );
      return ok;
    };
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
      learningRates: optimizer.paramGroups.map((_, i) => optimizer.getLr(i)),
      extra: { history: this.history.slice(-2000), bestSad: this.bestSad, stage: this.o.stage, seed: this.o.seed },
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

function nextPosition(batch: LoadedBatch, perEpoch: number): { epoch: number; batchIndex: number } {
  return batch.index + 1 >= perEpoch ? { epoch: batch.epoch + 1, batchIndex: 0 } : { epoch: batch.epoch, batchIndex: batch.index + 1 };
}
