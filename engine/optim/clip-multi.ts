/**
 * Multi-tensor launches (kernels/segments.ts) of the gradient-norm stages that run once per
 * gradient: the sum-of-squares partials and the in-place clip scale, up to 15 gradients per
 * dispatch on llvmpipe's 16 storage buffers. Each gradient is cut into the same SUMSQ_CHUNK chunks,
 * summed in the same order and its partials land at the same place as with one launch each
 * (kernels.ts), so the norm is bit-identical; test/optim/clip.test.ts checks it.
 */
import { engine } from '../engine.ts';
import type { Tensor } from '../tensor.ts';
import { grid1d, type KernelDef, type ScalarType, type UniformValues } from '../kernels/kernel.ts';
import { windowOf } from '../kernels/binding.ts';
import { chunks, fillSegmentTable, segmentMain, segmentUniforms, segmentsPerLaunch } from '../kernels/segments.ts';
import { PER_THREAD, SUMSQ_CHUNK, TREE, WG } from './kernels.ts';

const range = (n: number): number[] => [...Array(n).keys()];
const whole = (t: Tensor) => windowOf(t.buffer, 0, t.size).slice;

const sumSqDefs = new Map<number, KernelDef>();

function sumSqMultiDef(segments: number): KernelDef {
  let def = sumSqDefs.get(segments);
  if (def) return def;
  const uniforms: [string, ScalarType][] = [...segmentUniforms(segments), ...range(segments).map((k) => [`partOff${k}`, 'u32'] as [string, ScalarType])];
  const pick = (field: string) => range(segments).map((k) => `    case ${k}u: { return u.${field}${k}; }`).join('\n');
  // The segment index comes from workgroup_id and uniforms only, so the tree's barriers stay in uniform control flow.
  def = {
    name: `sumSquaresPartialsMulti${segments}`,
    uniforms,
    storage: [['partials', 'write', 'array<f32>'], ...range(segments).map((k) => [`x${k}`, 'read', 'array<f32>'] as [string, 'read', string])],
    body: `
var<workgroup> sh: array<f32, ${WG}>;
fn load(k: u32, i: u32) -> f32 {
  switch k {
${range(segments).map((k) => `    case ${k}u: { return x${k}[i]; }`).join('\n')}
    default: { return 0.0; }
  }
}
fn segN(k: u32) -> u32 {
  switch k {
${pick('n')}
    default: { return 0u; }
  }
}
fn segPart(k: u32) -> u32 {
  switch k {
${pick('partOff')}
    default: { return 0u; }
  }
}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  var k = 0u;
  var first = 0u;
${range(segments).map((j) => `  if (w >= u.wgEnd${j}) { k = ${j + 1}u; first = u.wgEnd${j}; }`).join('\n')}
  let valid = k < ${segments}u;
  let group = w - first;
  let n = segN(k);
  let start = group * ${SUMSQ_CHUNK}u;
  var acc = 0.0;
  for (var kk = 0u; kk < ${PER_THREAD}u; kk++) {
    let i = start + kk * ${WG}u + lid.x;
    if (valid && i < n) {
      let val = load(k, i);
      acc = acc + val * val;
    }
  }
  sh[lid.x] = acc;
${TREE}
  if (lid.x == 0u && valid) { partials[segPart(k) + group] = sh[0]; }
}`,
  };
  sumSqDefs.set(segments, def);
  return def;
}

/**
 * Sum-of-squares partials of `xs` (each within one binding) into `partials` from index `at`, in
 * order, one chunk's partial per SUMSQ_CHUNK elements; returns the next free index.
 */
export function sumSquaresPartialsMulti(xs: readonly Tensor[], partials: Tensor, at: number): number {
  const e = engine();
  for (const chunk of chunks(xs, segmentsPerLaunch(1, 1))) {
    const uniforms: UniformValues = {};
    const groups = fillSegmentTable(chunk.map((x) => x.size), SUMSQ_CHUNK, uniforms);
    chunk.forEach((x, k) => {
      uniforms[`partOff${k}`] = at;
      at += Math.ceil(x.size / SUMSQ_CHUNK);
    });
    if (groups === 0) continue;
    e.dispatch(sumSqMultiDef(chunk.length), uniforms, [partials.buffer, ...chunk.map(whole)], grid1d(groups * WG, WG));
  }
  return at;
}

const scaleDefs = new Map<number, KernelDef>();

function scaleMultiDef(segments: number): KernelDef {
  let def = scaleDefs.get(segments);
  if (!def) {
    def = {
      name: `scaleByDeviceScalarMulti${segments}`,
      uniforms: segmentUniforms(segments),
      storage: [['scale', 'read', 'array<f32>'], ...range(segments).map((k) => [`x${k}`, 'write', 'array<f32>'] as [string, 'write', string])],
      body: segmentMain(segments, WG, (k) => `      x${k}[i] = x${k}[i] * scale[0];`),
    };
    scaleDefs.set(segments, def);
  }
  return def;
}

/** x *= scale[0] in place for every x of `xs` (each within one binding). */
export function scaleInPlaceByDeviceMulti(xs: readonly Tensor[], scale: Tensor): void {
  const e = engine();
  for (const chunk of chunks(xs, segmentsPerLaunch(1, 1))) {
    const uniforms: UniformValues = {};
    const groups = fillSegmentTable(chunk.map((x) => x.size), WG, uniforms);
    if (groups === 0) continue;
    e.dispatch(scaleMultiDef(chunk.length), uniforms, [scale.buffer, ...chunk.map(whole)], grid1d(groups * WG, WG));
  }
}
