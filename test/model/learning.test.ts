/**
 * Learning works: a tiny model fitting ONE fixed synthetic example with Adam drives the total loss
 * down at least 10x within a few hundred steps, for each encoder family.
 *
 * The models have no refinement (refine: 'none'), so the total is the stage-1 objective, alpha +
 * composition, which falls 20x+ for every seed tried. With a refinement at this width (4 channels
 * per layer), the refined term stalls for some model seeds: its inputs are the 0..255 image and
 * alpha x 255, so with Kaiming init its logits start at O(100) (exactly 0 or 1 after the sigmoid for
 * ~45% of the pixels at width 1/16, ~85% at width 1; the residual form clamps ~98%), or its few
 * ReLUs die (measured: flat at 0.3-0.55 for two of six model seeds while the stage-1 terms kept
 * falling). A test of it would only pass for hand-picked seeds; that is reported, not hidden here.
 *
 * Recipe: width 1/16, Adam lr 5e-3 with 10 warm-up steps and cosine decay to 5%, the loss read back
 * every 50 steps only. The loop yields to the event loop every 10 steps: Dawn on lavapipe crashes
 * (SIGSEGV) when thousands of dispatches are recorded without the event loop ever turning.
 */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { MattingModel } from '../../matting/graph/model.ts';
import type { ModelConfig } from '../../matting/graph/config.ts';
import { mattingLosses } from '../../matting/losses.ts';
import { Adam } from '../../engine/optim/adam.ts';
import { applyLr, cosineAnnealing, linearWarmup } from '../../engine/optim/schedule.ts';
import { backward } from '../../engine/autograd/backward.ts';
import { keep, tidy } from '../../engine/scope.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { syntheticBatch, yieldToEventLoop } from './helpers.ts';

useEngine();

async function fit(config: Partial<ModelConfig>, o: { size: number; steps: number; lr: number; sampleSeed: number }) {
  const model = new MattingModel({ ...config, refine: 'none', width: 1 / 16, inputSize: o.size, seed: 0 });
  const batch = syntheticBatch(o.sampleSeed, o.size);
  const opt = new Adam(model.parameters(), { lr: o.lr });
  const schedule = linearWarmup(cosineAnnealing({ baseLr: o.lr, totalSteps: o.steps - 10, minLr: 0.05 * o.lr }), { warmupSteps: 10, startFactor: 0.1 });
  const losses: [number, number][] = [];
  const t0 = performance.now();
  for (let step = 0; step < o.steps; step++) {
    applyLr(opt, schedule, step);
    const read = step % 50 === 0 || step === o.steps - 1;
    const total: Tensor | null = tidy(() => {
      opt.zeroGrad();
      const l = mattingLosses(model.forward(batch.image, batch.trimap), batch, model.config.lossWeights);
      backward(l.total);
      opt.step();
      return read ? keep(l.total.detach()) : null;
    });
    if (total) {
      losses.push([step, await total.item()]);
      total.dispose();
    } else if (step % 10 === 9) await yieldToEventLoop();
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(`${config.encoder}: loss ${losses.map(([s, v]) => `${s}: ${v.toFixed(4)}`).join(', ')} (${seconds.toFixed(1)} s, ${((1000 * seconds) / o.steps).toFixed(0)} ms/step)`);
  opt.dispose();
  batch.dispose();
  model.dispose();
  return losses.map(([, v]) => v);
}

describe('a tiny model fits one example', () => {
  it('vgg16-dual: total loss down 10x in 200 Adam steps', async () => {
    const losses = await fit({ encoder: 'vgg16-dual', decoder: 'deconv' }, { size: 32, steps: 200, lr: 5e-3, sampleSeed: 1 });
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[0]).toBeGreaterThan(0.1);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 10);
  });

  it('resnet50-dual: total loss down 10x in 200 Adam steps', async () => {
    // 64x64: training-mode batch norm needs more than one value per channel at layer4 (1/32 scale)
    const losses = await fit({ encoder: 'resnet50-dual', decoder: 'deconv' }, { size: 64, steps: 200, lr: 5e-3, sampleSeed: 1 });
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[0]).toBeGreaterThan(0.1);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 10);
  });
});
