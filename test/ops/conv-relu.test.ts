/**
 * The fused conv + bias + ReLU (`relu: true` on conv2d and convTranspose2d) against the f64
 * references relu(conv(x) + b), its gradients (ReLU's mask fused into the bias-gradient pass)
 * under every conv variant set, and the single-dispatch bias-gradient kernels alone.
 */
import { describe, expect, it } from 'vitest';
import { backward, relu, sum, tensor, tidy } from '../../engine/index.ts';
import { type Arr, arr, mulberry32, randomArr } from '../reference/array.ts';
import { relu as refRelu, reluBackward as refReluBackward } from '../reference/activation.ts';
import { useEngine } from '../helpers/gpu.ts';
import { VARIANT_SETS, useVariants } from '../helpers/conv-variants.ts';
import { checkOp, relError, F32_TOLERANCE } from '../helpers/op-check.ts';
import { conv2d as refConv, conv2dBackward, tfConv2dOpts, type Conv2dOpts } from '../reference/conv2d.ts';
import { convTranspose2d as refConvT, convTranspose2dBackward, tfSameConvTransposeOpts, torchConvTransposeOpts } from '../reference/conv-transpose2d.ts';
import { conv2d, convTranspose2d } from '../../engine/ops/conv.ts';
import { biasGradient, reluMaskBiasGradient } from '../../engine/kernels/bias-grad.ts';

const eng = useEngine();

interface Case {
  n: number; c: number; h: number; w: number; o: number; k: number; stride?: number; pad: [number, number, number, number] | 'same'; bias: boolean;
}

const cases: Case[] = [
  { n: 3, c: 5, h: 13, w: 13, o: 5, k: 3, pad: 'same', bias: true }, // batch > 1, odd sizes
  { n: 1, c: 3, h: 32, w: 32, o: 64, k: 3, pad: [1, 1, 1, 1], bias: true }, // many channels, large plane
  { n: 2, c: 3, h: 5, w: 37, o: 10, k: 3, pad: [1, 1, 1, 1], bias: true }, // rows wider than a tile
  { n: 2, c: 4, h: 13, w: 7, o: 3, k: 3, stride: 2, pad: 'same', bias: true }, // strided
  { n: 2, c: 3, h: 10, w: 10, o: 4, k: 7, pad: 'same', bias: true }, // fc6's 7x7
  { n: 3, c: 9, h: 9, w: 11, o: 17, k: 3, pad: 'same', bias: false }, // no bias: the mask alone
];

function refOpts(c: Case): Conv2dOpts {
  const s = c.stride ?? 1;
  if (c.pad === 'same') return tfConv2dOpts('same', [c.h, c.w], [c.k, c.k], [s, s], [1, 1]);
  return { stride: [s, s], dilation: [1, 1], padding: c.pad };
}

describe.each(VARIANT_SETS)('conv2d with fused ReLU against relu(conv) in f64 (forward, dx, dw, db), variants $name', ({ name, set }) => {
  for (const c of cases) {
    const label = `x[${c.n},${c.c},${c.h},${c.w}] k${c.k} o${c.o} s${c.stride ?? 1} pad ${c.pad}${c.bias ? ' bias' : ''}`;
    it(label, async () => {
      useVariants(set);
      const ro = refOpts(c);
      await checkOp({
        op: 'conv2dRelu',
        label: `${label} [${name}]`,
        inputs: [
          { shape: [c.n, c.c, c.h, c.w], grad: true },
          { shape: [c.o, c.c, c.k, c.k], grad: true },
          ...(c.bias ? [{ shape: [c.o], grad: true }] : []),
        ],
        gpu: ([x, w, b]) => conv2d(x!, w!, b ?? null, { stride: c.stride ?? 1, padding: c.pad, relu: true }),
        ref: ([x, w, b]) => refRelu(refConv(x!, w!, b ?? null, ro)),
        refBackward: ([x, w, b], dy) => {
          const gm = refReluBackward(refConv(x!, w!, b ?? null, ro), dy);
          const g = conv2dBackward(x!, w!, gm, ro, c.bias);
          return c.bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
        },
      });
    });
  }
});

const tCases = [
  { n: 3, cin: 4, cout: 3, h: 7, w: 7, k: 5, stride: 2, same: true, bias: true }, // deconv5..2
  { n: 1, cin: 8, cout: 4, h: 5, w: 5, k: 1, stride: 2, same: true, bias: true }, // deconv6
  { n: 2, cin: 3, cout: 5, h: 7, w: 6, k: 3, stride: 2, same: false, bias: false },
];

describe.each(VARIANT_SETS)('convTranspose2d with fused ReLU against relu(convTranspose) in f64, variants $name', ({ name, set }) => {
  for (const c of tCases) {
    const label = `x[${c.n},${c.cin},${c.h},${c.w}] k${c.k} -> ${c.cout} s${c.stride}${c.same ? ' same' : ' torch p1 op1'}${c.bias ? ' bias' : ''}`;
    it(label, async () => {
      useVariants(set);
      const ro = c.same
        ? tfSameConvTransposeOpts([c.h, c.w], [c.k, c.k], [c.stride, c.stride])
        : torchConvTransposeOpts([c.h, c.w], [c.k, c.k], [c.stride, c.stride], [1, 1], [1, 1], [1, 1]);
      const go = c.same ? { stride: c.stride, padding: 'same' as const, relu: true } : { stride: c.stride, padding: 1, outputPadding: 1, relu: true };
      await checkOp({
        op: 'convTranspose2dRelu',
        label: `${label} [${name}]`,
        inputs: [
          { shape: [c.n, c.cin, c.h, c.w], grad: true },
          { shape: [c.cin, c.cout, c.k, c.k], grad: true },
          ...(c.bias ? [{ shape: [c.cout], grad: true }] : []),
        ],
        gpu: ([x, w, b]) => convTranspose2d(x!, w!, b ?? null, go),
        ref: ([x, w, b]) => refRelu(refConvT(x!, w!, b ?? null, ro)),
        refBackward: ([x, w, b], dy) => {
          const gm = refReluBackward(refConvT(x!, w!, b ?? null, ro), dy);
          const g = convTranspose2dBackward(x!, w!, gm, ro, c.bias);
          return c.bias ? [g.dx, g.dw, g.db] : [g.dx, g.dw];
        },
      });
    });
  }
});

/** db[o] = sum over n, pixels of dy (f64). */
function refBias(dy: Arr): Float64Array {
  const [N, O] = dy.shape as [number, number];
  const plane = dy.data.length / (N * O);
  const out = new Float64Array(O);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let j = 0; j < plane; j++) out[o] += dy.data[(n * O + o) * plane + j]!;
  return out;
}

describe('the bias-gradient kernels', () => {
  // channels beyond one workgroup's lanes, planes not a multiple of them, one pixel, batch > 1
  const shapes = [[3, 300, 5, 7], [2, 3, 64, 64], [4, 1, 1, 1], [1, 2, 129, 1]];
  for (const shape of shapes) {
    it(`[${shape}]: db and the masked gradient equal the f64 sums, and repeat bit for bit`, async () => {
      const rng = mulberry32(shape.reduce((a, b) => a * 31 + b, 7));
      const dy = randomArr(shape, rng);
      const pre = randomArr(shape, rng); // the ReLU's input; its output y is relu(pre)
      const y = arr(shape, pre.data.map((v) => Math.max(Math.fround(v), 0)));
      const masked = arr(shape, dy.data.map((v, i) => (y.data[i]! > 0 ? Math.fround(v) : 0)));
      const run = () =>
        tidy(() => {
          const dyT = tensor(Float32Array.from(dy.data), shape);
          const yT = tensor(Float32Array.from(y.data), shape);
          const { gm, db: dbm } = reluMaskBiasGradient(dyT, yT);
          return { db: biasGradient(dyT), gm, dbm };
        });
      const a = run();
      const dyF32 = arr(shape, Float64Array.from(Float32Array.from(dy.data)));
      expect(relError(await a.db.data(), refBias(dyF32)), 'db').toBeLessThan(F32_TOLERANCE);
      expect(Array.from(await a.gm.data()), 'masked gradient').toEqual(Array.from(masked.data));
      expect(relError(await a.dbm.data(), refBias(masked)), 'db of the masked gradient').toBeLessThan(F32_TOLERANCE);
      const b = run();
      expect(Array.from(await b.db.data())).toEqual(Array.from(await a.db.data()));
      expect(Array.from(await b.dbm.data())).toEqual(Array.from(await a.dbm.data()));
      // one dispatch each
      tidy(() => {
        const t = tensor(Float32Array.from(dy.data), shape);
        const before = eng.get().counters.dispatches;
        biasGradient(t);
        reluMaskBiasGradient(t, t);
        expect(eng.get().counters.dispatches - before).toBe(2);
      });
      for (const t of [a.db, a.gm, a.dbm, b.db, b.gm, b.dbm]) t.dispose();
    });
  }
});

describe('conv2d relu: the fused step needs fewer dispatches than conv then relu', () => {
  it('one pass fewer forward and one fewer backward', async () => {
    const e = eng.get();
    const rng = mulberry32(3);
    const count = (fused: boolean) =>
      tidy(() => {
        const x = tensor(Float32Array.from(randomArr([2, 3, 9, 9], rng).data), [2, 3, 9, 9]);
        const w = tensor(Float32Array.from(randomArr([4, 3, 3, 3], rng).data), [4, 3, 3, 3]);
        const b = tensor(Float32Array.from(randomArr([4], rng).data), [4]);
        for (const t of [x, w, b]) t.requiresGrad = true;
        const d0 = e.counters.dispatches;
        const y = fused ? conv2d(x, w, b, { padding: 1, relu: true }) : relu(conv2d(x, w, b, { padding: 1 }));
        const d1 = e.counters.dispatches;
        backward(sum(y));
        return [d1 - d0, e.counters.dispatches - d1];
      });
    const [fusedFwd, fusedBwd] = count(true);
    const [plainFwd, plainBwd] = count(false);
    expect(fusedFwd).toBe(plainFwd - 1);
    expect(fusedBwd).toBe(plainBwd - 1); // reluBackward + biasGrad -> one reluMaskBiasGrad
  });
});
