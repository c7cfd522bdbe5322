import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { tensor } from '../../engine/index.ts';
import { SGD, Adam, applyLr, constantLr, cosineAnnealing, linearWarmup, stepDecay } from '../../engine/optim/index.ts';

useEngine();

describe('learning-rate schedules give hand-computed values', () => {
  it('step decay', () => {
    const s = stepDecay({ baseLr: 0.1, stepSize: 3, gamma: 0.5 });
    expect([0, 2, 3, 5, 6, 9, 10].map((t) => s.lrAt(t))).toEqual([0.1, 0.1, 0.05, 0.05, 0.025, 0.0125, 0.0125]);
    expect(stepDecay({ baseLr: 1, stepSize: 10 }).lrAt(25)).toBeCloseTo(0.01, 15); // default gamma 0.1
  });

  it('cosine annealing with a minimum lr, held after totalSteps', () => {
    const s = cosineAnnealing({ baseLr: 1, minLr: 0.1, totalSteps: 4 });
    expect(s.lrAt(0)).toBe(1);
    // 0.1 + 0.9 * (1 + cos(pi/4)) / 2 = 0.1 + 0.45 * 1.7071067811865475
    expect(s.lrAt(1)).toBeCloseTo(0.8681980515339464, 14);
    expect(s.lrAt(2)).toBeCloseTo(0.55, 14);
    // 0.1 + 0.45 * (1 - 0.7071067811865475)
    expect(s.lrAt(3)).toBeCloseTo(0.23180194846605362, 14);
    expect(s.lrAt(4)).toBeCloseTo(0.1, 14);
    expect(s.lrAt(100)).toBeCloseTo(0.1, 14);
    expect(cosineAnnealing({ baseLr: 2, totalSteps: 10 }).lrAt(5)).toBeCloseTo(1, 14); // minLr 0
  });

  it('linear warm-up then the inner schedule (shifted by the warm-up)', () => {
    const cos = cosineAnnealing({ baseLr: 1, minLr: 0.1, totalSteps: 4 });
    const s = linearWarmup(cos, { warmupSteps: 4 });
    expect([0, 1, 2, 3].map((t) => s.lrAt(t))).toEqual([0, 0.25, 0.5, 0.75]);
    expect(s.lrAt(4)).toBe(1);
    expect(s.lrAt(6)).toBeCloseTo(0.55, 14);
    expect(s.lrAt(8)).toBeCloseTo(0.1, 14);
    const sd = linearWarmup(stepDecay({ baseLr: 0.2, stepSize: 2, gamma: 0.5 }), { warmupSteps: 2, startFactor: 0.5 });
    // warm-up factors 0.5, 0.75, then step decay from its step 0
    expect([0, 1, 2, 3, 4, 5, 6].map((t) => sd.lrAt(t))).toEqual([0.1, 0.15000000000000002, 0.2, 0.2, 0.1, 0.1, 0.05]);
  });

  it('linear warm-up multiplying an unshifted inner schedule', () => {
    const s = linearWarmup(stepDecay({ baseLr: 1, stepSize: 2, gamma: 0.1 }), { warmupSteps: 4, startFactor: 0.2, shiftInner: false });
    // factors 0.2, 0.4, 0.6, 0.8 times 1, 1, 0.1, 0.1; then 0.01 from step 4
    const got = [0, 1, 2, 3, 4, 5].map((t) => s.lrAt(t));
    const want = [0.2, 0.4, 0.06, 0.08, 0.01, 0.01];
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 15));
  });

  it('rejects bad steps and settings', () => {
    expect(() => constantLr(1).lrAt(-1)).toThrow(/step/);
    expect(() => constantLr(1).lrAt(1.5)).toThrow(/step/);
    expect(() => stepDecay({ baseLr: 1, stepSize: 0 })).toThrow(/stepSize/);
    expect(() => cosineAnnealing({ baseLr: 1, totalSteps: 0 })).toThrow(/totalSteps/);
    expect(() => linearWarmup(constantLr(1), { warmupSteps: 2, startFactor: 2 })).toThrow(/startFactor/);
  });
});

describe('applying a schedule sets the group lr used by the next step', () => {
  it('SGD follows the scheduled lr on the GPU', async () => {
    const p = tensor(new Float32Array([1, -2, 3]));
    p.requiresGrad = true;
    p.grad = tensor(new Float32Array([1, 1, -1]));
    const opt = new SGD([p], { lr: 0.5 });
    const sched = linearWarmup(stepDecay({ baseLr: 0.5, stepSize: 2, gamma: 0.5 }), { warmupSteps: 2 });
    const expected = Float64Array.from([1, -2, 3]);
    for (let t = 0; t < 6; t++) {
      const [lr] = applyLr(opt, sched, t);
      expect(lr).toBe(sched.lrAt(t));
      expect(opt.getLr()).toBe(lr);
      opt.step();
      [1, 1, -1].forEach((g, i) => (expected[i] = expected[i]! - lr! * g));
    }
    const got = await p.data();
    got.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(1e-6));
    opt.dispose();
    p.dispose();
  });

  it('several groups keep their ratio to the base lr, or take one schedule each', () => {
    const a = tensor(new Float32Array(2));
    const b = tensor(new Float32Array(2));
    const opt = new Adam([{ params: [a] }, { params: [b], lr: 1e-4 }], { lr: 1e-3 });
    const cos = cosineAnnealing({ baseLr: 1e-3, totalSteps: 10 });
    const lrs = applyLr(opt, cos, 5);
    expect(lrs[0]).toBeCloseTo(5e-4, 15);
    expect(lrs[1]).toBeCloseTo(5e-5, 15);
    expect([opt.getLr(0), opt.getLr(1)]).toEqual(lrs);
    applyLr(opt, [constantLr(0.01), stepDecay({ baseLr: 0.1, stepSize: 1, gamma: 0.5 })], 2);
    expect([opt.getLr(0), opt.getLr(1)]).toEqual([0.01, 0.025]);
    expect(() => applyLr(opt, [constantLr(1)], 0)).toThrow(/2 parameter groups/);
    opt.dispose();
    a.dispose();
    b.dispose();
  });
});
