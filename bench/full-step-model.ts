/**
 * The full-size training step that bench/full-step.ts times and bench/step-profile.ts profiles: a
 * model config's forward, the matting losses, backward and Adam on synthetic samples.
 */
import { tensor } from '../engine/creation.ts';
import { tidy } from '../engine/scope.ts';
import { backward } from '../engine/autograd/backward.ts';
import { noGrad } from '../engine/autograd/graph.ts';
import { Adam } from '../engine/optim/adam.ts';
import type { Tensor } from '../engine/tensor.ts';
import { MattingModel } from '../matting/graph/model.ts';
import { mattingLosses } from '../matting/losses.ts';
import { syntheticSample } from '../matting/data/synthetic.ts';
import { stackSamples } from '../matting/data/augment.ts';
import { ENCODERS, type ModelConfig } from '../matting/graph/config.ts';

/** Options both scripts take (cli/args.ts spec). */
export const FULL_STEP_ARGS = {
  encoder: { type: 'string', default: 'vgg16-dual', choices: ENCODERS, help: 'encoder of the model' },
  size: { type: 'number', default: 320, integer: true, min: 1, help: 'crop side' },
  batch: { type: 'number', default: 1, integer: true, min: 1, help: 'batch size' },
  width: { type: 'number', default: 1, min: 0, minExclusive: true, help: 'channel width multiplier' },
} as const;

export interface FullStep {
  model: MattingModel;
  opt: Adam;
  /** Records one step; the loss, detached (the caller reads and disposes it). */
  step: () => Tensor;
  dispose: () => void;
}

export function fullStep(encoder: ModelConfig['encoder'], size: number, batch: number, width = 1): FullStep {
  const model = new MattingModel({ encoder, inputSize: size, width });
  const opt = new Adam(model.trainableParameters(), { lr: 1e-5 });
  const b = stackSamples(Array.from({ length: batch }, (_, i) => syntheticSample(i + 1, size)));
  const step = () =>
    tidy(() => {
      const inputs = {
        image: tensor(b.image, [batch, 3, size, size]), trimap: tensor(b.trimap, [batch, 1, size, size]),
        alpha: tensor(b.alpha, [batch, 1, size, size]), fg: tensor(b.fg, [batch, 3, size, size]), bg: tensor(b.bg, [batch, 3, size, size]),
      };
      const out = model.forward(inputs.image, inputs.trimap);
      const terms = mattingLosses(out, inputs, model.config.lossWeights);
      backward(terms.total);
      noGrad(() => { opt.step(); opt.zeroGrad(); });
      return terms.total.detach();
    });
  return { model, opt, step, dispose: () => { opt.dispose(); model.dispose(); } };
}
