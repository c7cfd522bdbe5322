/**
 * Where a full training step's GPU time goes: records every dispatch of one step (forward, losses,
 * backward, Adam), then replays each one alone (submit, wait) and prints the time per kernel and
 * shape, costliest first. Replays run on the step's own buffers (the pool never destroys them while
 * the engine runs; their contents are whatever the step left, which does not change the work).
 *   npx tsx bench/step-profile.ts [--encoder vgg16-dual] [--size 320] [--batch 1] [--width 1] [--top 40] [--reps 1]
 */
import '../node/register-dawn.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import type { KernelDef } from '../engine/kernels/kernel.ts';
import { parseScriptArgs } from '../cli/args.ts';
import { FULL_STEP_ARGS, fullStep } from './full-step-model.ts';
import type { ModelConfig } from '../matting/graph/config.ts';

const o = parseScriptArgs(process.argv.slice(2), {
  ...FULL_STEP_ARGS,
  top: { type: 'number', default: 40, integer: true, min: 1, help: 'rows to list' },
  reps: { type: 'number', default: 1, integer: true, min: 1, help: 'replays per dispatch (the fastest counts)' },
}, 'bench/step-profile');
const { encoder, size, batch, top, reps, width } = o as unknown as { encoder: ModelConfig['encoder']; size: number; batch: number; top: number; reps: number; width: number };

const e = await initEngine();
const { step, dispose } = fullStep(encoder, size, batch, width);

// One step to compile every pipeline, then one recorded.
const warm = step();
await warm.item();
warm.dispose();
type Call = Parameters<typeof e.dispatch>;
const calls: Call[] = [];
const dispatch = e.dispatch.bind(e);
e.dispatch = (def: KernelDef, uniforms, storage, workgroups) => {
  calls.push([def, { ...uniforms }, [...storage], [...workgroups] as [number, number, number]]);
  dispatch(def, uniforms, storage, workgroups);
};
let t0 = performance.now();
const loss = step();
await loss.item();
loss.dispose();
const stepMs = performance.now() - t0;
e.dispatch = dispatch;

// The shape line a generated kernel carries (its first `// x [...]` comment), else the grid.
const shapeOf = (c: Call): string => /\/\/ (x \[[^\n]*)/.exec(c[0].body)?.[1]?.replace(/;$/, '') ?? `grid ${c[3].join('x')}`;
const byKey = new Map<string, { ms: number; n: number }>();
let replayMs = 0;
for (const c of calls) {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    await e.sync();
    t0 = performance.now();
    dispatch(...c);
    await e.sync();
    best = Math.min(best, performance.now() - t0);
  }
  replayMs += best;
  const key = `${c[0].name}  ${shapeOf(c)}`;
  const s = byKey.get(key) ?? { ms: 0, n: 0 };
  s.ms += best;
  s.n++;
  byKey.set(key, s);
}
const rows = [...byKey].sort((a, b) => b[1].ms - a[1].ms);
console.log(`${encoder} ${size}px batch ${batch}: step ${(stepMs / 1000).toFixed(2)} s, ${calls.length} dispatches, replayed one at a time ${(replayMs / 1000).toFixed(2)} s`);
console.log('| ms | share | dispatches | kernel, shape |\n| ---: | ---: | ---: | --- |');
for (const [k, s] of rows.slice(0, top)) console.log(`| ${s.ms.toFixed(1)} | ${((100 * s.ms) / replayMs).toFixed(1)}% | ${s.n} | ${k} |`);
const rest = rows.slice(top).reduce((a, [, s]) => a + s.ms, 0);
if (rows.length > top) console.log(`| ${rest.toFixed(1)} | ${((100 * rest) / replayMs).toFixed(1)}% | | ${rows.length - top} more |`);
dispose();
shutdownEngine();
