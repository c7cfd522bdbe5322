import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { checkOp, relError } from '../helpers/op-check.ts';
import { arr, mulberry32, randomArr, type Arr } from '../reference/array.ts';
import { batchNorm2d as refBatchNorm, batchNorm2dBackward as refBatchNormBackward, type BatchNorm2dOpts } from '../reference/batch-norm.ts';
import { backward, keep, tensor, tidy, type Tensor } from '../../engine/index.ts';
import { batchNorm2d } from '../../engine/ops/batch-norm.ts';

const engine = useEngine();

interface Case {
  shape: [number, number, number, number];
  training: boolean;
  momentum?: number;
  eps?: number;
  /** input value range (an offset mean checks the two-pass variance) */
  lo?: number;
  hi?: number;
  affine?: boolean;
}

const cases: Case[] = [
  { shape: [3, 1, 1, 1], training: true },
  { shape: [1, 3, 2, 2], training: true },
  { shape: [3, 4, 7, 7], training: true },
  { shape: [1, 5, 13, 13], training: true, momentum: 0.3, eps: 1e-3 },
  { shape: [3, 64, 7, 7], training: true },
  { shape: [1, 3, 32, 32], training: true },
  { shape: [3, 5, 13, 13], training: true, lo: 5, hi: 7 },
  { shape: [3, 4, 2, 2], training: true, affine: false },
  { shape: [1, 1, 1, 1], training: false },
  { shape: [3, 4, 7, 7], training: false },
  { shape: [1, 64, 13, 13], training: false, eps: 1e-3 },
  { shape: [3, 5, 32, 32], training: false },
  { shape: [1, 3, 2, 2], training: false, affine: false },
];

function label(c: Case): string {
  return `x[${c.shape}] ${c.training ? 'training' : 'eval'}${c.momentum ? ` momentum ${c.momentum}` : ''}${c.eps ? ` eps ${c.eps}` : ''}${c.lo ? ` x in [${c.lo}, ${c.hi})` : ''}${c.affine === false ? ' no affine' : ''}`;
}

describe('batchNorm2d against the f64 reference (forward, dx, dgamma, dbeta, running statistics)', () => {
  for (const c of cases) {
    it(label(c), async () => {
      const C = c.shape[1];
      const rng = mulberry32(77);
      const o: BatchNorm2dOpts = {
        training: c.training,
        momentum: c.momentum ?? 0.1,
        eps: c.eps ?? 1e-5,
        runningMean: randomArr([C], rng, -0.5, 0.5),
        runningVar: randomArr([C], rng, 0.5, 1.5),
      };
      const affine = c.affine !== false;
      let running: [Tensor, Tensor] | null = null;
      const ones = arr([C], new Array<number>(C).fill(1)), zeros = arr([C]);
      await checkOp({
        op: 'batchNorm2d',
        label: label(c),
        inputs: [
          { shape: c.shape, grad: true, lo: c.lo, hi: c.hi },
          ...(affine ? [{ shape: [C], grad: true, lo: 0.5, hi: 1.5 }, { shape: [C], grad: true }] : []),
        ],
        gpu: ([x, g, b]) => {
          const rm = keep(tensor(Float32Array.from(o.runningMean.data), [C]));
          const rv = keep(tensor(Float32Array.from(o.runningVar.data), [C]));
          running = [rm, rv];
          return batchNorm2d(x!, g ?? null, b ?? null, rm, rv, { training: c.training, momentum: c.momentum, eps: c.eps });
        },
        ref: ([x, g, b]) => refBatchNorm(x!, g ?? ones, b ?? zeros, o).y,
        refBackward: ([x, g], dy) => {
          const r = refBatchNormBackward(x!, g ?? ones, dy, o);
          return affine ? [r.dx, r.dgamma, r.dbeta] : [r.dx];
        },
      });
      // running statistics: updated in place like the reference in training, untouched in eval
      const [rm, rv] = running!;
      const x = randomArr(c.shape, mulberry32(1234), c.lo ?? -1, c.hi ?? 1); // checkOp's first draw
      const want = refBatchNorm(x, ones, zeros, o);
      expect(relError(await rm.data(), want.newRunningMean.data), 'running mean').toBeLessThan(1e-5);
      expect(relError(await rv.data(), want.newRunningVar.data), 'running var').toBeLessThan(1e-5);
      if (!c.training) {
        expect(Array.from(await rm.data())).toEqual(Array.from(Float32Array.from(o.runningMean.data)));
        expect(Array.from(await rv.data())).toEqual(Array.from(Float32Array.from(o.runningVar.data)));
      }
      rm.dispose();
      rv.dispose();
    });
  }

  it('running statistics over several training steps (momentum 0.1), then eval uses them', async () => {
    const shape = [3, 4, 7, 7];
    const C = 4;
    const rng = mulberry32(21);
    const xs: Arr[] = [0, 1, 2].map(() => randomArr(shape, rng, -2, 3));
    let rmRef = arr([C]), rvRef = arr([C], [1, 1, 1, 1]);
    const rm = tensor(new Float32Array(C), [C]), rv = tensor(new Float32Array(C).fill(1), [C]);
    const ones = arr([C], [1, 1, 1, 1]), zeros = arr([C]);
    for (const x of xs) {
      tidy(() => batchNorm2d(tensor(Float32Array.from(x.data), shape), null, null, rm, rv, { training: true }));
      const r = refBatchNorm(x, ones, zeros, { training: true, eps: 1e-5, momentum: 0.1, runningMean: rmRef, runningVar: rvRef });
      rmRef = r.newRunningMean;
      rvRef = r.newRunningVar;
    }
    expect(relError(await rm.data(), rmRef.data)).toBeLessThan(1e-5);
    expect(relError(await rv.data(), rvRef.data)).toBeLessThan(1e-5);
    const y = tidy(() => batchNorm2d(tensor(Float32Array.from(xs[0]!.data), shape), null, null, rm, rv, { training: false }));
    const want = refBatchNorm(xs[0]!, ones, zeros, { training: false, eps: 1e-5, momentum: 0.1, runningMean: rmRef, runningVar: rvRef });
    expect(relError(await y.data(), want.y.data)).toBeLessThan(1e-4);
    for (const t of [rm, rv, y]) t.dispose();
  });

  it('values, running statistics and gradients are reproducible (two runs bit-identical)', async () => {
    const shape = [3, 64, 13, 13];
    const rng = mulberry32(8);
    const xd = Float32Array.from({ length: 3 * 64 * 169 }, () => rng() * 4 - 1);
    const gyd = Float32Array.from({ length: xd.length }, () => rng() - 0.5);
    const run = async () => {
      const out = tidy(() => {
        const x = tensor(xd, shape);
        const g = tensor(new Float32Array(64).fill(1.5), [64]);
        const b = tensor(new Float32Array(64).fill(0.25), [64]);
        x.requiresGrad = g.requiresGrad = b.requiresGrad = true;
        const rm = tensor(new Float32Array(64), [64]), rv = tensor(new Float32Array(64).fill(1), [64]);
        const y = batchNorm2d(x, g, b, rm, rv, { training: true });
        backward(y, tensor(gyd, shape));
        return [y, rm, rv, x.grad!.detach(), g.grad!.detach(), b.grad!.detach()];
      });
      const data = await Promise.all(out.map((t) => t.data()));
      for (const t of out) t.dispose();
      return data;
    };
    const a = await run();
    const b = await run();
    a.forEach((v, i) => expect(Buffer.from(v.buffer).equals(Buffer.from(b[i]!.buffer)), `output ${i}`).toBe(true));
  });

  it('rejects bad inputs', () => {
    tidy(() => {
      const rm = tensor(new Float32Array(3), [3]), rv = tensor(new Float32Array(3).fill(1), [3]);
      expect(() => batchNorm2d(tensor(new Float32Array(3), [1, 3, 1, 1]), null, null, rm, rv, { training: true })).toThrow(/more than 1 value/);
      expect(() => batchNorm2d(tensor(new Float32Array(8), [1, 2, 2, 2]), null, null, rm, rv, { training: true })).toThrow(/must hold 2/);
    });
  });
});

describe('batchNorm2d past one storage binding', () => {
  // [1, 34, 1000, 1000]: one sample exceeds a binding, so channels are split into launch boxes;
  // [3, 12, 1000, 1000]: whole samples per box.
  for (const shape of [[1, 34, 1000, 1000], [3, 12, 1000, 1000]] as [number, number, number, number][]) {
    it(`training forward, backward and running statistics on x[${shape}] (${(shape.reduce((a, b) => a * b) * 4e-6).toFixed(0)} MB)`, async () => {
      const [N, C, H, W] = shape;
      const HW = H * W;
      const total = N * C * HW;
      expect(total * 4).toBeGreaterThan(engine.get().limits.maxStorageBufferBindingSize);
      const rng = mulberry32(3);
      const xd = new Float32Array(total);
      for (let i = 0; i < total; i++) xd[i] = rng() * 2 + ((i / HW) % C) * 0.01;
      const gy = (i: number) => ((i % 13) - 6) / 6;
      const gyd = new Float32Array(total);
      for (let i = 0; i < total; i++) gyd[i] = gy(i);
      const gd = Float32Array.from({ length: C }, (_, c) => 1 + c / C);
      const bd = Float32Array.from({ length: C }, (_, c) => c / 10);
      const out = tidy(() => {
        const rm = tensor(new Float32Array(C), [C]), rv = tensor(new Float32Array(C).fill(1), [C]);
        const x = tensor(xd, shape), g = tensor(gd, [C]), b = tensor(bd, [C]);
        x.requiresGrad = g.requiresGrad = b.requiresGrad = true;
        const y = batchNorm2d(x, g, b, rm, rv, { training: true });
        backward(y, tensor(gyd, shape));
        return { y, rm, rv, dx: x.grad!.detach(), dg: g.grad!.detach(), db: b.grad!.detach() };
      });
      const [yv, rmv, rvv, dxv, dgv, dbv] = await Promise.all([out.y, out.rm, out.rv, out.dx, out.dg, out.db].map((t) => t.data()));
      const M = N * HW;
      const checked = [0, C >> 1, C - 2, C - 1];
      const dgWant: number[] = [], dbWant: number[] = [];
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let n = 0; n < N; n++) for (let p = 0; p < HW; p++) s += xd[(n * C + c) * HW + p]!;
        const mean = s / M;
        let sq = 0, sdy = 0, sdyx = 0;
        for (let n = 0; n < N; n++)
          for (let p = 0; p < HW; p++) {
            const i = (n * C + c) * HW + p;
            const d = xd[i]! - mean;
            sq += d * d;
            sdy += gyd[i]!;
            sdyx += gyd[i]! * d;
          }
        const inv = 1 / Math.sqrt(sq / M + 1e-5);
        dbWant.push(sdy);
        dgWant.push(sdyx * inv);
        expect(Math.abs(rmv![c]! - 0.1 * mean), `running mean ${c}`).toBeLessThan(1e-6);
        expect(Math.abs(rvv![c]! - (0.9 + (0.1 * sq) / (M - 1))), `running var ${c}`).toBeLessThan(1e-6);
        if (!checked.includes(c)) continue;
        let err = 0, dxErr = 0, dxMax = 0;
        for (let n = 0; n < N; n++)
          for (let p = 0; p < HW; p++) {
            const i = (n * C + c) * HW + p;
            const xhat = (xd[i]! - mean) * inv;
            err = Math.max(err, Math.abs(yv![i]! - (xhat * gd[c]! + bd[c]!)));
            const dx = ((gd[c]! * inv) / M) * (M * gyd[i]! - sdy - xhat * sdyx * inv);
            dxErr = Math.max(dxErr, Math.abs(dxv![i]! - dx));
            dxMax = Math.max(dxMax, Math.abs(dx));
          }
        expect(err, `y of channel ${c}`).toBeLessThan(1e-4);
        expect(dxErr / dxMax, `dx of channel ${c}`).toBeLessThan(1e-4);
      }
      expect(relError(dbv!, dbWant), 'dbeta').toBeLessThan(1e-4);
      expect(relError(dgv!, dgWant), 'dgamma').toBeLessThan(1e-4);
      for (const t of Object.values(out)) t.dispose();
    });
  }
});
