import { describe, expect, it } from 'vitest';
import { type Arr, arr, mulberry32, randomArr } from './array.ts';
import { charbonnier, charbonnierBackward } from './charbonnier.ts';
import { checkBackward, expectClose } from './grad-check.ts';

describe('charbonnier, hand-computed', () => {
  it('mask broadcast over channels in the numerator, pixels counted once in the denominator', () => {
    // N=1, C=2, H=1, W=2; target 0; pred c0 = [1.2, 0], c1 = [0, 1.2]; mask [1, 0]; eps = 0.25
    // pixel 0 (mask 1): c0 sqrt(1.44 + 0.25) = 1.3, c1 sqrt(0 + 0.25) = 0.5; pixel 1 masked out
    // loss = (1.3 + 0.5) / (1 + 0.25) = 1.44
    const pred = arr([1, 2, 1, 2], [1.2, 0, 0, 1.2]);
    const target = arr([1, 2, 1, 2]);
    const w = arr([1, 1, 1, 2], [1, 0]);
    expect(charbonnier(pred, target, w, 0.25)).toBeCloseTo(1.44, 14);
    // dPred = dLoss * w * d / sqrt(d^2 + eps) / U: only (c0, pixel 0) is nonzero: 2 * 1.2 / 1.3 / 1.25
    const g = charbonnierBackward(pred, target, w, 0.25, 2);
    expectClose(g.dPred, [(2 * 1.2) / (1.3 * 1.25), 0, 0, 0]);
    expectClose(g.dTarget, [-(2 * 1.2) / (1.3 * 1.25), 0, 0, 0]);
  });

  it('one denominator for the whole batch', () => {
    // N=2, C=1, 1x1 each, eps = 0: |3| * 1 + |4| * 1 over 2 unknown pixels = 3.5
    const loss = charbonnier(arr([2, 1, 1, 1], [3, -4]), arr([2, 1, 1, 1]), arr([2, 1, 1, 1], [1, 1]), 0);
    expect(loss).toBe(3.5);
  });
});

describe('charbonnier backward vs finite differences', () => {
  const cases = [
    { name: 'alpha loss: C1, 0/1 mask, eps 1e-12', shape: [2, 1, 5, 4], soft: false, eps: 1e-12 },
    { name: 'compositional: C3, 0/1 mask, eps 1e-12', shape: [2, 3, 4, 3], soft: false, eps: 1e-12 },
    { name: 'soft weights, eps 1e-2', shape: [1, 2, 3, 5], soft: true, eps: 1e-2 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const rng = mulberry32(c.name.length);
      const [N, , H, W] = c.shape;
      const w = randomArr([N, 1, H, W], rng, 0, 1);
      if (!c.soft) for (let i = 0; i < w.data.length; i++) w.data[i] = w.data[i] < 0.5 ? 0 : 1;
      const pred = randomArr(c.shape, rng, 0, 1);
      const target = randomArr(c.shape, rng, 0, 1);
      // a scalar loss: wrap it as a 1-element array so checkBackward can weight it by R
      const asArr = (v: number): Arr => arr([1], [v]);
      checkBackward(
        ([p, t]) => asArr(charbonnier(p, t, w, c.eps)),
        ([p, t], dy) => {
          const g = charbonnierBackward(p, t, w, c.eps, dy.data[0]);
          return [g.dPred, g.dTarget];
        },
        [pred, target],
        rng,
      );
    });
  }
});
