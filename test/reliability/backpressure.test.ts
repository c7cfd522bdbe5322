/**
 * Issue 15 item 4: with logging and checkpoints off nothing reads back, and recording used to run
 * ahead of the GPU without bound: on lavapipe the pending submits' descriptor pools and memory
 * mappings grew ~7,000/s until the process hit the kernel's 65,530-map limit and segfaulted, and
 * Ctrl-C waited for the whole backlog. The trainer now waits for step k-2 before recording step k.
 * (Seen failing before the fix on lavapipe: 53,000 mappings after 15 s, then SIGSEGV; on the GL
 * route Dawn runs each submit synchronously, so there the bounds held already.)
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { useEngine } from '../helpers/gpu.ts';
import { Trainer } from '../../matting/train/trainer.ts';
import { engine } from '../../engine/engine.ts';
import { tmp, trainOptions } from './helpers.ts';

useEngine();

const maps = () => readFileSync('/proc/self/maps', 'utf8').split('\n').length;

describe('back-pressure', () => {
  it('a long unlogged run keeps GPU work, mappings and memory bounded, and stops at once', async () => {
    const steps = 2000; // more than the 10 s before the stop can run
    const samples: { maps: number; rss: number; inFlight: number }[] = [];
    const sample = () => samples.push({ maps: maps(), rss: process.memoryUsage().rss, inFlight: engine().unitsInFlight ?? 0 });
    const timer = setInterval(sample, 100);
    const trainer = new Trainer(trainOptions(tmp('bp'), { steps, logEvery: 1e9, checkpointEvery: 1e9, batchSize: 2, config: trainOptions('').config }), () => {});
    const t0 = performance.now();
    let stopAt = 0;
    // Stop late in the run, as Ctrl-C would: the run must end within a couple of steps' time.
    const stopper = setInterval(() => {
      if (performance.now() - t0 > 10_000 && !stopAt) {
        stopAt = performance.now();
        trainer.requestStop();
      }
    }, 50);
    const r = await trainer.run();
    console.log(`back-pressure: ${r.step} steps, peak maps ${Math.max(...samples.map((s) => s.maps))}, stop latency ${(performance.now() - stopAt).toFixed(0)} ms`);
    const stopLatency = performance.now() - stopAt;
    clearInterval(timer);
    clearInterval(stopper);
    expect(samples.length).toBeGreaterThanOrEqual(5); // the sampler only runs between steps: few on a loaded machine
    const warm = samples[Math.floor(samples.length / 4)]!;
    const peakMaps = Math.max(...samples.map((s) => s.maps));
    const peakRss = Math.max(...samples.map((s) => s.rss));
    expect(Math.max(...samples.map((s) => s.inFlight))).toBeLessThanOrEqual(2);
    expect(peakMaps - warm.maps).toBeLessThan(1500);
    expect(peakRss - warm.rss).toBeLessThan(150e6);
    expect(stopAt).toBeGreaterThan(0);
    expect(r.step).toBeLessThan(steps);
    // Within about two steps' time (a shared, loaded machine makes steps slow; the old backlog took 17 s).
    const stepMs = (stopAt - t0) / Math.max(1, r.step);
    expect(stopLatency).toBeLessThan(Math.max(6000, 4 * stepMs)); // includes writing the checkpoint
  });
});
