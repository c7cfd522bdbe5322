/**
 * A/B of the tiny training step against another checkout of this repository, in one process:
 * each side's modules are imported from its own folder (so each has its own engine and device on
 * the same adapter), and their steps alternate, so a machine shared with other work slows both
 * alike. Prints each side's median, quartiles and dispatches per step.
 *   npx tsx bench/step-ab.ts --base /path/to/other/checkout [--reps 30] [--size 64] [--width 0.0625] [--batch 4]
 */
import { resolve } from 'node:path';
import { parseScriptArgs } from '../cli/args.ts';
import { summarise } from './harness.ts';
import { THIS_ROOT, tinyStep, tinyStepArgs } from './tiny-step.ts';

const o = parseScriptArgs(process.argv.slice(2), { ...tinyStepArgs(30), base: { type: 'string', help: 'the checkout to compare against (required)' } }, 'bench/step-ab');
const { size, width, batch } = o as { size: number; width: number; batch: number };
const reps = o.reps as number;
const base = o.base as string | undefined;
if (!base) {
  console.error('bench/step-ab: --base DIR (the checkout to compare against) is required');
  process.exit(2);
}

interface Side {
  name: string;
  step(): Promise<number>;
  dispatchesPerStep: number;
}

/** The step of the checkout at `root`, warmed up and with its convs tuned. */
async function side(name: string, root: string): Promise<Side> {
  const { engine: e, step: record } = await tinyStep(root, { size, width, batch });
  const { gpuWait } = await import(resolve(root, 'engine/gpu-wait.ts'));
  const { tunePendingConvs } = await import(resolve(root, 'engine/autotune.ts'));
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

const sides = [await side('base', base), await side('this', THIS_ROOT)];
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
console.log(`this/base ${(b / a).toFixed(3)} (median), ${base} vs ${THIS_ROOT}, ${reps} alternating reps`);
process.exit(0);
