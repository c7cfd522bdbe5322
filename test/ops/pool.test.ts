import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { checkOp } from '../helpers/op-check.ts';
import { arr, mulberry32 } from '../reference/array.ts';
import {
  maxPool2d as refPool,
  maxPool2dBackward as refPoolBackward,
  maxUnpool2d as refUnpool,
  maxUnpool2dBackward as refUnpoolBackward,
  tfPoolOpts,
  torchPoolOpts,
  type MaxPool2dOpts,
} from '../reference/pool.ts';
import { backward, keep, tensor, tidy, type Tensor } from '../../engine/index.ts';
import { maxPool2d, maxUnpool2d, type MaxPool2dOptions } from '../../engine/ops/pool.ts';

const engine = useEngine();

interface Case {
  shape: [number, number, number, number];
  k: number | [number, number];
  s?: number | [number, number];
  p?: number | [number, number] | 'same' | 'valid';
  ceil?: boolean;
}

function refOpts(c: Case): MaxPool2dOpts {
  const [, , H, W] = c.shape;
  const s = c.s ?? c.k;
  if (c.p === 'same' || c.p === 'valid') return tfPoolOpts(H, W, c.k, s, c.p);
  return torchPoolOpts(H, W, c.k, s, c.p ?? 0, !!c.ceil);
}

const gpuOpts = (c: Case): MaxPool2dOptions & { returnIndices?: true } => ({ kernelSize: c.k, stride: c.s, padding: c.p ?? 0, ceilMode: c.ceil });

/** Distinct values in [-1, 1) in random order: no ties, identical in f32 and f64. */
function distinct(n: number, seed: number): Float32Array {
  const rng = mulberry32(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = -1 + (2 * i) / n;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return v;
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const label = (c: Case) => `x[${c.shape}] k${c.k} s${c.s ?? c.k} p${c.p ?? 0}${c.ceil ? ' ceil' : ''}`;

const poolCases: Case[] = [
  { shape: [1, 1, 1, 1], k: 1 },
  { shape: [3, 1, 2, 2], k: 2 },
  { shape: [1, 3, 2, 2], k: 2, s: 1, p: 1 },
  { shape: [3, 4, 7, 7], k: 2 }, // odd size, floor mode: the last row/column is dropped
  { shape: [1, 5, 7, 7], k: 2, ceil: true }, // ceil mode keeps a partial window
  { shape: [3, 3, 13, 13], k: 3, s: 2, p: 1 },
  { shape: [1, 64, 13, 13], k: 3, s: 2, ceil: true },
  { shape: [1, 4, 13, 13], k: 3, s: 2, p: 1, ceil: true },
  { shape: [1, 4, 13, 13], k: 2, s: 2, p: 'same' }, // TF SAME: out = ceil(13/2) = 7
  { shape: [3, 1, 7, 13], k: 3, s: 2, p: 'same' },
  { shape: [1, 5, 13, 7], k: 3, s: 2, p: 'valid' },
  { shape: [1, 3, 32, 32], k: 2 },
  { shape: [3, 5, 32, 32], k: 3, s: 1, p: 1 }, // heavily overlapping windows (gather backward sums)
  { shape: [1, 3, 7, 13], k: [2, 3], s: [2, 1], p: [1, 1], ceil: true },
];

describe('maxPool2d against the f64 reference (values, indices, dx)', () => {
  for (const c of poolCases) {
    it(label(c), async () => {
      const ro = refOpts(c);
      let indices: Tensor | null = null;
      await checkOp({
        op: 'maxPool2d',
        label: label(c),
        inputs: [{ shape: c.shape, grad: true, data: distinct(size(c.shape), 7) }],
        gpu: ([x]) => {
          const r = maxPool2d(x!, gpuOpts(c));
          indices = keep(r.indices);
          return r.y;
        },
        ref: ([x]) => refPool(x!, ro).y,
        refBackward: ([x], dy) => [refPoolBackward(dy, refPool(x!, ro).indices, c.shape)],
      });
      const want = refPool(arr(c.shape, distinct(size(c.shape), 7)), ro).indices;
      const got = await indices!.dataInt();
      expect(indices!.dtype).toBe('i32');
      expect(Array.from(got)).toEqual(Array.from(want));
      indices!.dispose();
    });
  }

  it('ties: first maximum in row-major window order, like the reference', async () => {
    const shape = [3, 4, 13, 13];
    const rng = mulberry32(3);
    const data = Float32Array.from({ length: size(shape) }, () => Math.floor(rng() * 3));
    for (const c of [{ shape, k: 3, s: 2, p: 1 }, { shape, k: 2 }, { shape, k: 3, s: 2, p: 'same' }] as Case[]) {
      const got = await tidy(() => maxPool2d(tensor(data, shape), gpuOpts(c)).indices).dataInt();
      expect(Array.from(got), label(c)).toEqual(Array.from(refPool(arr(shape, data), refOpts(c)).indices));
    }
  });

  it('values, indices and dx are reproducible (two runs bit-identical, ties and overlaps)', async () => {
    const shape = [3, 5, 32, 32];
    const rng = mulberry32(5);
    const data = Float32Array.from({ length: size(shape) }, () => Math.floor(rng() * 4) * 0.25);
    const run = async () => {
      const { y, idx, dx } = tidy(() => {
        const x = tensor(data, shape);
        x.requiresGrad = true;
        const r = maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 });
        const gy = tensor(Float32Array.from({ length: r.y.size }, (_, i) => Math.sin(i)), r.y.shape);
        backward(r.y, gy);
        return { y: r.y, idx: r.indices, dx: x.grad!.detach() };
      });
      const out = [await y.data(), await idx.dataInt(), await dx.data()] as const;
      y.dispose();
      idx.dispose();
      dx.dispose();
      return out;
    };
    const a = await run();
    const b = await run();
    expect(Buffer.from(a[0].buffer).equals(Buffer.from(b[0].buffer))).toBe(true);
    expect(Buffer.from(a[1].buffer).equals(Buffer.from(b[1].buffer))).toBe(true);
    expect(Buffer.from(a[2].buffer).equals(Buffer.from(b[2].buffer))).toBe(true);
  });

  it('rejects inconsistent options', () => {
    const x = tensor(new Float32Array(16), [1, 1, 4, 4]);
    expect(() => maxPool2d(x, { kernelSize: 2, padding: 2 })).toThrow(/half the kernel/);
    expect(() => maxPool2d(x, { kernelSize: 5 })).toThrow(/does not fit/);
    expect(() => maxPool2d(x, { kernelSize: 2, padding: 'same', ceilMode: true })).toThrow(/ceilMode/);
    x.dispose();
  });
});

const unpoolCases: Case[] = [
  { shape: [1, 1, 2, 2], k: 2 },
  { shape: [3, 4, 7, 7], k: 2 }, // the dropped last row/column stays zero
  { shape: [1, 5, 13, 13], k: 2, ceil: true },
  { shape: [3, 3, 13, 13], k: 2, p: 'same' },
  { shape: [1, 64, 32, 32], k: 2 },
  { shape: [3, 1, 13, 7], k: 3, s: 3 },
];

describe('maxUnpool2d with the indices of a pool (values, dx)', () => {
  for (const c of unpoolCases) {
    it(label(c), async () => {
      const ro = refOpts(c);
      const [N, C, H, W] = c.shape;
      const src = distinct(size(c.shape), 11);
      const refIdx = refPool(arr(c.shape, src), ro).indices;
      await checkOp({
        op: 'maxUnpool2d',
        label: label(c),
        inputs: [{ shape: [N, C, ...ro.outSize], grad: true }, { shape: c.shape, data: src }],
        gpu: ([x, s]) => maxUnpool2d(x!, maxPool2d(s!, gpuOpts(c)).indices, [H, W]),
        ref: ([x]) => refUnpool(x!, refIdx, [H, W]),
        refBackward: ([x], dy) => [refUnpoolBackward(dy, refIdx, x!.shape), null],
      });
    });
  }

  it('refuses indices of overlapping windows', () => {
    tidy(() => {
      const s = tensor(distinct(2 * 2 * 7 * 7, 1), [2, 2, 7, 7]);
      const { y, indices } = maxPool2d(s, { kernelSize: 3, stride: 2 });
      expect(() => maxUnpool2d(y, indices, [7, 7])).toThrow(/overlapping/);
    });
  });
});

describe('pooling past one storage binding', () => {
  it('maxPool2d, its backward, maxUnpool2d and its backward on a 135 MB input', async () => {
    const maxBinding = engine.get().limits.maxStorageBufferBindingSize;
    const shape = [1, 33, 1000, 1024];
    const [, C, H, W] = shape as [number, number, number, number];
    expect(size(shape) * 4).toBeGreaterThan(maxBinding);
    const rng = mulberry32(9);
    const xs = new Float32Array(size(shape));
    for (let i = 0; i < xs.length; i++) xs[i] = rng();
    const OH = H / 2, OW = W / 2;
    const gys = Float32Array.from({ length: C * OH * OW }, (_, i) => (i % 7) - 3);
    const { y, idx, dx, un, dun } = tidy(() => {
      const x = tensor(xs, shape);
      x.requiresGrad = true;
      const r = maxPool2d(x, { kernelSize: 2 });
      backward(r.y, tensor(gys, r.y.shape));
      const pooled = tensor(gys, r.y.shape);
      pooled.requiresGrad = true;
      const u = maxUnpool2d(pooled, r.indices, [H, W]);
      expect(u.size * 4).toBeGreaterThan(maxBinding);
      backward(u, x.detach()); // dy of the unpool = x: dpooled = x gathered at the indices
      return { y: r.y, idx: r.indices, dx: x.grad!.detach(), un: u, dun: pooled.grad!.detach() };
    });
    const [yv, iv, dxv, uv, duv] = [await y.data(), await idx.dataInt(), await dx.data(), await un.data(), await dun.data()];
    let bad = 0;
    for (let c = 0; c < C; c++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          let best = -Infinity, bi = -1;
          for (let ky = 0; ky < 2; ky++)
            for (let kx = 0; kx < 2; kx++) {
              const k = (2 * oy + ky) * W + 2 * ox + kx;
              if (xs[c * H * W + k]! > best) (best = xs[c * H * W + k]!), (bi = k);
            }
          const o = (c * OH + oy) * OW + ox;
          if (yv[o] !== best || iv[o] !== bi) bad++;
          if (dxv[c * H * W + bi] !== gys[o] || uv[c * H * W + bi] !== gys[o] || duv[o] !== best) bad++;
        }
      }
    }
    expect(bad).toBe(0);
    // every non-winner of dx and of the unpooled map is zero: sums of |.| match the winners'
    let sumDx = 0, sumUn = 0, sumG = 0;
    for (let i = 0; i < dxv.length; i++) (sumDx += Math.abs(dxv[i]!)), (sumUn += Math.abs(uv[i]!));
    for (let i = 0; i < gys.length; i++) sumG += Math.abs(gys[i]!);
    expect(sumDx).toBe(sumG);
    expect(sumUn).toBe(sumG);
    for (const t of [y, idx, dx, un, dun]) t.dispose();
  });
});
