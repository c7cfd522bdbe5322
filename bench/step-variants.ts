/**
 * A/B of one training step (forward, losses, backward, Adam) with every conv on the gemm kernels
 * against the autotuned variants, interleaved in one process (ratios hold on a loaded machine).
 *   npx tsx bench/step-variants.ts [--size 64] [--width 0.0625] [--batch 4] [--reps 7]
 */
import { parseScriptArgs } from '../cli/args.ts';
import { shutdownEngine } from '../engine/engine.ts';
import { gpuWait } from '../engine/gpu-wait.ts';
import { forceConvVariant, tunePendingConvs, type ConvPass } from '../engine/autotune.ts';
import { summarise, timeInterleaved, type Runner } from './harness.ts';
import { THIS_ROOT, tinyStep, tinyStepArgs } from './tiny-step.ts';

const o = parseScriptArgs(process.argv.slice(2), tinyStepArgs(7), 'bench/step-variants');
const { size, width, batch } = o as { size: number; width: number; batch: number };
const reps = o.reps as number;
const { engine: e, step } = await tinyStep(THIS_ROOT, { size, width, batch });
const PASSES: ConvPass[] = ['forward', 'backward-data', 'backward-weights'];
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
