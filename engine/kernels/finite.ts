/**
 * Counting non-finite values (NaN, +Inf, -Inf) on the GPU, for the training guards: the loss and
 * the weights are checked where they live, and only one 4-byte count is read back.
 * The test is on the bits (exponent all ones), which no shader compiler folds away, unlike
 * `x != x`. Windows of at most one binding (binding.ts), so any tensor size works.
 */
import { engine } from '../engine.ts';
import { Tensor } from '../tensor.ts';
import { keep } from '../scope.ts';
import { flatIndex, grid1d, type KernelDef } from './kernel.ts';
import { maxBindingElements, pieces, windowOf } from './binding.ts';
import { chunks, fillSegmentTable, segmentMain, segmentUniforms, segmentsPerLaunch } from './segments.ts';

const WG = 256;

const countDef: KernelDef = {
  name: 'countNonFinite',
  uniforms: [['n', 'u32'], ['base', 'u32'], ['xOff', 'u32']],
  storage: [['x', 'read', 'array<u32>'], ['count', 'write', 'array<atomic<u32>>']],
  body: /* wgsl */ `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = ${flatIndex(WG)};
  if (i >= u.n) { return; }
  if ((x[u.base + i - u.xOff] & 0x7f800000u) == 0x7f800000u) { atomicAdd(&count[0], 1u); }
}`,
};

/** The same test over several tensors per dispatch (segments.ts): a network's weights in a few launches. */
const countMultiDefs = new Map<number, KernelDef>();
function countMultiDef(segments: number): KernelDef {
  let def = countMultiDefs.get(segments);
  if (!def) {
    const xs = [...Array(segments).keys()].map((k) => [`x${k}`, 'read', 'array<u32>'] as const);
    def = {
      name: `countNonFiniteMulti${segments}`,
      uniforms: segmentUniforms(segments),
      storage: [['count', 'write', 'array<atomic<u32>>'], ...xs],
      body: segmentMain(segments, WG, (k) => `      if ((x${k}[i] & 0x7f800000u) == 0x7f800000u) { atomicAdd(&count[0], 1u); }`),
    };
    countMultiDefs.set(segments, def);
  }
  return def;
}

/** A GPU-side count of non-finite values over any number of f32 tensors; one buffer, reused. */
export class NonFiniteCounter {
  private readonly count = keep(Tensor.empty([1], 'i32', 'non-finite count'));
  private readonly zero = new Uint32Array(1);

  /** Sets the count to 0 (in order with the recorded work). */
  reset(): this {
    engine().write(this.count.buffer, 0, this.zero);
    return this;
  }

  /** Records adding the number of non-finite elements of `t` to the count. */
  add(t: Tensor): this {
    if (t.dtype !== 'f32') return this;
    const e = engine();
    for (const [start, end] of pieces(t.size, maxBindingElements())) {
      if (end <= start) continue;
      const w = windowOf(t.buffer, start, end);
      e.dispatch(countDef, { n: end - start, base: start, xOff: w.first }, [w.slice, this.count.buffer], grid1d(end - start, WG));
    }
    return this;
  }

  /** Records adding the non-finite elements of every f32 tensor of `ts`, several tensors per dispatch. */
  addAll(ts: readonly Tensor[]): this {
    const small = ts.filter((t) => t.dtype === 'f32' && t.size > 0 && t.size <= maxBindingElements());
    for (const t of ts) if (!small.includes(t)) this.add(t);
    const e = engine();
    for (const chunk of chunks(small, segmentsPerLaunch(1, 1))) {
      const uniforms: Record<string, number> = {};
      const groups = fillSegmentTable(chunk.map((t) => t.size), WG, uniforms);
      const slices = chunk.map((t) => windowOf(t.buffer, 0, t.size).slice);
      e.dispatch(countMultiDef(chunk.length), uniforms, [this.count.buffer, ...slices], grid1d(groups * WG, WG));
    }
    return this;
  }

  /** Waits for the recorded work and returns the count (the one readback). */
  async read(): Promise<number> {
    return (await this.count.dataInt())[0]! >>> 0;
  }

  dispose(): void {
    this.count.dispose();
  }
}

/** Number of non-finite values in `tensors` (one GPU pass and one 4-byte readback). */
export async function countNonFinite(tensors: Iterable<Tensor>): Promise<number> {
  const c = new NonFiniteCounter().reset();
  try {
    c.addAll([...tensors]);
    return await c.read();
  } finally {
    c.dispose();
  }
}
