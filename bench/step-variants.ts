/**
 * A/B of one training step (forward, losses, backward, Adam) with every conv on the gemm kernels
 * against the autotuned variants, interleaved in one process (ratios hold on a loaded machine).
 *   npx tsx bench/step-variants.ts [--size 64] [--width 0.0625] [--batch 4] [--reps 7]
 */
import '../node/register-dawn.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { gpuWait } from '../engine/gpu-wait.ts';
import { tensor } from '../engine/creation.ts';
import { keep, tidy } from '../engine/scope.ts';
import { backward } from '../engine/autograd/backward.ts';
import { noGrad } from '../engine/autograd/graph.ts';
import { Adam } from '../engine/optim/adam.ts';
import { forceConvVariant, tunePendingConvs, type ConvPass } from '../engine/autotune.ts';
import { MattingModel } from '../matting/graph/model.ts';
import { mattingLosses } from '../matting/losses.ts';
import { syntheticSample } from '../matting/data/synthetic.ts';
import { stackSamples } from '../matting/data/augment.ts';
import { summarise, timeInterleaved, type Runner } from './harness.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const size = Number(arg('size', '64'));
const width = Number(arg('width', String(1 / 16)));
const batch = Number(arg('batch', '4'));
const reps = Number(arg('reps', '7'));

const e = await initEngine();
const config = { encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', inputSize: size, width } as const;
const model = new MattingModel(config);
const opt = new Adam(model.trainableParameters(), { lr: 1e-5 });
const b = stackSamples(Array.from({ length: batch }, (_, i) => syntheticSample(i + 1, size)));
const S = size;
const inputs = {
  image: keep(tensor(b.image, [batch, 3, S, S])),
  trimap: keep(tensor(b.trimap, [batch, 1, S, S])),
  alpha: keep(tensor(b.alpha, [batch, 1, S, S])),
  fg: keep(tensor(b.fg, [batch, 3, S, S])),
  bg: keep(tensor(b.bg, [batch, 3, S, S])),
};
const PASSES: ConvPass[] = ['forward', 'backward-data', 'backward-weights'];
const step = () =>
  tidy(() => {
    backward(mattingLosses(model.forward(inputs.image, inputs.trimap), inputs, model.config.lossWeights).total);
    noGrad(() => {
      opt.step();
      opt.zeroGrad();
    });
  });
const runner = (force: string | undefined): Runner => ({
  run: () => {
    for (const p of PASSES) forceConvVariant(p, force);
    step();
  },
  settle: async () => {
    e.flush();
    await gpuWait(e.device.queue.onSubmittedWorkDone());
  },
});
step();
await e.sync();
const t0 = performance.now();
const tuned = await tunePendingConvs();
console.log(`tuned ${tuned} conv shapes in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const [gemm, auto] = await timeInterleaved([runner('gemm'), runner(undefined)], { warmup: 1, minReps: reps, maxReps: reps, budgetMs: 0 });
const show = (name: string, t: ReturnType<typeof summarise>) => `${name} ${t.medianMs.toFixed(1)} ms [${t.minMs.toFixed(1)}-${t.maxMs.toFixed(1)}]`;
console.log(`step ${size}px width ${width} batch ${batch}: ${show('gemm', gemm!)} | ${show('tuned', auto!)} | speed-up x${(gemm!.medianMs / auto!.medianMs).toFixed(2)}`);
shutdownEngine();
