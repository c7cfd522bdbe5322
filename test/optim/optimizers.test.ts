import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { Generator, Tensor, backward, keep, mul, square, sum, tensor, tidy } from '../../engine/index.ts';
import { copy } from '../../engine/kernels/elementwise.ts';
import { Adam, AdamW, SGD, clipGradNorm, type Optimizer, type BaseGroupOptions } from '../../engine/optim/index.ts';
import { AdamRef, SgdRef, maxRelErr, relToMax, type AdamHyper, type SgdHyper } from './reference.ts';

const eng = useEngine();

const STEPS = 5;
const TOL = 1e-5;
/** Relative error floor: parameters near 0 are compared at the scale of 1e-2. */
const FLOOR = 1e-2;
const SHAPES: number[][] = [[37], [5, 13], [3, 4, 5, 7], [1]];

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function randomF32(g: Generator, n: number, std = 1): Float32Array {
  return g.fillNormal(new Float32Array(n), 0, std);
}

/** A parameter (requiresGrad) from CPU data, with the f64 copy a reference starts from. */
function param(data: Float32Array, shape: readonly number[] = [data.length], name = ''): { p: Tensor; init: Float64Array } {
  const p = tensor(data, shape);
  p.requiresGrad = true;
  p.name = name;
  return { p, init: Float64Array.from(data) };
}

/** Sets a parameter's gradient from CPU data (overwriting an existing one in place); untracked, as backward's. */
function setGrad(p: Tensor, data: Float32Array): void {
  if (p.grad && !p.grad.disposed) eng.get().write(p.grad.buffer, 0, data);
  else p.grad = keep(tensor(data, p.shape));
}

async function expectClose(t: Tensor, ref: ArrayLike<number>, what: string): Promise<void> {
  const got = await t.data();
  const { err, at } = maxRelErr(got, ref, FLOOR);
  expect(err, `${what}: element ${at} is ${got[at]}, reference ${ref[at]}`).toBeLessThanOrEqual(TOL);
}

const adamCases: [string, AdamHyper][] = [
  ['Adam defaults', { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }],
  ['Adam lr 1e-2, weight decay (L2)', { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 }],
  ['Adam betas (0.5, 0.9), eps 1e-3', { lr: 3e-2, beta1: 0.5, beta2: 0.9, eps: 1e-3, weightDecay: 0.01 }],
  ['Adam amsgrad', { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.05, amsgrad: true }],
  ['AdamW defaults', { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, decoupled: true }],
  ['AdamW strong decay', { lr: 2e-2, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.5, decoupled: true }],
  ['AdamW amsgrad', { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, decoupled: true, amsgrad: true }],
];

const sgdCases: [string, SgdHyper][] = [
  ['plain', { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }],
  ['weight decay', { lr: 0.05, momentum: 0, dampening: 0, weightDecay: 0.1, nesterov: false }],
  ['momentum', { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false }],
  ['momentum, dampening, weight decay', { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01, nesterov: false }],
  ['Nesterov', { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true }],
  ['Nesterov with weight decay', { lr: 0.02, momentum: 0.8, dampening: 0, weightDecay: 0.2, nesterov: true }],
];

function makeAdam(params: Tensor[], h: AdamHyper): Optimizer<BaseGroupOptions> {
  const cfg = { lr: h.lr, betas: [h.beta1, h.beta2] as [number, number], eps: h.eps, weightDecay: h.weightDecay, amsgrad: !!h.amsgrad };
  return h.decoupled ? new AdamW(params, cfg) : new Adam(params, cfg);
}

describe('Adam and AdamW equal the f64 reference over 5 steps', () => {
  for (const [name, h] of adamCases) {
    it(name, async () => {
      const g = new Generator(11);
      const ps = SHAPES.map((s, k) => param(randomF32(g, size(s)), s, `p${k}`));
      const refs = ps.map(({ init }) => new AdamRef(init, h));
      const opt = makeAdam(ps.map((x) => x.p), h);
      for (let s = 0; s < STEPS; s++) {
        ps.forEach(({ p }, k) => {
          const gr = randomF32(g, p.size, 0.5 + s);
          setGrad(p, gr);
          refs[k]!.step(gr);
        });
        opt.step();
      }
      const states = opt.stateTensors();
      for (let k = 0; k < ps.length; k++) {
        await expectClose(ps[k]!.p, refs[k]!.theta, `${name} param ${k}`);
        expect(relToMax(await states.get(`state.${k}.exp_avg`)!.data(), refs[k]!.m)).toBeLessThanOrEqual(TOL);
        expect(relToMax(await states.get(`state.${k}.exp_avg_sq`)!.data(), refs[k]!.v)).toBeLessThanOrEqual(TOL);
        if (h.amsgrad) expect(relToMax(await states.get(`state.${k}.max_exp_avg_sq`)!.data(), refs[k]!.vmax)).toBeLessThanOrEqual(TOL);
        else expect(states.has(`state.${k}.max_exp_avg_sq`)).toBe(false);
        expect(opt.stepCount(k)).toBe(STEPS);
      }
      opt.dispose();
      for (const { p } of ps) p.dispose();
    });
  }

  it('defaults are PyTorch\'s', () => {
    const { p } = param(new Float32Array(3));
    const a = new Adam([p]);
    expect(a.paramGroups[0]).toMatchObject({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: false });
    const w = new AdamW([p]);
    expect(w.paramGroups[0]).toMatchObject({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, amsgrad: false });
    expect(() => new Adam([p], { betas: [1, 0.999] })).toThrow(/beta1/);
    expect(() => new Adam([p], { lr: -1 })).toThrow(/learning rate/);
    expect(() => new Adam([])).toThrow(/empty/);
    expect(() => new Adam([{ params: [p] }, { params: [p] }])).toThrow(/more than once/);
    p.dispose();
  });
});

describe('SGD equals the f64 reference over 5 steps', () => {
  for (const [name, h] of sgdCases) {
    it(name, async () => {
      const g = new Generator(5);
      const ps = SHAPES.map((s) => param(randomF32(g, size(s)), s));
      const refs = ps.map(({ init }) => new SgdRef(init, h));
      const opt = new SGD(ps.map((x) => x.p), h);
      for (let s = 0; s < STEPS; s++) {
        ps.forEach(({ p }, k) => {
          const gr = randomF32(g, p.size, 1 + 0.3 * s);
          setGrad(p, gr);
          refs[k]!.step(gr);
        });
        opt.step();
      }
      const states = opt.stateTensors();
      for (let k = 0; k < ps.length; k++) {
        await expectClose(ps[k]!.p, refs[k]!.theta, `SGD ${name} param ${k}`);
        if (h.momentum !== 0) expect(relToMax(await states.get(`state.${k}.momentum_buffer`)!.data(), refs[k]!.b)).toBeLessThanOrEqual(TOL);
      }
      if (h.momentum === 0) expect(states.size).toBe(0);
      opt.dispose();
      for (const { p } of ps) p.dispose();
    });
  }

  it('rejects Nesterov without momentum or with dampening', () => {
    const { p } = param(new Float32Array(2));
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/Nesterov/);
    expect(() => new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(/Nesterov/);
    p.dispose();
  });
});

describe('parameter groups and parameters without gradients', () => {
  it('groups with different hyperparameters each follow their own', async () => {
    const g = new Generator(21);
    const a = param(randomF32(g, 40), [8, 5]);
    const b = param(randomF32(g, 17));
    const c = param(randomF32(g, 9), [3, 3]);
    const ha: AdamHyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
    const hb: AdamHyper = { lr: 1e-3, beta1: 0.8, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
    const opt = new Adam([{ params: [a.p, c.p] }, { params: [b.p], lr: hb.lr, betas: [hb.beta1, hb.beta2], weightDecay: hb.weightDecay }], { lr: ha.lr });
    expect(opt.getLr(0)).toBe(1e-2);
    expect(opt.getLr(1)).toBe(1e-3);
    const refs = [new AdamRef(a.init, ha), new AdamRef(c.init, ha), new AdamRef(b.init, hb)];
    const order = [a.p, c.p, b.p];
    expect(opt.params).toEqual(order); // checkpoint order: group 0's params, then group 1's
    for (let s = 0; s < STEPS; s++) {
      order.forEach((p, k) => {
        const gr = randomF32(g, p.size);
        setGrad(p, gr);
        refs[k]!.step(gr);
      });
      opt.step();
    }
    for (let k = 0; k < 3; k++) await expectClose(order[k]!, refs[k]!.theta, `group param ${k}`);
    // setLr changes one group only
    opt.setLr(1, 0);
    const before = await b.p.data();
    const aBefore = await a.p.data();
    opt.step();
    expect(Array.from(await b.p.data())).toEqual(Array.from(before));
    expect(Array.from(await a.p.data())).not.toEqual(Array.from(aBefore));
    expect(() => opt.setLr(2, 0.1)).toThrow(/no parameter group 2/);
    opt.dispose();
    for (const p of order) p.dispose();
  });

  it('a parameter without a gradient is left untouched and its step count does not advance', async () => {
    const g = new Generator(3);
    const ps = [0, 1, 2].map(() => param(randomF32(g, 23)));
    const h: AdamHyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
    const opt = new Adam(ps.map((x) => x.p), { lr: h.lr, weightDecay: h.weightDecay });
    const refs = ps.map(({ init }) => new AdamRef(init, h));
    // p1 never has a gradient; p2 has one on steps 0, 1 and 3 only (its t is 1, 2, 3).
    for (let s = 0; s < 4; s++) {
      for (const k of [0, 2]) {
        if (k === 2 && s === 2) {
          ps[2]!.p.grad?.dispose();
          ps[2]!.p.grad = null;
          continue;
        }
        const gr = randomF32(g, 23);
        setGrad(ps[k]!.p, gr);
        refs[k]!.step(gr);
      }
      opt.step();
    }
    expect(Array.from(await ps[1]!.p.data())).toEqual(Array.from(Float32Array.from(ps[1]!.init)));
    await expectClose(ps[0]!.p, refs[0]!.theta, 'p0');
    await expectClose(ps[2]!.p, refs[2]!.theta, 'p2 (skipped one step)');
    expect([opt.stepCount(0), opt.stepCount(1), opt.stepCount(2)]).toEqual([4, 0, 3]);
    expect([...opt.stateTensors().keys()].sort()).toEqual(['state.0.exp_avg', 'state.0.exp_avg_sq', 'state.2.exp_avg', 'state.2.exp_avg_sq']);
    opt.dispose();
    for (const { p } of ps) p.dispose();
  });

  it('zeroGrad disposes the gradients by default, or fills them with zeros', async () => {
    const a = param(new Float32Array([1, 2, 3]));
    const opt = new SGD([a.p], { lr: 0.1 });
    setGrad(a.p, new Float32Array([4, 5, 6]));
    const grad = a.p.grad!;
    opt.zeroGrad({ setToNone: false });
    expect(a.p.grad).toBe(grad);
    expect(Array.from(await grad.data())).toEqual([0, 0, 0]);
    opt.zeroGrad();
    expect(a.p.grad).toBeNull();
    expect(grad.disposed).toBe(true);
    opt.step(); // no gradient: nothing happens
    expect(Array.from(await a.p.data())).toEqual([1, 2, 3]);
    a.p.dispose();
  });
});

describe('checkpointing the state', () => {
  for (const kind of ['AdamW amsgrad', 'SGD momentum'] as const) {
    it(`${kind}: a resumed optimiser continues bit-identically`, async () => {
      const g = new Generator(8);
      const ps = SHAPES.map((s) => param(randomF32(g, size(s)), s).p);
      const make = (params: Tensor[]) =>
        kind === 'SGD momentum' ? new SGD(params, { lr: 0.05, momentum: 0.9, dampening: 0.1 }) : new AdamW(params, { lr: 1e-2, amsgrad: true });
      const opt = make(ps);
      const grads = [0, 1, 2, 3].map(() => ps.map((p) => randomF32(g, p.size)));
      for (const s of [0, 1]) {
        ps.forEach((p, k) => setGrad(p, grads[s]![k]!));
        opt.step();
      }
      // save: copies of the state tensors and the step counts (as a checkpoint would)
      const saved = new Map([...opt.stateTensors()].map(([k, t]) => [k, copy(t)] as const));
      const steps = Object.fromEntries(opt.stepCounts());
      expect(steps).toEqual({ 'state.0.step': 2, 'state.1.step': 2, 'state.2.step': 2, 'state.3.step': 2 });
      const clones = ps.map((p) => {
        const c = copy(p);
        c.requiresGrad = true;
        return c;
      });
      const resumed = make(clones);
      resumed.loadStateTensors(saved, steps);
      for (const t of saved.values()) t.dispose(); // the optimiser holds its own copies
      for (const s of [2, 3]) {
        ps.forEach((p, k) => setGrad(p, grads[s]![k]!));
        clones.forEach((p, k) => setGrad(p, grads[s]![k]!));
        opt.step();
        resumed.step();
      }
      for (let k = 0; k < ps.length; k++) expect(Array.from(await clones[k]!.data())).toEqual(Array.from(await ps[k]!.data()));
      expect(resumed.stepCount(0)).toBe(4);
      opt.dispose();
      resumed.dispose();
      for (const p of [...ps, ...clones]) p.dispose();
    });
  }

  it('loading rejects bad names, shapes and missing Adam step counts', () => {
    const a = param(new Float32Array(4)).p;
    const opt = new Adam([a]);
    const t4 = tensor(new Float32Array(4));
    const t3 = tensor(new Float32Array(3));
    expect(() => opt.loadStateTensors(new Map([['state.0.exp_avg', t4]]))).toThrow(/state\.0\.step' is missing/);
    expect(() => opt.loadStateTensors(new Map([['state.0.momentum_buffer', t4]]), { 'state.0.step': 1 })).toThrow(/not a state/);
    expect(() => opt.loadStateTensors(new Map([['state.1.exp_avg', t4]]), { 'state.1.step': 1 })).toThrow(/parameter 1/);
    expect(() => opt.loadStateTensors(new Map([['state.0.exp_avg', t3]]), { 'state.0.step': 1 })).toThrow(/shape/);
    opt.loadStateTensors(new Map([['state.0.exp_avg', t4], ['state.0.exp_avg_sq', t4]]), { 'state.0.step': 7 });
    expect(opt.stepCount(0)).toBe(7);
    opt.dispose();
    for (const t of [a, t3, t4]) t.dispose();
  });
});

describe('a training step in steady state', () => {
  it('reads nothing back, allocates nothing, batches Adam\'s parameters into shared launches, and its state survives tidy', async () => {
    const e = eng.get();
    const g = new Generator(99);
    const shapes = [[64, 3, 3, 3], [64], [10, 64], [10], [1000]];
    const ps = shapes.map((s) => param(randomF32(g, size(s), 0.1), s).p);
    // Adam: as many parameters per dispatch as the storage-buffer limit allows (4 or 5 bindings each); SGD: one each
    const perLaunch = (bindings: number) => Math.min(16, Math.floor(e.limits.maxStorageBuffersPerShaderStage / bindings));
    for (const [make, launches] of [
      [() => new Adam(ps, { lr: 1e-3, weightDecay: 1e-4, amsgrad: true }), Math.ceil(ps.length / perLaunch(5))],
      [() => new AdamW(ps, { lr: 1e-3 }), Math.ceil(ps.length / perLaunch(4))],
      [() => new SGD(ps, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }), ps.length],
    ] as const) {
      const opt = make();
      // inside tidy, as a training loop would: the optimiser's state must survive the scope
      const train = () =>
        tidy(() => {
          for (const p of ps) setGrad(p, randomF32(g, p.size));
          clipGradNorm(ps, 1.0);
          opt.step();
        });
      train(); // warm-up: creates the state and compiles the kernels
      await e.sync();
      const readbacks = e.counters.readbacks;
      const allocations = e.pool.getStats().allocations;
      for (let s = 0; s < 5; s++) train();
      for (const t of opt.stateTensors().values()) expect(t.disposed).toBe(false);
      const before = e.counters.dispatches;
      opt.step();
      expect(e.counters.dispatches - before).toBe(launches);
      await e.sync();
      expect(e.counters.readbacks).toBe(readbacks);
      expect(e.pool.getStats().allocations).toBe(allocations);
      opt.zeroGrad();
      opt.dispose();
    }
    for (const p of ps) p.dispose();
  });
});

describe('with gradients from backward', () => {
  it('Adam minimises sum(w^2 * c) like the reference fed the analytic gradient', async () => {
    const g = new Generator(4);
    const w = param(randomF32(g, 24), [4, 6]);
    const cData = Float32Array.from(randomF32(g, 24), Math.abs);
    const c = tensor(cData, [4, 6]);
    const h: AdamHyper = { lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
    const opt = new Adam([w.p], { lr: h.lr });
    const ref = new AdamRef(w.init, h);
    for (let s = 0; s < STEPS; s++) {
      // the analytic gradient 2 c w at the current (f32) weights
      const cur = await w.p.data();
      ref.step(Float64Array.from(cur, (x, i) => 2 * cData[i]! * x));
      ref.theta.set(ref.theta.map((x) => Math.fround(x))); // the reference continues from f32 weights
      tidy(() => backward(sum(mul(square(w.p), c))));
      opt.step();
      opt.zeroGrad();
    }
    await expectClose(w.p, ref.theta, 'Adam on backward gradients');
    opt.dispose();
    w.p.dispose();
    c.dispose();
  });
});
