import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { tensor, zeros, ones, full, rand, randn, tidy, keep, Tensor, Generator } from '../../engine/index.ts';
import { mapElementwise } from '../../engine/kernels/elementwise.ts';

const eng = useEngine();

describe('tensor round trips', () => {
  const shapes = [[0], [1], [7], [3, 5], [2, 3, 4], [2, 3, 5, 7], [1, 1, 1, 1], [3, 0, 2], [13, 17]];
  for (const shape of shapes) {
    it(`[${shape}]`, async () => {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 1e3 + i);
      const t = tensor(data, shape);
      expect(t.shape).toEqual(shape);
      const back = await t.data();
      expect(Array.from(back)).toEqual(Array.from(data));
      t.dispose();
    });
  }

  it('nested arrays keep their shape and values', async () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(await t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => tensor(new Float32Array(5), [2, 3])).toThrow(/do not fill/);
  });

  it('i32 tensors round trip', async () => {
    const t = tensor(Int32Array.from([-5, 0, 2147483647]), [3]);
    expect(Array.from(await t.dataInt())).toEqual([-5, 0, 2147483647]);
  });

  it('zeros, ones, full', async () => {
    expect(Array.from(await zeros([2, 3]).data())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(await ones([5]).data())).toEqual([1, 1, 1, 1, 1]);
    expect(Array.from(await full([2, 2], -2.5).data())).toEqual([-2.5, -2.5, -2.5, -2.5]);
  });

  it('seeded rand/randn are reproducible and have the right moments', async () => {
    const a = await rand([10000], { seed: 42 }).data();
    const b = await rand([10000], { seed: 42 }).data();
    const c = await rand([10000], { seed: 43 }).data();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const m = a.reduce((s, v) => s + v, 0) / a.length;
    expect(m).toBeGreaterThan(0.48);
    expect(m).toBeLessThan(0.52);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThan(1);
    const n = await randn([20000], { seed: 1, mean: 2, std: 3 }).data();
    const mean = n.reduce((s, v) => s + v, 0) / n.length;
    const sd = Math.sqrt(n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length);
    expect(Math.abs(mean - 2)).toBeLessThan(0.1);
    expect(Math.abs(sd - 3)).toBeLessThan(0.1);
    // a generator continues its stream: two draws differ, a restored state repeats them
    const g = new Generator(7);
    const state = g.state;
    const first = await rand([4], { seed: g }).data();
    const again = await rand([4], { seed: new Generator(state) }).data();
    expect(Array.from(first)).toEqual(Array.from(again));
  });

  it('reshape is a view that outlives its source', async () => {
    const t = tensor([1, 2, 3, 4, 5, 6], [6]);
    const v = t.view([2, -1]);
    expect(v.shape).toEqual([2, 3]);
    expect(v.buffer).toBe(t.buffer);
    t.dispose();
    expect(await v.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(() => v.view([4, 2])).toThrow(/cannot view/);
  });
});

describe('buffer pool', () => {
  it('live bytes return to their start after 1,000 alloc/dispose cycles, buffers reused', async () => {
    const e = eng.get();
    await e.sync();
    const before = e.pool.getStats();
    for (let i = 0; i < 1000; i++) {
      const size = 1 + ((i * 37) % 5000);
      const t = Tensor.empty([size]);
      t.dispose();
    }
    const after = e.pool.getStats();
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(after.allocations - before.allocations).toBeLessThan(60);
    expect(after.reuses - before.reuses).toBeGreaterThan(900);
  });

  it('tidy releases intermediates and keeps what it returns', async () => {
    const e = eng.get();
    const before = e.pool.getStats().liveBytes;
    let kept: Tensor | null = null;
    const out = tidy(() => {
      const a = ones([1000]);
      const b = full([1000], 2);
      kept = keep(full([10], 3));
      return mapElementwise('add', 'a + b', [a, b]);
    });
    expect(Array.from((await out.data()).slice(0, 3))).toEqual([3, 3, 3]);
    expect(kept!.disposed).toBe(false);
    out.dispose();
    kept!.dispose();
    expect(e.pool.getStats().liveBytes).toBe(before);
  });
});

describe('large tensors', () => {
  it('a 200 MB tensor is written, processed by a kernel and read back exactly', async () => {
    const e = eng.get();
    const n = 50 * 1024 * 1024; // 200 MiB of f32: more than one 128 MiB binding
    expect(n * 4).toBeGreaterThan(e.limits.maxStorageBufferBindingSize);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (i % 65521) - 30000;
    const t = tensor(data, [n]);
    const y = mapElementwise('affine', 'a * s0 + s1', [t], { scalars: [2, 1] });
    const back = await y.data();
    let bad = -1;
    for (let i = 0; i < n; i++) {
      if (back[i] !== data[i]! * 2 + 1) {
        bad = i;
        break;
      }
    }
    expect(bad).toBe(-1);
    t.dispose();
    y.dispose();
  });
});

describe('errors', () => {
  it('a validation error surfaces as a thrown error naming the kernel', async () => {
    const e = eng.get();
    const small = Tensor.empty([4]);
    const def = {
      name: 'deliberatelyBadBinding',
      uniforms: [['n', 'u32']] as const,
      storage: [['x', 'write', 'array<vec4<f32>>']] as const,
      body: `@compute @workgroup_size(1) fn main() { x[0] = vec4<f32>(1.0); }`,
    };
    // A 16-byte binding is fine; bind 12 bytes to make the binding smaller than the vec4 element.
    e.dispatch(def, { n: 1 }, [{ buffer: small.buffer, offset: 0, size: 12 }], [1, 1, 1]);
    await expect(e.sync()).rejects.toThrow(/deliberatelyBadBinding/);
  });

  it('a WGSL compile error names the kernel and the offending line', async () => {
    const e = eng.get();
    const def = {
      name: 'brokenKernel',
      uniforms: [],
      storage: [['x', 'write', 'array<f32>']] as const,
      body: `@compute @workgroup_size(1) fn main() {\n  x[0] = undefinedThing + 1.0;\n}`,
    };
    await expect(e.compile(def)).rejects.toThrow(/brokenKernel[\s\S]*line \d+[\s\S]*undefinedThing/);
  });
});
