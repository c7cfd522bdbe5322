/**
 * The tiny training step the step scripts time (forward, losses, backward, Adam of the tiny
 * preset's network on synthetic samples), built from the modules of one checkout: `root` is this
 * repository for step-time.ts and step-variants.ts, and each side's folder for step-ab.ts, which
 * runs two checkouts in one process. Also their shared command-line options.
 */
import { resolve } from 'node:path';
import type { Engine } from '../engine/engine.ts';

/** Options every step script takes (cli/args.ts spec); `reps` defaults per script. */
export function tinyStepArgs(reps: number) {
  return {
    size: { type: 'number', default: 64, help: 'crop side' },
    width: { type: 'number', default: 1 / 16, help: 'channel width multiplier' },
    batch: { type: 'number', default: 4, help: 'batch size' },
    reps: { type: 'number', default: reps, help: 'timed repetitions' },
  } as const;
}

export interface TinyStep {
  engine: Engine;
  /** Records one step (no wait). */
  step(): void;
}

/** This checkout's root. */
export const THIS_ROOT = resolve(import.meta.dirname, '..');

/** The step of the checkout at `root` (its engine initialised on the way). */
export async function tinyStep(root: string, o: { size: number; width: number; batch: number }): Promise<TinyStep> {
  const m = (p: string) => import(resolve(root, p));
  await m('node/register-dawn.ts');
  const { initEngine } = await m('engine/engine.ts');
  const { tensor } = await m('engine/creation.ts');
  const { keep, tidy } = await m('engine/scope.ts');
  const { backward } = await m('engine/autograd/backward.ts');
  const { noGrad } = await m('engine/autograd/graph.ts');
  const { Adam } = await m('engine/optim/adam.ts');
  const { MattingModel } = await m('matting/graph/model.ts');
  const { mattingLosses } = await m('matting/losses.ts');
  const { syntheticSample } = await m('matting/data/synthetic.ts');
  const { stackSamples } = await m('matting/data/augment.ts');
  const engine = (await initEngine()) as Engine;
  const { size: S, width, batch } = o;
  const model = new MattingModel({ encoder: 'vgg16-dual', decoder: 'deconv', refine: 'sigmoid', inputSize: S, width });
  const opt = new Adam(model.trainableParameters(), { lr: 1e-5 });
  const b = stackSamples(Array.from({ length: batch }, (_, i) => syntheticSample(i + 1, S)));
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
  return { engine, step };
}
