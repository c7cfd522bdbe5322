import { describe, expect, it } from 'vitest';
import { backward, tensor } from '../../engine/index.ts';
import { mulberry32, randomArr } from '../reference/array.ts';
import { useEngine } from '../helpers/gpu.ts';
import { VARIANT_SETS, useVariants } from '../helpers/conv-variants.ts';
import { checkOp } from '../helpers/op-check.ts';
import { conv2d as refConv, conv2dBackward } from '../reference/conv2d.ts';
import { conv2d } from '../../engine/ops/conv.ts';
import { cases, gpuOpts, refOpts } from './conv2d-cases.ts';

// Every variant set over every case (the tiles' own cases: conv2d-direct-tiles, conv2d-winograd,
// conv2d-cols-phase).
useEngine();

describe.each(VARIANT_SETS)('conv2d against the f64 reference (forward, dx, dw, db), variants $name', ({ name, set }) => {
  for (const c of cases) {
    const label = `x[${c.n},${c.c},${c.h},${c.w}] k${c.k} o${c.o} s${c.stride ?? 1} d${c.dilation ?? 1} pad ${c.pad ?? 0}${c.bias ? ' bias' : ''}`;
    it(label, async () => {
      useVariants(set);
      const ro = refOpts(c);
      const [kh, kw] = typeof c.k === 'number' ? [c.k, c.k] : c.k;
      const opts = gpuOpts(c);
      const inputs = [
        { shape: [c.n, c.c, c.h, c.w], grad: true },
        { shape: [c.o, c.c, kh, kw], grad: true },
        ...(c.bias ? [{ shape: [c.o], grad: true }] : []),
      ];
      await checkOp({
        op: 'conv2d',
        label: `${label} [${name}]`,
        inputs,
        gpu: ([x, w, b]) => conv2d(x!, w!, b ?? null, opts),
        ref: ([x, w, b]) => refConv(x!, w!, b ?? null, ro),
        refBackward: ([x, w], dy) => {
          const g = conv2dBackward(x!, w!, dy, ro, !!c.bias);
          return c.bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
        },
      });
    });
  }
});

describe('direct conv variants are deterministic', () => {
  it('two runs of forward, dx and dw are bit-identical', async () => {
    useVariants(VARIANT_SETS[1]!.set);
    const run = async () => {
      const rng = mulberry32(7);
      const x = tensor(Float32Array.from(randomArr([2, 16, 19, 23], rng).data), [2, 16, 19, 23]);
      const w = tensor(Float32Array.from(randomArr([24, 16, 3, 3], rng).data), [24, 16, 3, 3]);
      x.requiresGrad = true;
      w.requiresGrad = true;
      const y = conv2d(x, w, null, { padding: 1 });
      backward(y, tensor(Float32Array.from(randomArr([...y.shape], rng).data), y.shape));
      const out = [await y.data(), await x.grad!.data(), await w.grad!.data()];
      for (const t of [x, w, y]) t.dispose();
      return out;
    };
    const a = await run(), b = await run();
    for (let i = 0; i < 3; i++) expect(Buffer.from(b[i]!.buffer).equals(Buffer.from(a[i]!.buffer)), `output ${i}`).toBe(true);
  });
});
