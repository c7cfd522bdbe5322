/**
 * A/B of the tiny training step against another checkout of this repository, in one process:
 * each side's modules are imported from its own folder (so each has its own engine and device on
 * the same adapter), and their steps alternate, so a machine shared with other work slows both
 * alike. Prints each side's median, quartiles and dispatches per step.
 *   npx tsx bench/step-ab.ts --base /path/to/other/checkout [--reps 30] [--size 64] [--width 0.0625] [--batch 4]
 */
import { resolve } from 'node:path';
import { summarise } from './harness.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const size = Number(arg('size', '64'));
const width = Number(arg('width', String(1 / 16)));
const batch = Number(arg('batch', '4'));
const reps = Number(arg('reps', '30'));
const base = arg('base', '');
if (!base) throw new Error('--base DIR: the checkout to compare against');

interface Side {
  name: string;
  step(): Promise<number>;
  dispatchesPerStep: number;
}

/** The step of the checkout at `root`, warmed up and with its convs tuned. */
async function side(name: string, root: string): Promise<Side> {
  const m = (p: string) => import(resolve(root, p));
  await m('node/register-dawn.ts');
  const { initEngine } = await m('engine/engine.ts');
  const { gpuWait } = await m('engine/gpu-wait.ts');
  const { tensor } = await m('engine/creation.ts');
  const { keep, tidy } = await m('engine/scope.ts');
  const { backward } = await m('engine/autograd/backward.ts');
  const { noGrad } = await m('engine/autograd/graph.ts');
  const { Adam } = await m('engine/optim/adam.ts');
  const { tunePendingConvs } = await m('engine/autotune.ts');
  const { MattingModel } = await m('matting/graph/model.ts');
  const { mattingLosses } = await m('matting/losses.ts');
  const { syntheticSample } = await m('matting/data/synthetic.ts');
  const { stackSamples } = await m('matting/data/augment.ts');
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
  const record = () =>
    tidy(() => {
      backward(mattingLosses(model.forward(inputs.image, inputs.trimap), inputs, model.config.lossWeights).total);
      noGrad(() => {
        opt.step();
        opt.zeroGrad();
      });
    });
  record();
  await e.sync();
  await tunePendingConvs();
  record();
  await e.sync();
  const d0 = e.counters.dispatches;
  record();
  await e.sync();
  return {
    name,
    dispatchesPerStep: e.counters.dispatches - d0,
    async step() {
      const t0 = performance.now();
      record();
      e.flush();
      await gpuWait(e.device.queue.onSubmittedWorkDone());
      return performance.now() - t0;
    },
  };
}

const sides = [await side('base', base), await side('this', resolve(import.meta.dirname, '..'))];
const samples = sides.map(() => [] as number[]);
for (let r = 0; r < reps; r++) {
  // alternate which side goes first, so neither always follows the other
  const order = r % 2 === 0 ? [0, 1] : [1, 0];
  for (const i of order) samples[i]!.push(await sides[i]!.step());
}
for (const [i, s] of sides.entries()) {
  const t = summarise(samples[i]!);
  console.log(
    `${s.name.padEnd(5)} median ${t.medianMs.toFixed(1)} ms, q1-q3 ${t.q1Ms.toFixed(1)}-${t.q3Ms.toFixed(1)}, min ${t.minMs.toFixed(1)}, ${s.dispatchesPerStep} dispatches/step`,
  );
}
const [a, b] = samples.map((s) => summarise(s).medianMs) as [number, number];
console.log(`this/base ${(b / a).toFixed(3)} (median), ${base} vs ${resolve(import.meta.dirname, '..')}, ${reps} alternating reps`);
process.exit(0);
