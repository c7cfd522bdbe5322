/**
 * One full-size training step (forward, backward, Adam) of a model config, e.g. the paper's
 * vgg16-dual at 320x320, batch 1: reports the time of each phase and the GPU memory the pool held.
 * Every binding stays within maxStorageBufferBindingSize (the engine refuses larger ones).
 * Conv kernels: the tuned choice where the autotune cache has one, else the defaults; with
 * --tune-seconds S the shapes are tuned for up to S seconds after the first step (the costliest first).
 *   npx tsx bench/full-step.ts [--encoder vgg16-dual] [--size 320] [--batch 1] [--width 1] [--steps 2] [--tune-seconds 0]
 */
import '../node/register-dawn.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { tunePendingConvs } from '../engine/autotune.ts';
import { parseScriptArgs } from '../cli/args.ts';
import { FULL_STEP_ARGS, fullStep } from './full-step-model.ts';
import type { ModelConfig } from '../matting/graph/config.ts';

const o = parseScriptArgs(process.argv.slice(2), {
  ...FULL_STEP_ARGS,
  steps: { type: 'number', default: 2, integer: true, min: 1, help: 'steps to time' },
  tuneSeconds: { type: 'number', default: 0, min: 0, help: 'tune the conv shapes for up to this long after the first step' },
}, 'bench/full-step');
const { encoder, size, batch, width, steps, tuneSeconds } = o as unknown as { encoder: ModelConfig['encoder']; size: number; batch: number; width: number; steps: number; tuneSeconds: number };

const e = await initEngine();
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
console.log(`adapter: ${e.acquired.info.description} (${e.acquired.backend}); max binding ${mib(e.limits.maxStorageBufferBindingSize)}`);
let t0 = performance.now();
const { model, step, dispose } = fullStep(encoder, size, batch, width);
await e.sync();
console.log(`${encoder} at ${size}px, batch ${batch}: ${model.parameterCount().toLocaleString('en-US')} parameters, built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
for (let s = 0; s < steps; s++) {
  const times: Record<string, number> = {};
  let loss = 0;
  t0 = performance.now();
  const total = step();
  loss = await total.item();
  total.dispose();
  times.step = (performance.now() - t0) / 1000;
  const st = e.pool.getStats();
  console.log(`step ${s + 1}: ${times.step.toFixed(1)} s (forward+backward+Adam, one readback of the loss ${loss.toFixed(4)}); pool: live ${mib(st.liveBytes)}, peak held ${mib(st.peakBytes)}, ${st.allocations} buffers created, ${e.counters.dispatches} dispatches so far`);
  if (s === 0 && tuneSeconds > 0) {
    const t1 = performance.now();
    const n = await tunePendingConvs(tuneSeconds * 1000);
    console.log(`tuned ${n} conv shapes in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  }
}
dispose();
shutdownEngine();
