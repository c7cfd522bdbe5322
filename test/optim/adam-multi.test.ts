/**
 * The multi-tensor Adam launch (several parameters per dispatch) against one single-tensor launch
 * per parameter (adamStepKernel, the kernel it replaced): parameters, moments and AMSGrad maxima
 * must be bit-identical, over sizes around the workgroup size, parameters whose step counts differ
 * (one skips a step), two groups with their own hyperparameters, and more parameters than one
 * launch holds. The f64 references are in optimizers.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { Generator, Tensor, fill, keep, tensor } from '../../engine/index.ts';
import { Adam, AdamW } from '../../engine/optim/index.ts';
import { adamStepKernel } from '../../engine/optim/kernels.ts';
import { segmentsPerLaunch } from '../../engine/kernels/segments.ts';

const eng = useEngine();

const SIZES = [1, 255, 256, 257, 3, 1000, 37, 512, 2, 4097, 64];

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

describe('multi-tensor Adam', () => {
  for (const amsgrad of [false, true]) {
    for (const decoupled of [false, true]) {
      it(`${decoupled ? 'AdamW' : 'Adam'}${amsgrad ? ' amsgrad' : ''}: bit-identical to one launch per parameter`, async () => {
        const e = eng.get();
        const g = new Generator(5);
        const hypers: Hyper[] = [
          { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05 },
          { lr: 3e-3, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.2 },
        ];
        const data = SIZES.map((n) => g.fillNormal(new Float32Array(n), 0, 1));
        const ps = data.map((d) => {
          const p = tensor(d);
          p.requiresGrad = true;
          return p;
        });
        const groupOf = (k: number) => (k % 3 === 2 ? 1 : 0);
        const groups = hypers.map((h, gi) => ({ params: ps.filter((_, k) => groupOf(k) === gi), betas: [h.beta1, h.beta2] as [number, number], lr: h.lr, eps: h.eps, weightDecay: h.weightDecay, amsgrad }));
        const opt = decoupled ? new AdamW(groups) : new Adam(groups);
        expect(SIZES.length).toBeGreaterThan(segmentsPerLaunch(amsgrad ? 5 : 4)); // several launches
        // the single-launch side: its own copies of the parameters and zero moments
        const ref = data.map((d) => ({ p: keep(tensor(d)), m: keep(fill([d.length], 0)), v: keep(fill([d.length], 0)), vmax: amsgrad ? keep(fill([d.length], 0)) : null, t: 0 }));
        for (let s = 0; s < 4; s++) {
          const before = e.counters.dispatches;
          let updated = 0;
          ps.forEach((p, k) => {
            p.grad?.dispose();
            p.grad = null;
            if (s === 1 && k === 4) return; // no gradient: this parameter's step count falls behind
            const gr = g.fillNormal(new Float32Array(p.size), 0, 0.5 + s);
            p.grad = keep(tensor(gr));
            updated++;
            const r = ref[k]!;
            r.t++;
            const h = hypers[groupOf(k)]!;
            adamStepKernel(r.p, p.grad, r.m, r.v, r.vmax, {
              l2: decoupled ? 0 : h.weightDecay,
              decay: decoupled ? 1 - h.lr * h.weightDecay : 1,
              beta1: h.beta1,
              beta2: h.beta2,
              eps: h.eps,
              stepSize: h.lr / (1 - h.beta1 ** r.t),
              bc2Sqrt: Math.sqrt(1 - h.beta2 ** r.t),
            });
          });
          const single = e.counters.dispatches - before;
          expect(single).toBe(updated);
          opt.step();
          // (the first step also fills the new moments with zeros)
          if (s > 0) expect(e.counters.dispatches - before - single).toBe(Math.ceil(updated / segmentsPerLaunch(amsgrad ? 5 : 4)));
        }
        const states = opt.stateTensors();
        for (let k = 0; k < ps.length; k++) {
          const r = ref[k]!;
          const j = opt.params.indexOf(ps[k]!); // checkpoint order: group by group
          expect(opt.stepCount(j)).toBe(r.t);
          expect(Array.from(await ps[k]!.data()), `param ${k}`).toEqual(Array.from(await r.p.data()));
          expect(Array.from(await states.get(`state.${j}.exp_avg`)!.data())).toEqual(Array.from(await r.m.data()));
          expect(Array.from(await states.get(`state.${j}.exp_avg_sq`)!.data())).toEqual(Array.from(await r.v.data()));
          if (r.vmax) expect(Array.from(await states.get(`state.${j}.max_exp_avg_sq`)!.data())).toEqual(Array.from(await r.vmax.data()));
        }
        // the parameters moved (a launch that did nothing would pass the comparison above only if the reference did nothing too)
        expect(Array.from(await ps[0]!.data())).not.toEqual(Array.from(data[0]!));
        opt.dispose();
        for (const p of ps) p.dispose();
        for (const r of ref) for (const t of [r.p, r.m, r.v, r.vmax]) (t as Tensor | null)?.dispose();
      });
    }
  }
  it('a parameter of a multiple of 4 elements (updated on vec4s) gets the scalar kernel\'s values bit for bit', async () => {
    // the same 1000 values as a 1000-element parameter (vec4 launch) and as the head of a
    // 1001-element one (scalar launch): every element must come out identical
    const g = new Generator(9);
    const data = g.fillNormal(new Float32Array(1001), 0, 1);
    const both = [data.subarray(0, 1000), data].map((d) => ({ p: keep(tensor(d)), m: keep(fill([d.length], 0)), v: keep(fill([d.length], 0)) }));
    const e = eng.get();
    for (let t = 1; t <= 3; t++) {
      const gr = g.fillNormal(new Float32Array(1001), 0, 1 + t);
      const grads = [keep(tensor(gr.subarray(0, 1000))), keep(tensor(gr))];
      both.forEach((b, k) =>
        adamStepKernel(b.p, grads[k]!, b.m, b.v, null, { l2: 0.05, decay: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, stepSize: 1e-2 / (1 - 0.9 ** t), bc2Sqrt: Math.sqrt(1 - 0.999 ** t) }),
      );
      await e.sync();
      for (const gt of grads) gt.dispose();
    }
    const [vec, scalar] = await Promise.all(both.map((b) => b.p.data()));
    expect(Array.from(vec!)).toEqual(Array.from(scalar!.subarray(0, 1000)));
    expect(Array.from(vec!)).not.toEqual(Array.from(data.subarray(0, 1000)));
    const [mv, ms] = await Promise.all(both.map((b) => b.m.data()));
    expect(Array.from(mv!)).toEqual(Array.from(ms!.subarray(0, 1000)));
    for (const b of both) for (const t of [b.p, b.m, b.v]) t.dispose();
  });
});
