/**
 * The benchmark harness end to end on tiny shapes: tfjs-backend-webgpu starts on the engine's adapter,
 * both engines compute the same conv (forward, and a stride-2 transposed conv's forward), agree, and
 * get timed; the ours/tfjs speed ratio comes out a finite positive number.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { startTfjsPeer, stopTfjsPeer } from '../../bench/tfjs-peer.ts';
import { runConvCase } from '../../bench/kernels.ts';
import type { MeasureContext } from '../../bench/rows.ts';

const eng = useEngine();
afterAll(() => stopTfjsPeer());

describe('bench harness (smoke)', () => {
  it('checks agreement with tfjs and times one small conv on both engines', async () => {
    const e = eng.get();
    const peer = await startTfjsPeer(e);
    const a = peer.adapterInfo, b = e.acquired.info;
    expect(`${a.vendor}/${a.architecture}`).toBe(`${b.vendor}/${b.architecture}`);
    expect(peer.gradientsError).toBeNull();
    const ctx: MeasureContext = { peer, timing: { warmup: 0, minReps: 2, maxReps: 2, budgetMs: 0 }, tolerance: 1e-3, log: () => {} };
    const conv = await runConvCase(ctx, { layer: 'smoke conv', kind: 'conv', C: 8, H: 8, O: 12, K: 3, S: 1 }, 1, ['forward', 'backward-weights']);
    const deconv = await runConvCase(ctx, { layer: 'smoke deconv', kind: 'deconv', C: 4, H: 8, O: 8, K: 5, S: 2 }, 2, ['forward']);
    for (const r of [...conv, ...deconv]) {
      // the note names the conv variant that ran (engine/autotune.ts) and nothing else
      expect(r.note).toMatch(/^(ours: [a-z0-9x-]+)?$/);
      expect(r.agreement?.ok).toBe(true);
      expect(r.agreement!.relErr).toBeLessThan(1e-3);
      expect(r.ours?.reps).toBe(2);
      expect(r.tfjs?.reps).toBe(2);
      expect(Number.isFinite(r.ratio)).toBe(true);
      expect(r.ratio!).toBeGreaterThan(0);
      expect(r.flops).toBeGreaterThan(0);
    }
  }, 30_000);
});
