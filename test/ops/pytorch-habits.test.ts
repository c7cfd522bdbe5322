/**
 * PyTorch's habits: numbers as operands of add/sub/mul/div (values and gradients against the f64
 * references), comparisons, loss.backward() as a method, sum over all axes, functional aliases.
 */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { checkOp } from '../helpers/op-check.ts';
import * as ref from '../reference/elementwise.ts';
import { arr, mulberry32, randomArr } from '../reference/array.ts';
import {
  add, sub, mul, div, eq, ne, gt, ge, lt, le, neg, sum, tensor, tidy, backward, cat, concat, batchNorm, batchNorm2d,
} from '../../engine/index.ts';

useEngine();

const binaries = { add, sub, mul, div } as const;
const SHAPES = [[7], [3, 5], [2, 3, 5, 5]];

describe('numbers as operands', () => {
  for (const [name, fn] of Object.entries(binaries)) {
    const op = name as ref.BinaryOp;
    for (const shape of SHAPES) {
      for (const s of [2.5, -0.75]) {
        it(`${name}(tensor [${shape}], ${s})`, async () => {
          const scalar = arr([1], [s]);
          await checkOp({
            op: `${name}(t, n)`,
            label: `[${shape}] ${s}`,
            inputs: [{ shape, grad: true }],
            gpu: ([a]) => fn(a!, s),
            ref: ([a]) => ref.binary(op, a!, scalar),
            refBackward: ([a], dy) => [ref.binaryBackward(op, a!, scalar, dy).da],
          });
        });
        it(`${name}(${s}, tensor [${shape}])`, async () => {
          const scalar = arr([1], [s]);
          await checkOp({
            op: `${name}(n, t)`,
            label: `${s} [${shape}]`,
            // keep divisors away from 0
            inputs: [{ shape, grad: true, ...(name === 'div' ? { lo: 0.5, hi: 2 } : {}) }],
            gpu: ([b]) => fn(s, b!),
            ref: ([b]) => ref.binary(op, scalar, b!),
            refBackward: ([b], dy) => [ref.binaryBackward(op, scalar, b!, dy).db],
          });
        });
      }
    }
  }

  it('neg', async () => {
    await checkOp({
      op: 'neg',
      label: '[3, 4]',
      inputs: [{ shape: [3, 4], grad: true }],
      gpu: ([a]) => neg(a!),
      ref: ([a]) => ref.mulScalar(a!, -1),
      refBackward: (_xs, dy) => [ref.mulScalarBackward(dy, -1)],
    });
  });

  it('two numbers are refused with a clear message', () => {
    expect(() => add(1 as never, 2 as never)).toThrow(/at least one operand must be a Tensor/);
  });
});

describe('comparisons', () => {
  const rng = mulberry32(7);
  // Values on a coarse grid so that ties (a == b) really occur.
  const grid = (shape: number[]) => {
    const a = randomArr(shape, rng, -2, 2);
    a.data.forEach((v, i) => (a.data[i] = Math.round(v)));
    return a;
  };
  const rel = { eq: (x: number, y: number) => x === y, ne: (x: number, y: number) => x !== y, gt: (x: number, y: number) => x > y, ge: (x: number, y: number) => x >= y, lt: (x: number, y: number) => x < y, le: (x: number, y: number) => x <= y };
  const fns = { eq, ne, gt, ge, lt, le } as const;
  for (const [name, fn] of Object.entries(fns)) {
    const want = rel[name as keyof typeof rel];
    it(`${name}: tensors with broadcasting, and numbers on either side`, async () => {
      const a = grid([3, 4]), b = grid([4]);
      const bb = ref.broadcastTo(b, [3, 4]);
      const expected = Array.from(a.data, (x, i) => (want(x, bb.data[i]!) ? 1 : 0));
      expect(expected.some((v) => v === 1) && expected.some((v) => v === 0)).toBe(true);
      const outs = tidy(() => {
        const ta = tensor(Float32Array.from(a.data), [3, 4]);
        const tb = tensor(Float32Array.from(b.data), [4]);
        return [fn(ta, tb), fn(ta, 0), fn(0, ta)];
      });
      const [tt, tn, nt] = await Promise.all(outs.map(async (t) => Array.from(await t.data())));
      outs.forEach((t) => t.dispose());
      expect(tt).toEqual(expected);
      expect(tn).toEqual(Array.from(a.data, (x) => (want(x, 0) ? 1 : 0)));
      expect(nt).toEqual(Array.from(a.data, (x) => (want(0, x) ? 1 : 0)));
    });
  }

  it('carry no gradient (as a bool tensor in PyTorch)', () => {
    const x = tensor([1, 2, 3]);
    x.requiresGrad = true;
    const m = gt(x, 1.5);
    expect(m.node).toBeNull();
    expect(() => sum(m).backward()).toThrow(/has no graph/);
    x.dispose();
    m.dispose();
  });
});

describe('autograd habits', () => {
  it('loss.backward() accumulates the same gradients as backward(loss)', async () => {
    const data = [0.5, -1, 2, 3];
    const grads: number[][] = [];
    for (const viaMethod of [true, false]) {
      const x = tensor(data, [2, 2]);
      x.requiresGrad = true;
      tidy(() => {
        const loss = sum(mul(mul(x, x), 3)); // d/dx = 6x
        if (viaMethod) loss.backward();
        else backward(loss);
      });
      grads.push(Array.from(await x.grad!.data()));
      x.dispose();
    }
    expect(grads[0]).toEqual([3, -6, 12, 18]);
    expect(grads[1]).toEqual(grads[0]);
  });

  it('sum(x) reduces over all axes to a scalar', async () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [1, 2, 3]);
    const s = sum(x);
    expect(s.shape).toEqual([]);
    expect(await s.item()).toBe(21);
    x.dispose();
    s.dispose();
  });

  it('torch.nn.functional-style aliases are the same functions', () => {
    expect(cat).toBe(concat);
    expect(batchNorm).toBe(batchNorm2d);
  });
});
