/**
 * One full-size training step (forward, backward, Adam) of a model config, e.g. the paper's
 * vgg16-dual at 320x320, batch 1: reports the time of each phase and the GPU memory the pool held.
 * Every binding stays within maxStorageBufferBindingSize (the engine refuses larger ones).
 * Conv kernels: the tuned choice where the autotune cache has one, else the defaults; with
 * --tune-seconds S the shapes are tuned for up to S seconds after the first step (the costliest first).
 *   npx tsx bench/full-step.ts [--encoder vgg16-dual] [--size 320] [--batch 1] [--steps 2] [--tune-seconds 0]
 */
import '../node/register-dawn.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { tunePendingConvs } from '../engine/autotune.ts';
import { fullStep } from './full-step-model.ts';
import type { ModelConfig } from '../matting/graph/config.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const encoder = arg('encoder', 'vgg16-dual') as ModelConfig['encoder'];
const size = Number(arg('size', '320'));
const batch = Number(arg('batch', '1'));
const steps = Number(arg('steps', '2'));
const tuneSeconds = Number(arg('tune-seconds', '0'));

const e = await initEngine();
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
console.log(`adapter: ${e.acquired.info.description} (${e.acquired.backend}); max binding ${mib(e.limits.maxStorageBufferBindingSize)}`);
let t0 = performance.now();
const { model, step, dispose } = fullStep(encoder, size, batch);
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
