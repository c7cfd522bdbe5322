/**
 * Multi-tensor launches: one dispatch that runs the same elementwise body over several small
 * tensors (segments), each bound as its own buffers. On a software adapter every dispatch costs a
 * fixed floor (~55 us on llvmpipe) whatever its size, and an optimiser step over a network's ~80
 * parameter tensors is almost all floor; packing them into shared buffers would change what a
 * parameter is, so instead each launch binds as many tensors as the device's
 * maxStorageBuffersPerShaderStage allows (16 on llvmpipe) and each workgroup finds its segment
 * from a prefix table of workgroup counts in the uniforms. A workgroup lies in exactly one
 * segment, so the branch is uniform across it and the body is the single-tensor body unchanged.
 */
import { engine } from '../engine.ts';
import type { ScalarType, UniformValues } from './kernel.ts';

/**
 * Segments one launch can hold when each takes `bindingsPerSegment` storage buffers and the kernel
 * has `shared` more (a scale, a count), at most `cap` (the uniform table grows with it).
 */
export function segmentsPerLaunch(bindingsPerSegment: number, shared = 0, cap = 16): number {
  const free = engine().limits.maxStorageBuffersPerShaderStage - shared;
  return Math.max(1, Math.min(cap, Math.floor(free / bindingsPerSegment)));
}

/** Splits `items` into launches of at most `per`. */
export function chunks<T>(items: readonly T[], per: number): T[][] {
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += per) out.push(items.slice(at, at + per));
  return out;
}

/** The uniforms the segment table adds for `segments` slots: n<k> (elements) and wgEnd<k> (prefix of workgroup counts). */
export function segmentUniforms(segments: number): [string, ScalarType][] {
  const out: [string, ScalarType][] = [];
  for (let k = 0; k < segments; k++) out.push([`n${k}`, 'u32'], [`wgEnd${k}`, 'u32']);
  return out;
}

/**
 * The entry point: workgroup w belongs to the first segment k with w < wgEnd<k>; `body(k)` runs
 * with `i` = the element index inside segment k (already checked against n<k>). Workgroups past
 * the last segment (grid folding into y) return.
 */
export function segmentMain(segments: number, wg: number, body: (k: number) => string): string {
  const cases: string[] = [];
  for (let k = 0; k < segments; k++) {
    const first = k === 0 ? '0u' : `u.wgEnd${k - 1}`;
    cases.push(`  if (w < u.wgEnd${k}) {
    let i = (w - ${first}) * ${wg}u + lid.x;
    if (i < u.n${k}) {
${body(k)}
    }
    return;
  }`);
  }
  return `
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
${cases.join('\n')}
}`;
}

/** Fills n<k>/wgEnd<k> for segments of the given element counts; returns the total workgroup count. */
export function fillSegmentTable(sizes: readonly number[], wg: number, into: UniformValues): number {
  let end = 0;
  sizes.forEach((n, k) => {
    end += Math.ceil(n / wg);
    into[`n${k}`] = n;
    into[`wgEnd${k}`] = end;
  });
  return end;
}
