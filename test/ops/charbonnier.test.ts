import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { checkOp } from '../helpers/op-check.ts';
import { arr, mulberry32 } from '../reference/array.ts';
import { charbonnier as refCharbonnier, charbonnierBackward as refCharbonnierBackward } from '../reference/charbonnier.ts';
import { backward, tensor, tidy } from '../../engine/index.ts';
import { charbonnierLoss } from '../../engine/ops/charbonnier.ts';

const engine = useEngine();

type Mask = 'binary' | 'weights' | 'zeros' | 'ones';

interface Case {
  shape: [number, number, number, number];
  mask: Mask;
  eps?: number;
}

function maskData(kind: Mask, n: number, seed: number): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (kind === 'zeros' ? 0 : kind === 'ones' ? 1 : kind === 'binary' ? (rng() < 0.5 ? 1 : 0) : rng()));
}

const cases: Case[] = [
  { shape: [1, 1, 1, 1], mask: 'ones' },
  { shape: [3, 1, 7, 7], mask: 'binary' },
  { shape: [1, 3, 13, 13], mask: 'binary' },
  { shape: [3, 3, 32, 32], mask: 'weights' },
  { shape: [1, 4, 2, 2], mask: 'zeros' }, // all-zero mask: loss 0, gradients 0
  { shape: [3, 1, 13, 13], mask: 'zeros' },
  { shape: [3, 64, 7, 7], mask: 'binary' },
  { shape: [1, 5, 13, 7], mask: 'weights', eps: 1e-6 },
  { shape: [3, 1, 32, 32], mask: 'binary', eps: 1e-6 },
];

describe('charbonnierLoss against the f64 reference (loss, dPred, dTarget)', () => {
  for (const c of cases) {
    const label = `[${c.shape}] ${c.mask} mask eps ${c.eps ?? 1e-12}`;
    it(label, async () => {
      const [N, , H, W] = c.shape;
      const eps = c.eps ?? 1e-12;
      await checkOp({
        op: 'charbonnierLoss',
        label,
        inputs: [
          { shape: c.shape, grad: true },
          { shape: c.shape, grad: true },
          { shape: [N, 1, H, W], data: maskData(c.mask, N * H * W, 17) },
        ],
        gpu: ([p, t, w]) => (c.eps === undefined ? charbonnierLoss(p!, t!, w!) : charbonnierLoss(p!, t!, w!, c.eps)),
        ref: ([p, t, w]) => arr([], [refCharbonnier(p!, t!, w!, eps)]),
        refBackward: ([p, t, w], dy) => {
          const g = refCharbonnierBackward(p!, t!, w!, eps, dy.data[0]!);
          return [g.dPred, g.dTarget, null];
        },
      });
    });
  }

  it('returns a scalar of shape [] and gives the mask no gradient', async () => {
    const r = tidy(() => {
      const p = tensor(new Float32Array([1, 2, 3, 4]), [1, 1, 2, 2]);
      const t = tensor(new Float32Array([1, 1, 1, 1]), [1, 1, 2, 2]);
      const w = tensor(new Float32Array([1, 0, 1, 0]), [1, 1, 2, 2]);
      p.requiresGrad = w.requiresGrad = true;
      const loss = charbonnierLoss(p, t, w);
      backward(loss);
      return { loss, wGrad: w.grad, pGrad: p.grad!.detach() };
    });
    expect(r.loss.shape).toEqual([]);
    expect(await r.loss.item()).toBeCloseTo((0 + 2) / 2, 5);
    expect(r.wGrad).toBeNull();
    expect(Array.from(await r.pGrad.data()).map((v) => Math.round(v * 1e5) / 1e5)).toEqual([0, 0, 0.5, 0]);
    r.loss.dispose();
    r.pGrad.dispose();
  });

  it('loss and gradients are reproducible (two runs bit-identical)', async () => {
    const shape = [3, 3, 64, 64];
    const rng = mulberry32(12);
    const pd = Float32Array.from({ length: 3 * 3 * 64 * 64 }, () => rng());
    const td = Float32Array.from({ length: pd.length }, () => rng());
    const wd = maskData('weights', 3 * 64 * 64, 5);
    const run = async () => {
      const out = tidy(() => {
        const p = tensor(pd, shape), t = tensor(td, shape);
        p.requiresGrad = t.requiresGrad = true;
        const loss = charbonnierLoss(p, t, tensor(wd, [3, 1, 64, 64]));
        backward(loss);
        return [loss, p.grad!.detach(), t.grad!.detach()];
      });
      const data = await Promise.all(out.map((x) => x.data()));
      for (const x of out) x.dispose();
      return data;
    };
    const a = await run();
    const b = await run();
    a.forEach((v, i) => expect(Buffer.from(v.buffer).equals(Buffer.from(b[i]!.buffer)), `output ${i}`).toBe(true));
  });

  it('rejects a mask of the wrong shape', () => {
    tidy(() => {
      const p = tensor(new Float32Array(12), [1, 3, 2, 2]);
      expect(() => charbonnierLoss(p, p, tensor(new Float32Array(12), [1, 3, 2, 2]))).toThrow(/mask/);
    });
  });
});

describe('charbonnierLoss past one storage binding', () => {
  // [2, 3, 2400, 2400]: pred and target exceed a binding (138 MB); [1, 1, 5800, 5800]: the mask too.
  for (const shape of [[2, 3, 2400, 2400], [1, 1, 5800, 5800]] as [number, number, number, number][]) {
    it(`loss and dPred on pred[${shape}]`, async () => {
      const [N, C, H, W] = shape;
      const HW = H * W;
      const total = N * C * HW;
      expect(total * 4).toBeGreaterThan(engine.get().limits.maxStorageBufferBindingSize);
      const rng = mulberry32(6);
      const pd = new Float32Array(total), td = new Float32Array(total);
      for (let i = 0; i < total; i++) (pd[i] = rng()), (td[i] = rng());
      const wd = maskData('binary', N * HW, 8);
      const eps = 1e-6;
      const out = tidy(() => {
        const p = tensor(pd, shape);
        p.requiresGrad = true;
        const loss = charbonnierLoss(p, tensor(td, shape), tensor(wd, [N, 1, H, W]), eps);
        backward(loss, tensor(new Float32Array([2]), []));
        return { loss, dp: p.grad!.detach() };
      });
      let num = 0, den = 0;
      for (let q = 0; q < N * C; q++) {
        const n = Math.floor(q / C);
        for (let r = 0; r < HW; r++) {
          const d = pd[q * HW + r]! - td[q * HW + r]!;
          num += wd[n * HW + r]! * Math.sqrt(d * d + eps);
        }
      }
      for (let i = 0; i < wd.length; i++) den += wd[i]!;
      const U = den + eps;
      expect(Math.abs((await out.loss.item()) - num / U) / (num / U)).toBeLessThan(1e-4);
      const dp = await out.dp.data();
      let err = 0, scale = 0;
      for (let i = 0; i < total; i += 997) {
        const d = pd[i]! - td[i]!;
        const w = wd[Math.floor(i / (C * HW)) * HW + (i % HW)]!;
        const want = (2 * w * d) / Math.sqrt(d * d + eps) / U;
        err = Math.max(err, Math.abs(dp[i]! - want));
        scale = Math.max(scale, Math.abs(want));
      }
      expect(err / scale).toBeLessThan(1e-4);
      out.loss.dispose();
      out.dp.dispose();
    });
  }
});
