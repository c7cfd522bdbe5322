/**
 * GPU waits must not spin the main thread (node/quiet-wait.ts): Dawn's Node bindings tick a pending
 * promise from a self-re-arming setImmediate, which on a CPU adapter takes a core from the shader
 * threads. The main thread's own CPU time is read from /proc (Linux), so the test measures that
 * thread alone, not llvmpipe's workers in the same process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { tensor } from '../../engine/creation.ts';
import { keep } from '../../engine/scope.ts';
import { conv2d } from '../../engine/ops/conv.ts';
import { gpuWait } from '../../engine/gpu-wait.ts';
import { quietWait } from '../../node/quiet-wait.ts';

const engine = useEngine();
const statPath = `/proc/self/task/${process.pid}/stat`;
const hasProc = existsSync(statPath);

/** The main thread's user + system CPU time in ms (fields 14 and 15 of its stat line, in clock ticks of 10 ms). */
function mainThreadCpuMs(): number {
  const fields = readFileSync(statPath, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

describe('GPU waits (node/quiet-wait.ts)', () => {
  it('hands back the promise\'s own value and rejection', async () => {
    await expect(quietWait(Promise.resolve(42))).resolves.toBe(42);
    await expect(quietWait(Promise.reject(new Error('lost')))).rejects.toThrow('lost');
  });

  it.skipIf(!hasProc)('keeps the main thread mostly asleep while the GPU works (needs /proc: Linux)', async () => {
    const e = engine.get();
    const x = keep(tensor(new Float32Array(1 * 64 * 96 * 96).fill(0.5), [1, 64, 96, 96]));
    const w = keep(tensor(new Float32Array(64 * 64 * 9).fill(0.01), [64, 64, 3, 3]));
    const work = (reps: number): void => {
      for (let i = 0; i < reps; i++) conv2d(x, w, null, { padding: 1 }).dispose();
      e.flush();
    };
    work(1);
    await e.sync();
    // Size the job to ~1 s of GPU time, so the 10 ms clock ticks resolve the share.
    let t = performance.now();
    work(1);
    await e.sync();
    const reps = Math.max(2, Math.ceil(1000 / Math.max(1, performance.now() - t)));
    work(reps);
    const cpu0 = mainThreadCpuMs();
    t = performance.now();
    await gpuWait(e.device.queue.onSubmittedWorkDone());
    const wall = performance.now() - t;
    const share = (mainThreadCpuMs() - cpu0) / wall;
    console.log(`quiet wait: ${wall.toFixed(0)} ms of GPU work, main thread busy ${(100 * share).toFixed(0)}% of it`);
    expect(wall).toBeGreaterThan(300);
    // Dawn's own wait (MATTING_GPU_WAIT=spin) measured 31-35% here on a loaded machine, ~100% on a quiet one; napping 3-4%.
    expect(share).toBeLessThan(0.2);
    x.dispose();
    w.dispose();
  });
});
