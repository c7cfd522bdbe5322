/**
 * The bias gradient of a conv, db[o] = sum over n and pixels of dy[n, o, :, :], in one dispatch:
 * one workgroup per channel, each invocation summing a fixed strided subset serially, then a
 * fixed-order tree (no atomics: bit-identical run to run). The generic sumAxes needed two
 * dispatches (partials, then their sum); on llvmpipe each dispatch costs a ~55 us floor.
 *
 * With a fused ReLU (conv2d/convTranspose2d `relu: true`) the same pass first applies ReLU's
 * backward mask, gm = dy where y > 0 else 0 (y the ReLU's output: y > 0 exactly where its input
 * was), writes gm for the conv's data and weight gradients and sums it: reluBackward and the
 * bias gradient in one dispatch instead of three.
 */
import { engine } from '../engine.ts';
import { Tensor } from '../tensor.ts';
import type { KernelDef } from './kernel.ts';
import { maxBindingElements, windowOf } from './binding.ts';
import { EXPR, mapElementwise } from './elementwise.ts';
import { sumRaw } from './reduce.ts';

const WG = 128;

function makeDef(mask: boolean): KernelDef {
  return {
    name: mask ? 'reluMaskBiasGrad' : 'biasGrad',
    uniforms: [['N', 'u32'], ['O', 'u32'], ['plane', 'u32']],
    storage: mask
      ? [['dy', 'read', 'array<f32>'], ['y', 'read', 'array<f32>'], ['gm', 'write', 'array<f32>'], ['db', 'write', 'array<f32>']]
      : [['dy', 'read', 'array<f32>'], ['db', 'write', 'array<f32>']],
    body: `
var<workgroup> sh: array<f32, ${WG}>;
// Workgroup o (x + y * nwg.x, folded past 65,535 channels) owns channel o.
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = wid.x + wid.y * nwg.x;
  var acc = 0.0;
  if (o < u.O) {
    for (var n = 0u; n < u.N; n++) {
      let base = (n * u.O + o) * u.plane;
      for (var j = lid.x; j < u.plane; j += ${WG}u) {
${mask
  ? `        let gv = select(0.0, dy[base + j], y[base + j] > 0.0);
        gm[base + j] = gv;
        acc += gv;`
  : `        acc += dy[base + j];`}
      }
    }
  }
  sh[lid.x] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid.x < s) { sh[lid.x] = sh[lid.x] + sh[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u && o < u.O) { db[o] = sh[0]; }
}`,
  };
}

const biasDef = makeDef(false);
const maskDef = makeDef(true);

/** The tensor's elements only (a pool buffer may be larger, even beyond one binding). */
const whole = (t: Tensor) => windowOf(t.buffer, 0, t.size).slice;

function grid(O: number): [number, number, number] {
  const x = Math.min(O, 65535);
  return [x, Math.ceil(O / x), 1];
}

/** db [O] of dy [N, O, H, W]. */
export function biasGradient(dy: Tensor): Tensor {
  const [N, O] = dy.shape as [number, number];
  if (dy.size > maxBindingElements() || dy.size === 0) return sumRaw(dy, [0, 2, 3], false);
  const db = Tensor.empty([O]);
  engine().dispatch(biasDef, { N, O, plane: dy.size / (N * O) }, [whole(dy), whole(db)], grid(O));
  return db;
}

/** ReLU's backward mask on dy (by the ReLU's output y) and the bias gradient of the masked gradient. */
export function reluMaskBiasGradient(dy: Tensor, y: Tensor): { gm: Tensor; db: Tensor } {
  const [N, O] = dy.shape as [number, number];
  if (dy.size > maxBindingElements() || dy.size === 0) {
    const gm = mapElementwise('reluBackward', EXPR.reluBackward, [y, dy]);
    return { gm, db: sumRaw(gm, [0, 2, 3], false) };
  }
  const gm = Tensor.empty(dy.shape);
  const db = Tensor.empty([O]);
  engine().dispatch(maskDef, { N, O, plane: dy.size / (N * O) }, [whole(dy), whole(y), whole(gm), whole(db)], grid(O));
  return { gm, db };
}

/** ReLU's backward mask alone (a fused conv without bias). */
export function reluMask(dy: Tensor, y: Tensor): Tensor {
  return mapElementwise('reluBackward', EXPR.reluBackward, [y, dy]);
}
