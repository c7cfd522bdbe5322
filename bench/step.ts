/**
 * One training step (forward, the three Charbonnier losses, backward, Adam) of the whole Deep Image
 * Matting model: dual VGG-16 encoder, transposed-conv decoder, refinement. Ours is the engine's
 * MattingModel with mattingLosses, backward and Adam, as the trainer runs it. The tfjs peer is the same
 * network written with tfjs ops (tfjs-model.ts), its variables copied from our parameters (layouts
 * converted), trained with `optimizer.minimize` (tf.train.adam). The inputs are one synthetic batch,
 * uploaded once outside the timed step on both sides.
 *
 * Agreement: the total loss and every parameter's gradient of one step from the same weights.
 * Quick: the `tiny` preset (64x64, 1/16 width); full: the paper's 320x320 full-width model.
 */
import { tunePendingConvs } from '../engine/autotune.ts';
import { tensor } from '../engine/creation.ts';
import { keep, tidy } from '../engine/scope.ts';
import { engine } from '../engine/engine.ts';
import { gpuWait } from '../engine/gpu-wait.ts';
import { backward } from '../engine/autograd/backward.ts';
import { noGrad } from '../engine/autograd/graph.ts';
import { Adam } from '../engine/optim/adam.ts';
import { MattingModel } from '../matting/graph/model.ts';
import { makeConfig, type ModelConfig } from '../matting/graph/config.ts';
import { mattingLosses } from '../matting/losses.ts';
import { DataLoader } from '../matting/data/loader.ts';
import type * as TF from '@tensorflow/tfjs-core';
import { agreement, timeInterleaved, type Runner } from './harness.ts';
import { appendNote, emptyRow, progressLine, type BenchRow, type MeasureContext } from './rows.ts';
import { nchwToNhwc } from './tfjs-peer.ts';
import { TfjsMattingModel, modelConvFlops } from './tfjs-model.ts';

export interface StepSuiteOptions {
  quick: boolean;
  batches: number[];
}

export function stepConfig(quick: boolean): ModelConfig {
  return quick
    ? makeConfig({ encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', inputSize: 64, width: 1 / 16 })
    : makeConfig({ encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', inputSize: 320, width: 1 });
}

const LR = 1e-3;

function short(e: unknown): string {
  const m = ((e as Error)?.message ?? String(e)).split('\n')[0]!;
  return m.length > 140 ? m.slice(0, 137) + '...' : m;
}

export async function runStepRow(ctx: MeasureContext, config: ModelConfig, N: number, label: string): Promise<BenchRow> {
  const e = engine();
  const S = config.inputSize;
  const loader = new DataLoader({ kind: 'synthetic', count: Math.max(8, N), seed: 1 }, { batchSize: N, size: S, seed: 1, workers: 0 });
  const batch = loader.batchSync(0, 0);
  await loader.close();
  const shapes = { image: [N, 3, S, S], trimap: [N, 1, S, S], alpha: [N, 1, S, S], fg: [N, 3, S, S], bg: [N, 3, S, S] } as const;
  const row = emptyRow({
    suite: 'step',
    layer: `train step (${label})`,
    pass: 'fwd+bwd+Adam',
    shape: `N${N} ${S}x${S}, width ${config.width === 1 ? '1' : `1/${Math.round(1 / config.width)}`}, ${config.encoder}/${config.decoder}/refine ${config.refine}`,
    batch: N,
    flops: 3 * modelConvFlops(config, N),
  });
  row.note = 'FLOPs: 3x the forward conv FLOPs';
  const model = new MattingModel(config);
  const params = model.namedParameters();
  const inputs = {
    image: keep(tensor(batch.image, shapes.image)),
    trimap: keep(tensor(batch.trimap, shapes.trimap)),
    alpha: keep(tensor(batch.alpha, shapes.alpha)),
    fg: keep(tensor(batch.fg, shapes.fg)),
    bg: keep(tensor(batch.bg, shapes.bg)),
  };
  const optimizer = new Adam(model.trainableParameters(), { lr: LR });
  let tfModel: TfjsMattingModel | null = null;
  const tfInputs: TF.Tensor4D[] = [];
  try {
    // First one untimed step, then the conv variants of every shape it ran are tuned on this adapter
    // (engine/autotune.ts; cached), so that the agreement run checks the kernels that are timed.
    tidy(() => backward(mattingLosses(model.forward(inputs.image, inputs.trimap), inputs, config.lossWeights).total));
    optimizer.zeroGrad();
    await e.sync();
    const tunedShapes = await tunePendingConvs();
    if (tunedShapes > 0) row.note = appendNote(row.note, `conv variants tuned for ${tunedShapes} shapes first`);
    // Ours: one forward + backward from the initial weights, for the agreement check.
    const oursLoss = tidy(() => {
      const terms = mattingLosses(model.forward(inputs.image, inputs.trimap), inputs, config.lossWeights);
      backward(terms.total);
      return terms.total;
    });
    const oursLossValue = await oursLoss.data();
    oursLoss.dispose();
    const oursGrads: Float32Array[] = [];
    for (const [, p] of params) oursGrads.push(await p.grad!.data());
    optimizer.zeroGrad();
    await e.sync();

    let tfRunner: Runner | null = null;
    if (ctx.peer) {
      const { tf } = ctx.peer;
      try {
        tfModel = await TfjsMattingModel.fromParameters(tf, config, params);
        const nhwc = (d: Float32Array, s: readonly number[]) => tf.tensor4d(nchwToNhwc(d, s), [s[0]!, s[2]!, s[3]!, s[1]!]);
        const [image, trimap, alpha, fg, bg] = (['image', 'trimap', 'alpha', 'fg', 'bg'] as const).map((k) => nhwc(batch[k], shapes[k]));
        tfInputs.push(image!, trimap!, alpha!, fg!, bg!);
        const tfBatch = { image: image!, trimap: trimap!, alpha: alpha!, fg: fg!, bg: bg! };
        const m = tfModel;
        const lossFn = () => m.loss(tfBatch, config.lossWeights);
        const { value, grads } = tf.variableGrads(lossFn, m.variables);
        await ctx.peer.settle();
        ctx.peer.throwPending();
        const tfLoss = (await value.data()) as Float32Array;
        value.dispose();
        const pairs: [ArrayLike<number>, ArrayLike<number>][] = [[oursLossValue, tfLoss]];
        for (let i = 0; i < params.length; i++) {
          const [name] = params[i]!;
          const g = grads[m.variableName(name)]!;
          pairs.push([oursGrads[i]!, m.toOursLayout(name, (await g.data()) as Float32Array)]);
        }
        for (const g of Object.values(grads)) g.dispose();
        ctx.peer.throwPending();
        row.agreement = agreement(pairs, ctx.tolerance, `loss and ${params.length} parameter gradients`);
        if (!row.agreement.ok) row.note = appendNote(row.note, `MISMATCH with tfjs (rel err ${row.agreement.relErr.toExponential(1)}): not timed`);
        const opt = tf.train.adam(LR, 0.9, 0.999, 1e-8);
        const peer = ctx.peer;
        tfRunner = {
          run: () => {
            tf.tidy(() => {
              opt.minimize(lossFn, false, m.variables);
            });
          },
          settle: () => peer.settle(),
        };
      } catch (err) {
        row.note = appendNote(row.note, `tfjs failed: ${short(err)}`);
        tfRunner = null;
      }
    } else row.note = appendNote(row.note, 'tfjs not run');
    if (row.agreement && !row.agreement.ok) return row;

    const oursRunner: Runner = {
      run: () =>
        tidy(() => {
          const terms = mattingLosses(model.forward(inputs.image, inputs.trimap), inputs, config.lossWeights);
          backward(terms.total);
          noGrad(() => {
            optimizer.step();
            optimizer.zeroGrad();
          });
        }),
      settle: async () => {
        e.flush();
        await gpuWait(e.device.queue.onSubmittedWorkDone());
      },
    };
    // The headline row: at least 5 repetitions.
    const [tOurs, tTfjs] = await timeInterleaved([oursRunner, tfRunner], { ...ctx.timing, minReps: Math.max(5, ctx.timing.minReps), maxReps: Math.max(5, ctx.timing.maxReps) });
    await e.sync();
    ctx.peer?.throwPending();
    row.ours = tOurs ?? null;
    row.tfjs = tTfjs ?? null;
    row.ratio = row.ours && row.tfjs ? row.tfjs.medianMs / row.ours.medianMs : null;
    return row;
  } finally {
    optimizer.dispose();
    model.dispose();
    for (const t of Object.values(inputs)) t.dispose();
    tfModel?.dispose();
    for (const t of tfInputs) t.dispose();
  }
}

export async function runStepSuite(ctx: MeasureContext, o: StepSuiteOptions): Promise<BenchRow[]> {
  const config = stepConfig(o.quick);
  const rows: BenchRow[] = [];
  for (const N of o.batches) {
    const row = await runStepRow(ctx, config, N, o.quick ? 'tiny preset' : 'paper size');
    ctx.log(progressLine(row));
    rows.push(row);
  }
  return rows;
}
