import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { checkOp } from '../helpers/op-check.ts';
import { mulberry32, type Arr } from '../reference/array.ts';
import {
  add as refAdd,
  concat as refConcat,
  concatBackward as refConcatBackward,
  crop2d as refCrop,
  crop2dBackward as refCropBackward,
  slice as refSlice,
  sliceBackward as refSliceBackward,
} from '../reference/elementwise.ts';
import { backward, tensor, tidy } from '../../engine/index.ts';
import { concat, crop2d, slice } from '../../engine/ops/concat.ts';

const engine = useEngine();

const concatCases: { shapes: number[][]; axis: number }[] = [
  { shapes: [[1, 3, 7, 7], [1, 5, 7, 7]], axis: 1 },
  { shapes: [[3, 1, 13, 13], [3, 4, 13, 13], [3, 64, 13, 13]], axis: 1 },
  { shapes: [[3, 4, 7, 7], [3, 4, 7, 13]], axis: 3 },
  { shapes: [[1, 3, 2, 1], [1, 3, 2, 2], [1, 3, 2, 32]], axis: -1 },
  { shapes: [[1, 5, 13, 32], [1, 5, 2, 32]], axis: 2 },
  { shapes: [[1, 3, 7, 7], [3, 3, 7, 7]], axis: 0 }, // contiguous runs: buffer copies
  { shapes: [[1, 1, 1, 1], [1, 1, 1, 1]], axis: 1 },
  { shapes: [[4, 3], [4, 5]], axis: -1 },
  { shapes: [[3], [5], [1]], axis: 0 },
];

describe('concat against the f64 reference (forward, every input gradient)', () => {
  for (const c of concatCases) {
    const label = `${c.shapes.map((s) => `[${s}]`).join(' + ')} axis ${c.axis}`;
    it(label, async () => {
      await checkOp({
        op: 'concat',
        label,
        inputs: c.shapes.map((shape) => ({ shape, grad: true })),
        gpu: (xs) => concat(xs, c.axis),
        ref: (xs) => refConcat(xs, c.axis),
        refBackward: (_, dy) => refConcatBackward(dy, c.shapes, c.axis),
      });
    });
  }

  it('the same tensor twice (gradients accumulate)', async () => {
    const shape = [3, 4, 7, 7];
    await checkOp({
      op: 'concat',
      label: 'x ++ x on channels',
      inputs: [{ shape, grad: true }],
      gpu: ([x]) => concat([x!, x!], 1),
      ref: ([x]) => refConcat([x!, x!], 1),
      refBackward: (_, dy) => {
        const [a, b] = refConcatBackward(dy, [shape, shape], 1) as [Arr, Arr];
        return [refAdd(a, b)];
      },
    });
  });

  it('rejects mismatched shapes', () => {
    tidy(() => {
      const a = tensor(new Float32Array(12), [1, 3, 2, 2]);
      const b = tensor(new Float32Array(8), [1, 2, 2, 2]);
      expect(() => concat([a, b], 3)).toThrow(/differ outside axis 3/);
      expect(() => concat([a, b], 4)).toThrow(/out of range/);
    });
  });
});

const sliceCases: { shape: number[]; axis: number; start: number; end: number }[] = [
  { shape: [3, 64, 7, 7], axis: 1, start: 10, end: 42 },
  { shape: [1, 3, 13, 13], axis: 3, start: 2, end: 9 },
  { shape: [1, 5, 13, 32], axis: -2, start: 6, end: 13 },
  { shape: [3, 4, 32, 32], axis: 2, start: 0, end: 32 },
  { shape: [3, 5, 7, 7], axis: 0, start: 1, end: 2 },
  { shape: [1, 1, 1, 1], axis: 1, start: 0, end: 1 },
  { shape: [3, 4, 2, 2], axis: 1, start: 4, end: 4 }, // empty
  { shape: [7, 13], axis: 1, start: 3, end: 11 },
];

describe('slice against the f64 reference', () => {
  for (const c of sliceCases) {
    const label = `[${c.shape}] axis ${c.axis} [${c.start}, ${c.end})`;
    it(label, async () => {
      await checkOp({
        op: 'slice',
        label,
        inputs: [{ shape: c.shape, grad: true }],
        gpu: ([x]) => slice(x!, c.axis, c.start, c.end),
        ref: ([x]) => refSlice(x!, c.axis, c.start, c.end),
        refBackward: (_, dy) => [refSliceBackward(dy, c.shape, c.axis, c.start, c.end)],
      });
    });
  }

  it('rejects bad ranges', () => {
    tidy(() => {
      const x = tensor(new Float32Array(12), [1, 3, 2, 2]);
      expect(() => slice(x, 1, 2, 1)).toThrow(/bad range/);
      expect(() => slice(x, 1, -1, 2)).toThrow(/bad range/);
      expect(() => slice(x, 1, 0, 4)).toThrow(/bad range/);
    });
  });
});

const cropCases: { shape: number[]; top: number; left: number; h: number; w: number }[] = [
  { shape: [1, 1, 1, 1], top: 0, left: 0, h: 1, w: 1 },
  { shape: [3, 4, 13, 13], top: 2, left: 3, h: 7, w: 5 },
  { shape: [1, 64, 32, 32], top: 1, left: 1, h: 30, w: 30 },
  { shape: [3, 3, 7, 13], top: 0, left: 6, h: 7, w: 7 },
  { shape: [1, 5, 2, 2], top: 1, left: 0, h: 1, w: 2 },
];

describe('crop2d against the f64 reference', () => {
  for (const c of cropCases) {
    const label = `[${c.shape}] at (${c.top}, ${c.left}) ${c.h}x${c.w}`;
    it(label, async () => {
      await checkOp({
        op: 'crop2d',
        label,
        inputs: [{ shape: c.shape, grad: true }],
        gpu: ([x]) => crop2d(x!, c.top, c.left, c.h, c.w),
        ref: ([x]) => refCrop(x!, c.top, c.left, c.h, c.w),
        refBackward: (_, dy) => [refCropBackward(dy, c.shape, c.top, c.left)],
      });
    });
  }

  it('rejects windows outside the input', () => {
    tidy(() => {
      const x = tensor(new Float32Array(2 * 3 * 4 * 5), [2, 3, 4, 5]);
      expect(() => crop2d(x, 1, 0, 4, 5)).toThrow(/outside/);
      expect(() => crop2d(x, 0, 3, 4, 3)).toThrow(/outside/);
    });
  });
});

describe('copies past one storage binding', () => {
  it('concat of two 68 MB tensors on width (136 MB output), slice and crop of it, with gradients', async () => {
    const maxBinding = engine.get().limits.maxStorageBufferBindingSize;
    const [C, H, W] = [17, 1000, 1000];
    const W2 = 2 * W;
    const rng = mulberry32(4);
    const a = new Float32Array(C * H * W), b = new Float32Array(C * H * W);
    for (let i = 0; i < a.length; i++) (a[i] = rng()), (b[i] = -rng());
    // g(i) = the upstream gradient of the concat output, as a function of its flat index
    const g = (i: number) => (i % 1009) - 504;
    const gys = new Float32Array(C * H * W2);
    for (let i = 0; i < gys.length; i++) gys[i] = g(i);
    const res = tidy(() => {
      const ta = tensor(a, [1, C, H, W]), tb = tensor(b, [1, C, H, W]);
      ta.requiresGrad = tb.requiresGrad = true;
      const y = concat([ta, tb], 3); // each input's box spans more than one binding of y: split
      expect(y.byteLength).toBeGreaterThan(maxBinding);
      backward(y, tensor(gys, y.shape));
      const big = y.detach();
      big.requiresGrad = true;
      const s = slice(big, 3, 500, 1700);
      backward(s, s.detach()); // d big = s placed at columns 500..1700, zeros elsewhere
      const cr = crop2d(big.detach(), 3, 5, 990, 1990);
      return { y, ga: ta.grad!.detach(), gb: tb.grad!.detach(), s, gbig: big.grad!.detach(), cr };
    });
    const y = await res.y.data();
    const ga = await res.ga.data(), gb = await res.gb.data();
    let bad = 0;
    for (let r = 0; r < C * H; r++)
      for (let j = 0; j < W; j++) {
        const i = r * W + j;
        if (y[r * W2 + j] !== a[i] || y[r * W2 + W + j] !== b[i]) bad++;
        if (ga[i] !== gys[r * W2 + j] || gb[i] !== gys[r * W2 + W + j]) bad++;
      }
    expect(bad, 'concat forward and backward').toBe(0);
    const s = await res.s.data(), gbig = await res.gbig.data();
    for (let r = 0; r < C * H; r++)
      for (let j = 0; j < W2; j++) {
        const inside = j >= 500 && j < 1700;
        const want = inside ? y[r * W2 + j] : 0;
        if (gbig[r * W2 + j] !== want) bad++;
        if (inside && s[r * 1200 + j - 500] !== want) bad++;
      }
    expect(bad, 'slice forward and backward').toBe(0);
    const cr = await res.cr.data();
    for (let q = 0; q < C; q++)
      for (let i = 0; i < 990; i++)
        for (let j = 0; j < 1990; j++) if (cr[(q * 990 + i) * 1990 + j] !== y[(q * H + 3 + i) * W2 + 5 + j]) bad++;
    expect(bad, 'crop2d forward').toBe(0);
    for (const t of Object.values(res)) t.dispose();
  });
});
