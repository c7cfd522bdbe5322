/**
 * Milliseconds and dispatches of one tiny training step (forward, losses, backward, Adam) with the
 * tuned conv variants, and the dispatches per kernel name: the figure to watch when fusing kernels
 * or batching launches (on llvmpipe every dispatch costs a floor of ~55 us whatever its size).
 *   npx tsx bench/step-time.ts [--size 64] [--width 0.0625] [--batch 4] [--reps 15] [--kernels]
 */
import '../node/register-dawn.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { gpuWait } from '../engine/gpu-wait.ts';
import { tensor } from '../engine/creation.ts';
import { keep, tidy } from '../engine/scope.ts';
import { backward } from '../engine/autograd/backward.ts';
import { noGrad } from '../engine/autograd/graph.ts';
import { Adam } from '../engine/optim/adam.ts';
import { tunePendingConvs } from '../engine/autotune.ts';
import type { KernelDef } from '../engine/kernels/kernel.ts';
import { MattingModel } from '../matting/graph/model.ts';
import { mattingLosses } from '../matting/losses.ts';
import { syntheticSample } from '../matting/data/synthetic.ts';
import { stackSamples } from '../matting/data/augment.ts';
import { summarise } from './harness.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const size = Number(arg('size', '64'));
const width = Number(arg('width', String(1 / 16)));
const batch = Number(arg('batch', '4'));
const reps = Number(arg('reps', '15'));

const e = await initEngine();
const model = new MattingModel({ encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', inputSize: size, width });
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
const step = () =>
  tidy(() => {
    backward(mattingLosses(model.forward(inputs.image, inputs.trimap), inputs, model.config.lossWeights).total);
    noGrad(() => {
      opt.step();
      opt.zeroGrad();
    });
  });
step();
await e.sync();
await tunePendingConvs();
step();
await e.sync();

// Dispatches per kernel name over one step (the engine counts only the total).
const byName = new Map<string, number>();
const dispatch = e.dispatch.bind(e);
e.dispatch = (def: KernelDef, ...rest) => {
  byName.set(def.name, (byName.get(def.name) ?? 0) + 1);
  dispatch(def, ...rest);
};
// Copies too: each one ends the shared compute pass.
let copies = 0;
const copy = e.copy.bind(e);
e.copy = (...args) => {
  copies++;
  copy(...args);
};
const d0 = e.counters.dispatches;
step();
await e.sync();
const perStep = e.counters.dispatches - d0;
e.dispatch = dispatch;
e.copy = copy;

const samples: number[] = [];
const recording: number[] = [];
for (let r = 0; r < reps; r++) {
  const t0 = performance.now();
  step();
  recording.push(performance.now() - t0); // the CPU's share: recording the step (it overlaps the GPU's work)
  e.flush();
  await gpuWait(e.device.queue.onSubmittedWorkDone());
  samples.push(performance.now() - t0);
}
const t = summarise(samples);
console.log(
  `tiny step ${size}px width ${width} batch ${batch}: median ${t.medianMs.toFixed(1)} ms [${t.minMs.toFixed(1)}-${t.maxMs.toFixed(1)}], ` +
    `q1-q3 ${t.q1Ms.toFixed(1)}-${t.q3Ms.toFixed(1)}, recording ${summarise(recording).medianMs.toFixed(1)} ms, ${perStep} dispatches and ${copies} copies/step`,
);
if (process.argv.includes('--kernels')) {
  for (const [name, n] of [...byName].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(4)} ${name}`);
}
shutdownEngine();
