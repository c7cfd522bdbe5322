/**
 * Milliseconds and dispatches of one tiny training step (forward, losses, backward, Adam) with the
 * tuned conv variants, and the dispatches per kernel name: the figure to watch when fusing kernels
 * or batching launches (on llvmpipe every dispatch costs a floor of ~55 us whatever its size).
 *   npx tsx bench/step-time.ts [--size 64] [--width 0.0625] [--batch 4] [--reps 15] [--kernels]
 */
import { parseScriptArgs } from '../cli/args.ts';
import { shutdownEngine } from '../engine/engine.ts';
import { gpuWait } from '../engine/gpu-wait.ts';
import { tunePendingConvs } from '../engine/autotune.ts';
import type { KernelDef } from '../engine/kernels/kernel.ts';
import { summarise } from './harness.ts';
import { THIS_ROOT, tinyStep, tinyStepArgs } from './tiny-step.ts';

const o = parseScriptArgs(process.argv.slice(2), { ...tinyStepArgs(15), kernels: { type: 'boolean', help: 'dispatches per kernel name' } }, 'bench/step-time');
const { size, width, batch } = o as { size: number; width: number; batch: number };
const reps = o.reps as number;
const { engine: e, step } = await tinyStep(THIS_ROOT, { size, width, batch });
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
if (o.kernels) {
  for (const [name, n] of [...byName].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(4)} ${name}`);
}
shutdownEngine();
