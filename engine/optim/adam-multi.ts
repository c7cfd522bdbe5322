/**
 * Multi-tensor Adam/AdamW: the update of several parameters in one dispatch (kernels/segments.ts),
 * as many as the device's storage-buffer limit allows (4 per launch on llvmpipe, 3 with AMSGrad).
 * The per-element arithmetic is adamStepKernel's (kernels.ts) operation for operation, with each
 * segment's own scalars (its step count sets its bias corrections), so the results are
 * bit-identical to one launch per parameter; test/optim/adam-multi.test.ts checks that.
 * Parameters larger than one binding keep the windowed single-tensor launch.
 */
import { engine } from '../engine.ts';
import type { Tensor } from '../tensor.ts';
import { grid1d, type KernelDef, type ScalarType, type UniformValues } from '../kernels/kernel.ts';
import { windowOf } from '../kernels/binding.ts';
import { chunks, fillSegmentTable, segmentMain, segmentUniforms, segmentsPerLaunch } from '../kernels/segments.ts';
import { vec4Elementwise, type AdamScalars } from './kernels.ts';

const WG = 256;

/** One parameter's update: its tensors and scalars. */
export interface AdamSegment {
  p: Tensor;
  g: Tensor;
  m: Tensor;
  v: Tensor;
  vmax: Tensor | null;
  s: AdamScalars;
}

const SCALARS = ['l2', 'decay', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'eps', 'stepSize', 'bc2Sqrt'] as const;

const defs = new Map<string, KernelDef>();

/** `vec4[k]`: segment k's arrays are vec4s (kernels.ts vec4Elementwise), its n<k> counting vec4s. */
function multiAdamDef(amsgrad: boolean, vec4: readonly boolean[]): KernelDef {
  const segments = vec4.length;
  const pattern = vec4.map((v) => (v ? '4' : '1')).join('');
  const key = `${amsgrad}/${pattern}`;
  let def = defs.get(key);
  if (def) return def;
  const roles = amsgrad ? ['p', 'g', 'm', 'v', 'vmax'] : ['p', 'g', 'm', 'v'];
  const storage: [string, 'read' | 'write', string][] = [];
  const uniforms: [string, ScalarType][] = segmentUniforms(segments);
  for (let k = 0; k < segments; k++) {
    for (const r of roles) storage.push([`${r}${k}`, r === 'g' ? 'read' : 'write', vec4[k] ? 'array<vec4<f32>>' : 'array<f32>']);
    for (const s of SCALARS) uniforms.push([`${s}${k}`, 'f32']);
  }
  // The same operations, in the same order, as adamDef in kernels.ts (torch.optim's single-tensor
  // Adam); locals are renamed so they cannot shadow the numbered bindings (p0, m0, ...).
  const body = (k: number) => `
      let pOld = p${k}[i];
      let gr = g${k}[i] + u.l2${k} * pOld;
      let pDec = pOld * u.decay${k};
      let mOld = m${k}[i];
      let mNew = mOld + u.oneMinusBeta1${k} * (gr - mOld);
      let vNew = v${k}[i] * u.beta2${k} + u.oneMinusBeta2${k} * (gr * gr);
      m${k}[i] = mNew;
      v${k}[i] = vNew;
${amsgrad
  ? `      let vmNew = max(vmax${k}[i], vNew);
      vmax${k}[i] = vmNew;
      let denom = sqrt(vmNew) / u.bc2Sqrt${k} + u.eps${k};`
  : `      let denom = sqrt(vNew) / u.bc2Sqrt${k} + u.eps${k};`}
      p${k}[i] = pDec - u.stepSize${k} * (mNew / denom);`;
  def = { name: `adamStepMulti${amsgrad ? 'Amsgrad' : ''}_${pattern}`, uniforms, storage, body: segmentMain(segments, WG, body) };
  defs.set(key, def);
  return def;
}

/** Records the updates of `segs` (every tensor within one binding; all with or all without vmax) in as few dispatches as the binding limit allows. */
export function adamStepMulti(segs: readonly AdamSegment[]): void {
  if (segs.length === 0) return;
  const amsgrad = segs[0]!.vmax !== null;
  const e = engine();
  for (const chunk of chunks(segs, segmentsPerLaunch(amsgrad ? 5 : 4))) {
    const uniforms: UniformValues = {};
    const vec4 = chunk.map((c) => vec4Elementwise(c.p.size));
    const total = fillSegmentTable(chunk.map((c, k) => c.p.size / (vec4[k] ? 4 : 1)), WG, uniforms);
    const buffers = [];
    for (const [k, c] of chunk.entries()) {
      const tensors = amsgrad ? [c.p, c.g, c.m, c.v, c.vmax!] : [c.p, c.g, c.m, c.v];
      for (const t of tensors) buffers.push(windowOf(t.buffer, 0, t.size).slice);
      uniforms[`l2${k}`] = c.s.l2;
      uniforms[`decay${k}`] = c.s.decay;
      uniforms[`oneMinusBeta1${k}`] = 1 - c.s.beta1;
      uniforms[`beta2${k}`] = c.s.beta2;
      uniforms[`oneMinusBeta2${k}`] = 1 - c.s.beta2;
      uniforms[`eps${k}`] = c.s.eps;
      uniforms[`stepSize${k}`] = c.s.stepSize;
      uniforms[`bc2Sqrt${k}`] = c.s.bc2Sqrt;
    }
    if (total === 0) continue;
    e.dispatch(multiAdamDef(amsgrad, vec4), uniforms, buffers, grid1d(total * WG, WG));
  }
}
