import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import {
  backward, noGrad, randn, tensor, tidy, keep, Tensor,
  add, mul, relu, sigmoid, sum, mean, square, affine,
} from '../../engine/index.ts';
import { conv2d, convTranspose2d } from '../../engine/ops/conv.ts';

const eng = useEngine();

describe('autograd', () => {
  it('accumulates gradients into .grad across backward calls, and through a tensor used twice', async () => {
    const x = keep(tensor([1, 2, 3], [3]));
    x.requiresGrad = true;
    tidy(() => backward(sum(mul(x, x)))); // d/dx sum(x^2) = 2x
    expect(Array.from(await x.grad!.data())).toEqual([2, 4, 6]);
    tidy(() => backward(sum(add(x, affine(x, 3))))); // + (1 + 3)
    expect(Array.from(await x.grad!.data())).toEqual([6, 8, 10]);
    x.dispose();
  });

  it('noGrad records nothing; detach cuts the graph; requiresGrad leaves only get .grad', async () => {
    const w = keep(tensor([0.5, -1], [2]));
    w.requiresGrad = true;
    const y = noGrad(() => mul(w, w));
    expect(y.node).toBeNull();
    expect(() => backward(sum(y))).toThrow(/no graph/);
    const d = w.detach();
    expect(d.requiresGrad).toBe(false);
    const z = sum(mul(w, d)); // gradient only through the first factor: d
    backward(z);
    expect(Array.from(await w.grad!.data())).toEqual([0.5, -1]);
    const c = tensor([1, 2], [2]);
    tidy(() => backward(sum(mul(w, c))));
    expect(c.grad).toBeNull();
    w.dispose();
  });

  it('a graph cannot be walked twice (its saved tensors are released after the first walk)', () => {
    const w = keep(tensor([1, 2], [2]));
    w.requiresGrad = true;
    const loss = sum(square(w));
    backward(loss);
    expect(() => backward(loss)).toThrow(/no graph/);
    w.dispose();
  });

  it('a small conv net: gradients of the scalar loss match central finite differences on the GPU', async () => {
    // conv -> relu -> convT (stride 2) -> sigmoid -> mean of squares: the chain the matting model is made of.
    const x = keep(randn([2, 3, 6, 6], { seed: 1 }));
    const w1 = keep(randn([4, 3, 3, 3], { seed: 2, std: 0.3 }));
    const b1 = keep(randn([4], { seed: 3, std: 0.1 }));
    const w2 = keep(randn([4, 2, 5, 5], { seed: 4, std: 0.2 }));
    for (const p of [x, w1, b1, w2]) p.requiresGrad = true;
    const lossOf = () => {
      const h = relu(conv2d(x, w1, b1, { padding: 'same' }));
      const y = sigmoid(convTranspose2d(h, w2, null, { stride: 2, padding: 'same' }));
      return mean(square(affine(y, 1, -0.3)));
    };
    tidy(() => backward(lossOf()));
    const h = 1e-2;
    for (const p of [x, w1, b1, w2]) {
      const analytic = await p.grad!.data();
      const values = await p.data();
      // probe a handful of coordinates per parameter (f32 finite differences, step 1e-2)
      const probes = [0, 1, Math.floor(p.size / 2), p.size - 1];
      for (const i of probes) {
        const at = async (delta: number) => {
          const v = Float32Array.from(values);
          v[i]! += delta;
          eng.get().write(p.buffer, 0, v);
          return noGrad(() => tidy(() => keep(lossOf()))).item();
        };
        const numeric = ((await at(h)) - (await at(-h))) / (2 * h);
        eng.get().write(p.buffer, 0, values);
        expect(Math.abs(numeric - analytic[i]!), `param [${p.shape}] index ${i}: ${analytic[i]} vs ${numeric}`).toBeLessThan(
          2e-3 * Math.max(1e-2, Math.abs(numeric)) + 2e-4,
        );
      }
    }
    for (const p of [x, w1, b1, w2]) p.dispose();
  });

  it('1,000 training steps leave live GPU bytes flat and allocate nothing new', async () => {
    const e = eng.get();
    const w = keep(randn([4, 3, 3, 3], { seed: 5, std: 0.3 }));
    w.requiresGrad = true;
    const x = keep(randn([2, 3, 8, 8], { seed: 6 }));
    const step = () =>
      tidy(() => {
        const loss = mean(square(relu(conv2d(x, w, null, { padding: 1 }))));
        backward(loss);
        // a plain SGD update in place, as the optimiser kernels do
        noGrad(() => {
          const updated = add(w, affine(w.grad!, -0.01));
          e.copy(updated.buffer, 0, w.buffer, 0, w.byteLength);
        });
        w.grad!.dispose();
        w.grad = null;
      });
    for (let i = 0; i < 20; i++) step(); // warm-up fills the pool
    await e.sync();
    const before = e.pool.getStats();
    for (let i = 0; i < 1000; i++) step();
    await e.sync();
    const after = e.pool.getStats();
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(after.allocations).toBe(before.allocations);
    w.dispose();
    x.dispose();
  });

  it('is deterministic: the same inputs give bit-identical outputs and gradients', async () => {
    const run = async () => {
      const w = keep(randn([8, 5, 3, 3], { seed: 9 }));
      w.requiresGrad = true;
      const x = randn([3, 5, 13, 13], { seed: 10 });
      const y = tidy(() => {
        const out = conv2d(x, w, null, { padding: 'same', stride: 2 });
        backward(sum(square(out)));
        return out;
      });
      const res = [Array.from(await y.data()), Array.from(await w.grad!.data())];
      w.dispose();
      return res;
    };
    const a = await run();
    const b = await run();
    expect(a[0]).toEqual(b[0]);
    expect(a[1]).toEqual(b[1]);
  });
});
